#!/bin/sh
# bench/lingua.sh - end-to-end time and peak memory of lingua-compress
# --rate 0.33 against the reference, PyPI llmlingua 0.2.2's
# PromptCompressor(model_name=DIR, device_map="cpu", use_llmlingua2=True)
# .compress_prompt(prompt, rate=0.33), on the same seeded random weights, CPU,
# one after the other in the same run.
#
#   PYTHON=/root/venv-torch/bin/python sh bench/lingua.sh
#
# Shapes (models written by bench/lingua_bench.py into a temporary folder,
# removed at the end):
#   bert-base   BertForTokenClassification 768/12/12/3072, 512 positions, the
#               WordPiece tokenizer $BERT_TOKENIZER (default bert-base-uncased,
#               bundled in testdata/tokenizers: mBERT's own file is not
#               available offline), vocab = tokenizer + 100 (~110 M parameters);
#   xlmr-large  XLMRobertaForTokenClassification 1024/24/16/4096, 514
#               positions, the SentencePiece Unigram tokenizer $XLMR_TOKENIZER
#               (default t5-small's) as a stand-in for XLM-R's 250k-piece one,
#               so the embedding table is smaller than the real model's.
# Prompts: about LENGTHS cl100k tokens of $CORPUS (whole lines; default the
# bundled English sample, the texts of testdata/golden/tiktoken/stress.jsonl;
# the published figures used a Wikipedia dump sample), one record;
# then MANY (NxT, default 200x120) records of up to T tokens each (one
# paragraph each), which the reference compresses one after the other and
# lingua-compress in shared forward passes.
# Times are whole-process wall times (start-up, model load, tokenisation,
# forward, selection, output), measured with /usr/bin/time -v, which also
# gives the peak RSS.  One JSON line per (shape, length): both times, the
# speedup (reference / lmkit), both peak RSS and their ratio, the reference's
# own split into load and compress time, the counts (summed over records),
# the first record's ratio string of each side and whether every compressed
# prompt is identical.  On a shared
# machine figures vary from run to run.
#
# Environment: BUILD (default build), PYTHON (needs torch, transformers<5,
# llmlingua 0.2.2, tiktoken; without them lmkit's figures only), SHAPES
# (default "bert-base xlmr-large"), LENGTHS (default "500 2000 10000"), MANY
# (default 200x120; empty: no many-record row),
# XLMR_LENGTHS (default "500 2000": 10k tokens of XLM-R-large take several
# minutes per side on 2 cores), RATE (0.33), CORPUS, BERT_TOKENIZER,
# XLMR_TOKENIZER, LMKIT_TIKTOKEN (cl100k_base file; default the one make
# puts in $BUILD/share/lmkit).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
SHAPES=${SHAPES:-bert-base xlmr-large}
LENGTHS=${LENGTHS:-500 2000 10000}
XLMR_LENGTHS=${XLMR_LENGTHS:-500 2000}
MANY=${MANY-200x120}
RATE=${RATE:-0.33}
CORPUS=${CORPUS:-}
BERT_TOKENIZER=${BERT_TOKENIZER:-$BUILD/testdata/tokenizers/bert-base-uncased/tokenizer.json}
XLMR_TOKENIZER=${XLMR_TOKENIZER:-$BUILD/testdata/tokenizers/t5-small/tokenizer.json}
LMKIT_TIKTOKEN=${LMKIT_TIKTOKEN:-$BUILD/share/lmkit/cl100k_base.tiktoken}
export LMKIT_TIKTOKEN

bin=$BUILD/bin/lingua-compress
[ -x "$bin" ] || { echo "lingua.sh: $bin not found; run 'make' first" >&2; exit 2; }
for f in "$LMKIT_TIKTOKEN" "$BERT_TOKENIZER" "$XLMR_TOKENIZER"; do
    [ -r "$f" ] || { echo "lingua.sh: cannot read '$f' (run 'make fixtures', or set LMKIT_TIKTOKEN, BERT_TOKENIZER, XLMR_TOKENIZER)" >&2; exit 2; }
done
[ -z "$CORPUS" ] || [ -r "$CORPUS" ] || { echo "lingua.sh: cannot read CORPUS '$CORPUS'" >&2; exit 2; }
if ! "$PYTHON" -c 'import torch, transformers, tiktoken' 2>/dev/null; then
    echo "lingua.sh: $PYTHON lacks torch/transformers/tiktoken, which write the models" >&2
    exit 2
fi
have_ref=1
"$PYTHON" -c 'import llmlingua' 2>/dev/null || {
    have_ref=0
    echo "lingua.sh: $PYTHON lacks llmlingua; printing lmkit figures only" >&2
}
if ! /usr/bin/time -v true >/dev/null 2>&1; then
    echo "lingua.sh: needs GNU /usr/bin/time -v" >&2
    exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lmkit-lingua-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -z "$CORPUS" ]; then
    CORPUS=$tmp/corpus.txt
    "$PYTHON" -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    sys.stdout.write(json.loads(l)["text"] + "\n")' testdata/golden/tiktoken/stress.jsonl >"$CORPUS"
fi

# measure OUT CMD...: stdout to OUT; sets secs and rss (MB)
measure() {
    o=$1
    shift
    /usr/bin/time -v -o "$tmp/time" "$@" >"$o" 2>"$tmp/err" || {
        cat "$tmp/err" >&2
        echo "lingua.sh: '$*' failed" >&2
        exit 1
    }
    rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$tmp/time")
    rss=$(awk -v k="$rss" 'BEGIN { printf "%.0f", k / 1024 }')
    secs=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$tmp/time" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
}
# jsum FILE KEY: the sum of a numeric member over the JSON lines of FILE
jsum() {
    "$PYTHON" -c 'import json, sys
print(sum(json.loads(ln)[sys.argv[2]] for ln in open(sys.argv[1], encoding="utf-8")))' "$1" "$2"
}
# jratio FILE: the first record's ratio (a number) as the reference prints it
jratio() {
    "$PYTHON" -c 'import json, sys
print(json.dumps(format(json.loads(open(sys.argv[1], encoding="utf-8").readline())["ratio"], ".1f") + "x"))' "$1"
}
# jget FILE KEY: a member of the first JSON line of FILE, as JSON
jget() {
    "$PYTHON" -c 'import json, sys
r = json.loads(open(sys.argv[1], encoding="utf-8").readline())
print(json.dumps(r.get(sys.argv[2])))' "$1" "$2"
}

for shape in $SHAPES; do
    case $shape in
        bert-base) model=$tmp/bert-base-multilingual-cased-bench tok=$BERT_TOKENIZER lengths=$LENGTHS ;;
        xlmr-large) model=$tmp/xlm-roberta-large-bench tok=$XLMR_TOKENIZER lengths=$XLMR_LENGTHS ;;
        *) echo "lingua.sh: unknown shape '$shape' (bert-base, xlmr-large)" >&2; exit 2 ;;
    esac
    t0=$(date +%s)
    "$PYTHON" bench/lingua_bench.py gen "$model" "$shape" "$tok"
    echo "# $shape: random model written in $(( $(date +%s) - t0 )) s" >&2
    for n in $lengths many; do
        if [ "$n" = many ]; then
            [ -n "$MANY" ] || continue
            "$PYTHON" bench/lingua_bench.py prompts "$tmp/in.jsonl" "${MANY%x*}" "${MANY#*x}" "$CORPUS"
        else
            "$PYTHON" bench/lingua_bench.py prompt "$tmp/in.jsonl" "$n" "$CORPUS"
        fi
        measure "$tmp/ours.jsonl" "$bin" -m "$model" --count-encoding "$LMKIT_TIKTOKEN" \
            --rate "$RATE" -q "$tmp/in.jsonl"
        ours_s=$secs ours_rss=$rss
        ref_s=null ref_rss=null speedup=null mem_ratio=null ref_split=null same=null
        ref_ratio=null ref_ct=null
        if [ $have_ref = 1 ]; then
            measure "$tmp/split" "$PYTHON" bench/lingua_bench.py ref "$model" "$tmp/in.jsonl" "$RATE" \
                "$tmp/ref.jsonl"
            ref_s=$secs ref_rss=$rss ref_split=$(tail -1 "$tmp/split")
            speedup=$(awk -v a="$ref_s" -v b="$ours_s" 'BEGIN { printf "%.2f", a / b }')
            mem_ratio=$(awk -v a="$ours_rss" -v b="$ref_rss" 'BEGIN { printf "%.2f", a / b }')
            ref_ratio=$(jget "$tmp/ref.jsonl" ratio) ref_ct=$(jsum "$tmp/ref.jsonl" compressed_tokens)
            same=$("$PYTHON" -c 'import json, sys
a, b = ([json.loads(ln)["compressed_prompt"] for ln in open(f, encoding="utf-8")] for f in sys.argv[1:])
print("true" if a == b else "false")' "$tmp/ours.jsonl" "$tmp/ref.jsonl")
        fi
        printf '{"bench":"lingua","shape":"%s","rate":%s,"records":%s,"origin_tokens":%s,"threads":%s,"lmkit_s":%s,"ref_s":%s,"speedup":%s,"lmkit_rss_mb":%s,"ref_rss_mb":%s,"rss_ratio":%s,"ref_split":%s,"lmkit_compressed_tokens":%s,"ref_compressed_tokens":%s,"lmkit_ratio":%s,"ref_ratio":%s,"same_output":%s}\n' \
            "$shape" "$RATE" "$(wc -l <"$tmp/in.jsonl" | tr -d ' ')" "$(jsum "$tmp/ours.jsonl" origin_tokens)" \
            "$(nproc)" "$ours_s" "$ref_s" "$speedup" "$ours_rss" "$ref_rss" "$mem_ratio" "$ref_split" \
            "$(jsum "$tmp/ours.jsonl" compressed_tokens)" "$ref_ct" "$(jratio "$tmp/ours.jsonl")" \
            "$ref_ratio" "$same"
    done
    rm -rf "$model"
done
