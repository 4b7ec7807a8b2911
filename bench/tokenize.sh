#!/bin/sh
# bench/tokenize.sh - cl100k_base token counting throughput: tokenize against
# the tiktoken Python package on the same JSON Lines file, one JSON line per
# run and one per ratio.
#
#   PYTHON=/path/to/venv/bin/python sh bench/tokenize.sh
#
# The input (SIZE_MB, default 100 MB) is built deterministically from the
# text files CORPUS names (default: the bundled English sample, the texts of
# testdata/golden/tiktoken/stress.jsonl; the published figures used
# WikiText-2 valid, Tiny Shakespeare and WikiText-2 test): records of 1 to
# 40 consecutive source lines, {"id":N,"text":"..."}, cycling through the
# corpora until the size is reached.  MB/s counts the UTF-8 bytes of the
# texts (1 MB = 1e6 bytes) for every tool.
#
# Runs: tokenize --threads 1 and --threads THREADS (default: the processor
# count), which parse the JSON and write every annotated record; tiktoken's
# encode_ordinary in a Python loop, and encode_ordinary_batch with THREADS
# threads, timing only the encoding (the JSON parsing is done beforehand and
# not counted, which favours tiktoken).  Token totals must agree.  Peak RSS
# comes from /usr/bin/time -v when it exists.  PYTHON must have tiktoken;
# without it only lmkit's figures are printed.
set -eu
cd "$(dirname "$0")/.."
BIN=${BUILD:-build}/bin
PYTHON=${PYTHON:-python3}
SIZE_MB=${SIZE_MB:-100}
THREADS=${THREADS:-$(nproc 2>/dev/null || echo 2)}
# the rank file make puts in the build tree (LMKIT_TIKTOKEN overrides it)
RANKS=${LMKIT_TIKTOKEN:-${BUILD:-build}/share/lmkit/cl100k_base.tiktoken}
CORPUS=${CORPUS:-}
[ -f "$RANKS" ] || { echo "bench/tokenize.sh: $RANKS not found; run 'make' first or set LMKIT_TIKTOKEN" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$CORPUS" ]; then
    # shellcheck disable=SC2086
    cat $CORPUS >"$work/src.txt" || { echo "bench/tokenize.sh: cannot read CORPUS ($CORPUS)" >&2; exit 2; }
else
    "$PYTHON" -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    sys.stdout.write(json.loads(l)["text"] + "\n")' testdata/golden/tiktoken/stress.jsonl >"$work/src.txt"
fi
awk -v limit="$((SIZE_MB * 1000000))" '
function esc(s) {
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, "\\t", s); gsub(/\r/, "\\r", s)
    return s
}
{ L[n++] = $0 }
END {
    s = 2024; id = 0; i = 0; total = 0
    while (total < limit) {
        s = (s * 1103515245 + 12345) % 2147483648
        k = 1 + int(s / 2147483648 * 40)
        t = ""
        for (j = 0; j < k; j++) { t = t L[i] "\n"; i = (i + 1) % n }
        line = "{\"id\":" id++ ",\"text\":\"" esc(t) "\"}"
        gsub(/\n/, "\\n", line)
        print line
        total += length(line) + 1
    }
}' "$work/src.txt" >"$work/in.jsonl"

textbytes=$("$PYTHON" -c '
import json, sys
print(sum(len(json.loads(l)["text"].encode()) for l in open(sys.argv[1], encoding="utf-8")))' "$work/in.jsonl" 2>/dev/null ||
    wc -c <"$work/in.jsonl")
records=$(wc -l <"$work/in.jsonl")

now() { date +%s.%N; }
TIMEV=
[ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1 && TIMEV=1

run_lmkit() { # threads
    t0=$(now)
    if [ -n "$TIMEV" ]; then
        /usr/bin/time -v "$BIN/tokenize" -t "$RANKS" --threads "$1" "$work/in.jsonl" 2>"$work/time.$1" >"$work/out.$1"
    else
        "$BIN/tokenize" -t "$RANKS" --threads "$1" "$work/in.jsonl" >"$work/out.$1"
    fi
    t1=$(now)
    tokens=$(grep -o '"n_tokens":[0-9]*' "$work/out.$1" | awk -F: '{ s += $2 } END { print s }')
    rss=null
    [ -n "$TIMEV" ] && rss=$(awk '/Maximum resident/ { printf "%.1f", $NF / 1024 }' "$work/time.$1")
    secs=$(echo "$t1 $t0" | awk '{ printf "%.4f", $1 - $2 }')
    echo "$secs $tokens $rss"
}

set -- $(run_lmkit 1)
l1_s=$1 l1_tok=$2 l1_rss=$3
set -- $(run_lmkit "$THREADS")
ln_s=$1 ln_tok=$2 ln_rss=$3
mbps() { echo "$1 $2" | awk '{ printf "%.2f", $1 / 1e6 / $2 }'; }
echo "{\"bench\":\"tokenize\",\"tool\":\"lmkit tokenize\",\"encoding\":\"cl100k_base\",\"threads\":1,\"records\":$records,\"text_mb\":$(echo "$textbytes" | awk '{ printf "%.2f", $1 / 1e6 }'),\"seconds\":$l1_s,\"mb_per_s\":$(mbps "$textbytes" "$l1_s"),\"tokens\":$l1_tok,\"peak_rss_mb\":$l1_rss}"
echo "{\"bench\":\"tokenize\",\"tool\":\"lmkit tokenize\",\"encoding\":\"cl100k_base\",\"threads\":$THREADS,\"records\":$records,\"seconds\":$ln_s,\"mb_per_s\":$(mbps "$textbytes" "$ln_s"),\"tokens\":$ln_tok,\"peak_rss_mb\":$ln_rss}"

cat >"$work/ref.py" <<'PY'
import json, resource, sys, time
import tiktoken
from tiktoken.load import load_tiktoken_bpe
path, ranks, threads, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
pat = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
enc = tiktoken.Encoding("cl100k_base", pat_str=pat, mergeable_ranks=load_tiktoken_bpe(ranks),
                        special_tokens={"<|endoftext|>": 100257, "<|fim_prefix|>": 100258,
                                        "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260,
                                        "<|endofprompt|>": 100276})
texts = [json.loads(l)["text"] for l in open(path, encoding="utf-8")]
t = time.perf_counter()
if mode == "loop":
    n = 0
    for s in texts:
        n += len(enc.encode_ordinary(s))
else:
    n = sum(len(x) for x in enc.encode_ordinary_batch(texts, num_threads=threads))
secs = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("%.4f %d %.1f" % (secs, n, rss))
PY
if ! "$PYTHON" -c 'import tiktoken' 2>/dev/null; then
    echo "{\"bench\":\"tokenize\",\"tool\":\"tiktoken\",\"note\":\"PYTHON=$PYTHON has no tiktoken\"}"
    exit 0
fi
ver=$("$PYTHON" -c 'import tiktoken; print(tiktoken.__version__)')
set -- $("$PYTHON" "$work/ref.py" "$work/in.jsonl" "$RANKS" 1 loop)
p1_s=$1 p1_tok=$2 p1_rss=$3
set -- $("$PYTHON" "$work/ref.py" "$work/in.jsonl" "$RANKS" "$THREADS" batch)
pn_s=$1 pn_tok=$2 pn_rss=$3
echo "{\"bench\":\"tokenize\",\"tool\":\"tiktoken $ver encode_ordinary loop\",\"threads\":1,\"seconds\":$p1_s,\"mb_per_s\":$(mbps "$textbytes" "$p1_s"),\"tokens\":$p1_tok,\"peak_rss_mb\":$p1_rss}"
echo "{\"bench\":\"tokenize\",\"tool\":\"tiktoken $ver encode_ordinary_batch\",\"threads\":$THREADS,\"seconds\":$pn_s,\"mb_per_s\":$(mbps "$textbytes" "$pn_s"),\"tokens\":$pn_tok,\"peak_rss_mb\":$pn_rss}"
same=false
[ "$l1_tok" = "$p1_tok" ] && [ "$ln_tok" = "$pn_tok" ] && [ "$l1_tok" = "$ln_tok" ] && same=true
echo "{\"bench\":\"tokenize\",\"ratio\":\"lmkit/tiktoken\",\"threads\":1,\"speedup\":$(echo "$p1_s $l1_s" | awk '{ printf "%.2f", $1 / $2 }'),\"same_tokens\":$same}"
echo "{\"bench\":\"tokenize\",\"ratio\":\"lmkit/tiktoken\",\"threads\":$THREADS,\"speedup\":$(echo "$pn_s $ln_s" | awk '{ printf "%.2f", $1 / $2 }'),\"same_tokens\":$same}"
