#!/bin/sh
# bench/taco.sh - step time and peak memory of taco-train sup (LLMLingua-2's
# supervised training, CPU: OpenBLAS + OpenMP) against PyTorch on the same
# model, weights and batch, one after the other in the same run.
#
#   PYTHON=/root/venv-torch/bin/python sh bench/taco.sh
#
# The model is BERT-base shaped (BertForTokenClassification, hidden 768, 12
# layers, 12 heads, FFN 3072, 512 positions, two labels) around the WordPiece
# tokenizer $TOKENIZER (default bert-base-uncased, bundled in
# testdata/tokenizers), so its vocabulary is 30522 + 100 rows (~110 M
# parameters); taco-train init writes it into a temporary folder (removed at
# the end) and bench/taco_ref.py loads that folder with
# AutoModelForTokenClassification, so both sides start from the same float32
# weights.  The data are one word-labelled record repeated: SEQ - 2 words that
# are one token each, so every window is exactly SEQ tokens and every batch
# BATCH x SEQ with no padding (checked with the step records' "tokens"), and
# every step of both sides sees the same batch.  Both sides train without
# dropout (taco-train --no-dropout, torch eval() with autograd on), all
# parameters, AdamW with lr 1e-5 and no weight decay (torch: fused=True, as
# transformers' Trainer uses it; see bench/taco_ref.py), gradients clipped to a
# norm of 10 (taco-train's defaults); WARMUP untimed steps, then STEPS timed
# ones.  As both compute the same steps, their losses agree to float32
# rounding ("loss_max_rel_diff").
#
# A step's time is its whole wall time: for torch from zero_grad to the end of
# opt.step() (taco_ref.py's own timer); for lmkit the time between two
# consecutive step records on its standard output (so its zero_grad and batch
# filling count too), with the command's own forward, backward and optimiser
# timers beside it.  Peak memory is the Maximum resident set size of
# /usr/bin/time -v, of the command alone and of python alone; python's figure
# includes the interpreter with torch and transformers imported, whose
# resident size after the imports is reported as "rss_import_mb" (and
# "memory_net" compares against torch's peak less it).
# Prints one JSON line per side and a summary with the ratios: speed =
# torch step / lmkit step, medians (>= 1: lmkit is faster; "speed_min": of
# the fastest steps, less sensitive to other load on a shared machine, as the
# two sides run one after the other), memory = lmkit peak RSS /
# torch peak RSS (<= 1: lmkit uses less).  About 3 minutes per side on 2
# cores; timings on a shared machine vary from run to run.
#
# Environment: BUILD (default build), PYTHON (needs torch, transformers<5;
# without them only lmkit's figures are printed), THREADS (default: nproc),
# BATCH (4), SEQ (512), WARMUP (2), STEPS (5), TOKENIZER, DEVICE (taco-train's
# --device: cpu by default, so that the comparison with torch on the CPU is
# like for like; cuda times the GPU path, with PYTHON=false for lmkit alone).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-$(nproc)}
BATCH=${BATCH:-4}
SEQ=${SEQ:-512}
WARMUP=${WARMUP:-2}
STEPS=${STEPS:-5}
DEVICE=${DEVICE:-cpu}
TOKENIZER=${TOKENIZER:-$BUILD/testdata/tokenizers/bert-base-uncased/tokenizer.json}
LR=1e-5
MAX_NORM=10

bin=$BUILD/bin/taco-train
[ -x "$bin" ] || { echo "taco.sh: $bin not found; run 'make' first" >&2; exit 2; }
[ -r "$TOKENIZER" ] || { echo "taco.sh: cannot read '$TOKENIZER' (run 'make fixtures', or set TOKENIZER)" >&2; exit 2; }
[ "$WARMUP" -ge 1 ] || { echo "taco.sh: WARMUP must be at least 1 (a step's time is measured from the previous step's record)" >&2; exit 2; }
if ! /usr/bin/time -v true >/dev/null 2>&1; then
    echo "taco.sh: needs GNU /usr/bin/time -v" >&2
    exit 2
fi
have_ref=1
if ! "$PYTHON" -c 'import torch, transformers' 2>/dev/null; then
    have_ref=0
    echo "taco.sh: $PYTHON lacks torch/transformers; printing lmkit figures only" >&2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lmkit-taco-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

field() { # record, key -> raw JSON value
    printf '%s\n' "$1" | sed -n "s/.*\"$2\": *\\([^,}]*\\).*/\\1/p" | tr -d '"'
}
# median: of the numbers on standard input
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "null";
        else if (NR % 2) printf "%.4f\n", v[(NR + 1) / 2];
        else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mb() { # time -v output -> peak RSS in MB
    sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$1" |
        awk '{ printf "%.0f", $1 / 1024 }'
}
wall() { # time -v output -> elapsed seconds
    sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$1" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }'
}

# the model
"$bin" init --family bert --layers 12 --hidden 768 --heads 12 --intermediate 3072 \
    --max-position 512 --tokenizer "$TOKENIZER" --seed 1 --out "$tmp/model" >/dev/null

# the data: SEQ - 2 common words (one bert-base-uncased token each) drawn with
# an LCG, labels likewise, one record repeated once per window
nrec=$(( (WARMUP + STEPS) * BATCH ))
awk -v n="$((SEQ - 2))" -v r="$nrec" 'BEGIN {
    nw = split("the of and in to was he is for on as with by it at from his an were are " \
        "which this also be had first one their its new after but who not they have her " \
        "she two been other when there all during into school time may years more most " \
        "only over city some world would where later up such used many can state about " \
        "national out known university united then made", w, " ")
    x = 12345; ws = ""; ls = ""
    for (i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) % 2147483648
        ws = ws (i ? "," : "") "\"" w[1 + int(x / 65536) % nw] "\""
        ls = ls (i ? "," : "") (int(x / 8192) % 3 == 0)
    }
    for (k = 0; k < r; k++)
        printf "{\"words\":[%s],\"labels\":[%s]}\n", ws, ls
}' >"$tmp/data.jsonl"

# lmkit: the command alone under time -v; each step record stamped as it
# arrives
{
    rc=0
    /usr/bin/time -v -o "$tmp/time.lmkit" "$bin" sup --model "$tmp/model" --data "$tmp/data.jsonl" \
        --eval-fraction 0 --epochs 1 --batch-size "$BATCH" --max-len "$SEQ" --no-dropout \
        --lr "$LR" --max-grad-norm "$MAX_NORM" --threads "$THREADS" --seed 1 --device "$DEVICE" \
        --out "$tmp/trained" 2>"$tmp/err.lmkit" || rc=$?
    echo "$rc" >"$tmp/rc.lmkit"
} | while IFS= read -r rec; do
    printf '%s %s\n' "$(date +%s.%N)" "$rec"
done >"$tmp/lmkit.out"
if [ "$(cat "$tmp/rc.lmkit")" != 0 ]; then
    cat "$tmp/err.lmkit" >&2
    echo "taco.sh: taco-train sup failed" >&2
    exit 1
fi
rm -rf "$tmp/trained"
grep ' {"step":' "$tmp/lmkit.out" >"$tmp/steps.lmkit" || true
nsteps=$(wc -l <"$tmp/steps.lmkit")
[ "$nsteps" -eq $((WARMUP + STEPS)) ] || {
    echo "taco.sh: taco-train ran $nsteps steps, not $((WARMUP + STEPS))" >&2
    exit 1
}
while read -r _ rec; do
    tok=$(field "$rec" tokens)
    [ "$tok" -eq $((BATCH * (SEQ - 2))) ] || {
        echo "taco.sh: a step trained $tok tokens, not $((BATCH * (SEQ - 2))) ($BATCH x $SEQ less the ends)" >&2
        exit 1
    }
done <"$tmp/steps.lmkit"
# timed steps: wall time since the previous record, and the command's timers
awk -v w="$WARMUP" 'NR > w { print $1 - prev } { prev = $1 }' "$tmp/steps.lmkit" >"$tmp/l.step"
tail -n "$STEPS" "$tmp/steps.lmkit" | cut -d' ' -f2- >"$tmp/l.timed"
for k in t_forward_s t_backward_s t_optim_s; do
    while IFS= read -r rec; do field "$rec" "$k"; done <"$tmp/l.timed" | median >"$tmp/l.$k"
done
while IFS= read -r rec; do
    echo "$(field "$rec" t_forward_s) $(field "$rec" t_backward_s) $(field "$rec" t_optim_s)"
done <"$tmp/l.timed" | awk '{ print $1 + $2 + $3 }' | median >"$tmp/l.compute"
l_step=$(median <"$tmp/l.step")
l_min=$(sort -g "$tmp/l.step" | head -1)
l_rss=$(mb "$tmp/time.lmkit")
cut -d' ' -f2- "$tmp/steps.lmkit" | while IFS= read -r rec; do field "$rec" loss; done >"$tmp/l.loss"
tps() { awk -v s="$1" -v n="$((BATCH * SEQ))" 'BEGIN { printf "%.1f", n / s }'; }
printf '{"bench":"taco","impl":"lmkit","device":"%s","model":"bert-base","params":null,"batch":%s,"seq":%s,"threads":%s,"dropout":false,"warmup_steps":%s,"steps":%s,"step_s_median":%s,"step_s_min":%s,"tokens_per_s":%s,"t_forward_s":%s,"t_backward_s":%s,"t_optim_s":%s,"compute_s_median":%s,"loss_first":%s,"loss_last":%s,"peak_rss_mb":%s,"wall_s":%s}\n' \
    "$DEVICE" "$BATCH" "$SEQ" "$THREADS" "$WARMUP" "$STEPS" "$l_step" "$l_min" "$(tps "$l_step")" \
    "$(cat "$tmp/l.t_forward_s")" "$(cat "$tmp/l.t_backward_s")" "$(cat "$tmp/l.t_optim_s")" \
    "$(cat "$tmp/l.compute")" "$(head -1 "$tmp/l.loss")" "$(tail -1 "$tmp/l.loss")" "$l_rss" \
    "$(wall "$tmp/time.lmkit")" >"$tmp/l.json"

if [ $have_ref = 0 ]; then
    cat "$tmp/l.json"
    exit 0
fi

# torch: python alone under time -v
/usr/bin/time -v -o "$tmp/time.torch" "$PYTHON" bench/taco_ref.py "$tmp/model" "$tmp/data.jsonl" \
    "$BATCH" "$SEQ" "$WARMUP" "$STEPS" "$THREADS" "$LR" "$MAX_NORM" >"$tmp/torch.out" 2>"$tmp/err.torch" || {
    cat "$tmp/err.torch" >&2
    echo "taco.sh: bench/taco_ref.py failed" >&2
    exit 1
}
grep '"timed": true' "$tmp/torch.out" >"$tmp/t.timed"
last=$(tail -1 "$tmp/torch.out")
for k in step_s t_forward_s t_backward_s t_optim_s; do
    while IFS= read -r rec; do field "$rec" "$k"; done <"$tmp/t.timed" | median >"$tmp/t.$k"
done
t_step=$(cat "$tmp/t.step_s")
t_min=$(while IFS= read -r rec; do field "$rec" step_s; done <"$tmp/t.timed" | sort -g | head -1)
t_rss=$(mb "$tmp/time.torch")
grep '"step":' "$tmp/torch.out" | while IFS= read -r rec; do field "$rec" loss; done >"$tmp/t.loss"
params=$(field "$last" params)
sed "s/\"params\":null/\"params\":$params/" "$tmp/l.json"
printf '{"bench":"taco","impl":"torch","model":"bert-base","params":%s,"batch":%s,"seq":%s,"threads":%s,"dropout":false,"warmup_steps":%s,"steps":%s,"step_s_median":%s,"step_s_min":%s,"tokens_per_s":%s,"t_forward_s":%s,"t_backward_s":%s,"t_optim_s":%s,"loss_first":%s,"loss_last":%s,"peak_rss_mb":%s,"rss_import_mb":%s,"rss_load_mb":%s,"wall_s":%s,"ref":"torch %s, transformers %s, %s"}\n' \
    "$params" "$BATCH" "$SEQ" "$(field "$last" threads)" "$WARMUP" "$STEPS" "$t_step" "$t_min" \
    "$(tps "$t_step")" "$(cat "$tmp/t.t_forward_s")" "$(cat "$tmp/t.t_backward_s")" \
    "$(cat "$tmp/t.t_optim_s")" "$(head -1 "$tmp/t.loss")" "$(tail -1 "$tmp/t.loss")" "$t_rss" \
    "$(field "$last" rss_import_mb)" "$(field "$last" rss_load_mb)" "$(wall "$tmp/time.torch")" \
    "$(field "$last" torch)" "$(field "$last" transformers)" "$(field "$last" attn)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
lossdiff=$(paste "$tmp/l.loss" "$tmp/t.loss" | awk '{ d = ($1 - $2) / $2; if (d < 0) d = -d; if (d > m) m = d }
    END { printf "%.2g", m }')
speed=$(ratio "$t_step" "$l_step")
memory=$(ratio "$l_rss" "$t_rss")
met=$(awk -v s="$speed" -v m="$memory" 'BEGIN { print (s >= 1 && m <= 1) ? "true" : "false" }')
printf '{"bench":"taco","summary":true,"batch":%s,"seq":%s,"threads":%s,"speed":%s,"speed_min":%s,"memory":%s,"memory_net":%s,"lmkit_step_s":%s,"torch_step_s":%s,"lmkit_rss_mb":%s,"torch_rss_mb":%s,"loss_max_rel_diff":%s,"goal_met":%s,"note":"speed = torch step / lmkit step (median of %s steps after %s warm-up; speed_min: of the fastest steps), memory = lmkit peak RSS / torch peak RSS (memory_net: against torch less its RSS after import); one run on a possibly shared machine"}\n' \
    "$BATCH" "$SEQ" "$THREADS" "$speed" "$(ratio "$t_min" "$l_min")" "$memory" \
    "$(ratio "$l_rss" "$((t_rss - $(field "$last" rss_import_mb)))")" "$l_step" "$t_step" \
    "$l_rss" "$t_rss" "$lossdiff" "$met" "$STEPS" "$WARMUP"
