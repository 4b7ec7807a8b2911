#!/bin/sh
# gpu-check.sh - the prepared GPU check of leanattn-bench (make gpu-check).
#
# On a machine with an NVIDIA GPU: builds with CUDA, runs the correctness
# suite on the GPU against the CPU fp64 reference (also under
# compute-sanitizer memcheck when it is installed), then the paper, waves and
# ragged matrices, writing everything as JSON Lines into ${OUT:-gpu-results}/:
#   build.log         the build
#   check.jsonl       --device cuda --check summary (failures in check.err)
#   sanitizer.log     compute-sanitizer's report of the same suite
#   paper.jsonl waves.jsonl ragged.jsonl (+ .err, + .svg)   the benchmarks
#   summary.jsonl     one record per step: name, status, seconds
# and for the encoder (lib/nn/encoder_cuda.h, kernels/encoder_cuda.cu):
#   encoder-test.tap  tests/unit/test_encoder_cuda: GPU vs CPU on the tiny
#                     models and golden batches, fp32 / bf16 / fp16
#   encoder.jsonl (+ .err)  bench/encoder.sh DEVICE=cuda: BERT-base and
#                     XLM-R-large shaped random models, seq 512, batch 1 and 8,
#                     tokens/s with fp32 and bf16 weights
#   encoder-sanitizer.log  compute-sanitizer memcheck of the encoder test
#   lingua.jsonl      lingua-compress --device cuda vs cpu on the hostile
#                     text set with both tiny models: records that differ,
#                     wall times
#   lingua-bench.jsonl  bench/lingua-device.sh: lingua-compress end to end on
#                     the CPU and the GPU, random BERT-base / XLM-R-large
#                     shaped models, 2k and 10k tokens, 200 short records
#   lingua-golden.txt lingua-compress --device cuda against llmlingua
#                     0.2.2's results on the 90 golden cases (with the
#                     cl100k_base make puts in $BUILD/share/lmkit)
#   train-test.tap    tests/unit/test_train_cuda: the training forward and
#                     backward on the GPU against the CPU, tiny models
#   train-sanitizer.log  compute-sanitizer memcheck of the same
#   train-bench.jsonl bench/taco.sh DEVICE=cuda: taco-train sup's step time
#                     on the GPU, BERT-base shape, 4 x 512 tokens
#   memory.tap        tests/cli/memory.bats on the GPU machine: with a GPU
#                     present, --device cpu still loads no CUDA library, a
#                     missing or broken liblmkit-cuda.so is named, and the
#                     ulimit -v cases on its many cores (needs bats)
# Each step has a time limit so that the whole script stays under 8 minutes
# on an H200.  The encoder steps come last and run in the time the others
# left (a deadline of 470 s from the start): a step with under 15 s left is
# recorded as skipped (status 125) instead of run.  Without a GPU it says so and exits 0.  The exit status is 1
# when any step failed.
set -u
cd "$(dirname "$0")/.."
start=$(date +%s)
DEADLINE=470
BUILD=${BUILD:-build}
OUT=${OUT:-gpu-results}
case $BUILD in /*) BIN=$BUILD/bin ;; *) BIN=$PWD/$BUILD/bin ;; esac

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    echo "gpu-check: no GPU found (nvidia-smi -L lists none); nothing to do"
    exit 0
fi
mkdir -p "$OUT"
: >"$OUT/summary.jsonl"
nvidia-smi -L | sed 's/^/gpu-check: /'
fails=0

# step NAME LIMIT_S CMD... : run with a time limit, record status and time
step() {
    name=$1 limit=$2
    shift 2
    echo "gpu-check: $name ..."
    t0=$(date +%s)
    timeout "$limit" "$@"
    rc=$?
    t1=$(date +%s)
    ok=true
    [ "$rc" -eq 0 ] || { ok=false; fails=$((fails + 1)); }
    printf '{"type":"step","name":"%s","status":%d,"ok":%s,"seconds":%d,"limit_s":%d}\n' \
        "$name" "$rc" "$ok" "$((t1 - t0))" "$limit" | tee -a "$OUT/summary.jsonl"
}

step build 140 sh -c "make -j\"\$(nproc)\" CUDA=1 BUILD='$BUILD' >'$OUT/build.log' 2>&1"
if [ ! -x "$BIN/leanattn-bench" ]; then
    echo "gpu-check: the build failed; see $OUT/build.log"
    tail -20 "$OUT/build.log"
    exit 1
fi
LB="$BIN/leanattn-bench"

# the adversarial suite on the GPU against the CPU fp64 reference
step check 45 sh -c "'$LB' --device cuda --check >'$OUT/check.jsonl' 2>'$OUT/check.err'"
cat "$OUT/check.jsonl"
head -20 "$OUT/check.err"

# the same under compute-sanitizer (memory errors, races in the lean merge)
if command -v compute-sanitizer >/dev/null 2>&1; then
    step sanitizer 90 sh -c "compute-sanitizer --tool memcheck --error-exitcode 86 \
        '$LB' --device cuda --check >'$OUT/sanitizer.jsonl' 2>'$OUT/sanitizer.log'"
    step racecheck 30 sh -c "compute-sanitizer --tool racecheck --error-exitcode 86 sh -c \
        'echo \"{\\\"heads\\\":8,\\\"kv_heads\\\":2,\\\"head_dim\\\":128,\\\"ctx\\\":[3000,0,700]}\" |
         \"$LB\" --device cuda --runs 1 --warmup 0 --bandwidth 4000' \
        >'$OUT/racecheck.jsonl' 2>'$OUT/racecheck.log'"
else
    echo "gpu-check: compute-sanitizer not found; sanitizer steps skipped"
fi

# the benchmarks; K+V per cell bounded (2-4 GiB) so that the CPU fp64
# reference of every cell stays quick
for m in paper waves ragged; do
    # limits: 140+45+90+30+60+60+45 s = 7.8 min at worst
    case $m in paper) lim=60 kv=2 ;; waves) lim=60 kv=2 ;; ragged) lim=45 kv=4 ;; esac
    step "$m" "$lim" sh -c "'$LB' --device cuda --matrix $m --max-kv $kv --runs 10 \
        --svg '$OUT/$m.svg' >'$OUT/$m.jsonl' 2>'$OUT/$m.err'"
    echo "gpu-check: $m: $(wc -l <"$OUT/$m.jsonl") records, $(grep -c '"ok":false' "$OUT/$m.jsonl") not ok"
done

# the encoder: each step limited by what is left before the deadline
# capped NAME LIMIT_S CMD... : step with min(LIMIT_S, time left), or skipped
capped() {
    name=$1 lim=$2
    shift 2
    left=$((DEADLINE - ($(date +%s) - start)))
    [ "$left" -lt "$lim" ] && lim=$left
    if [ "$lim" -lt 15 ]; then
        echo "gpu-check: $name skipped: ${left}s left before the ${DEADLINE}s deadline"
        printf '{"type":"step","name":"%s","status":125,"ok":null,"skipped":true,"seconds":0,"limit_s":0}\n' \
            "$name" | tee -a "$OUT/summary.jsonl"
        return
    fi
    step "$name" "$lim" "$@"
}
capped encoder-build 60 sh -c "make -j\"\$(nproc)\" CUDA=1 BUILD='$BUILD' '$BUILD/tests/test_encoder_cuda' \
    >>'$OUT/build.log' 2>&1"
if [ -x "$BUILD/tests/test_encoder_cuda" ]; then
    capped encoder-test 40 sh -c "'$BUILD/tests/test_encoder_cuda' >'$OUT/encoder-test.tap' 2>&1"
    grep -E '^(not ok|# )|SKIP' "$OUT/encoder-test.tap" | head -40
    # bench: ~0.7 + 2.2 GB of random weights written, then 2 batches x 2 dtypes per shape
    capped encoder-bench 150 sh -c "DEVICE=cuda DTYPES='f32 bf16' BATCHES='1 8' SEQ=512 ITERS=5 \
        PYTHON=false BUILD='$BUILD' sh bench/encoder.sh >'$OUT/encoder.jsonl' 2>'$OUT/encoder.err'"
    cat "$OUT/encoder.jsonl"
    if command -v compute-sanitizer >/dev/null 2>&1; then
        capped encoder-sanitizer 60 sh -c "compute-sanitizer --tool memcheck --error-exitcode 86 \
            '$BUILD/tests/test_encoder_cuda' >'$OUT/encoder-sanitizer.log' 2>&1"
    fi
else
    echo "gpu-check: $BUILD/tests/test_encoder_cuda was not built; see $OUT/build.log"
fi

# training (lib/nn/train_cuda.h, kernels/train_cuda.cu): logits and every
# gradient of the tiny models on the GPU against the CPU (dropout off and
# on, accumulation, a scope, 10 AdamW steps), then taco-train sup's
# BERT-base 4 x 512 step on the GPU
capped train-build 60 sh -c "make -j\"\$(nproc)\" CUDA=1 BUILD='$BUILD' '$BUILD/tests/test_train_cuda' \
    >>'$OUT/build.log' 2>&1"
if [ -x "$BUILD/tests/test_train_cuda" ]; then
    capped train-test 40 sh -c "'$BUILD/tests/test_train_cuda' >'$OUT/train-test.tap' 2>&1"
    grep -E '^(not ok|# )|SKIP|GPU' "$OUT/train-test.tap" | head -40
    if command -v compute-sanitizer >/dev/null 2>&1; then
        capped train-sanitizer 60 sh -c "compute-sanitizer --tool memcheck --error-exitcode 86 \
            '$BUILD/tests/test_train_cuda' >'$OUT/train-sanitizer.log' 2>&1"
    fi
    capped train-bench 90 sh -c "DEVICE=cuda PYTHON=false WARMUP=1 STEPS=3 BUILD='$BUILD' sh bench/taco.sh \
        >'$OUT/train-bench.jsonl' 2>'$OUT/train-bench.err'"
    cat "$OUT/train-bench.jsonl" 2>/dev/null
else
    echo "gpu-check: $BUILD/tests/test_train_cuda was not built; see $OUT/build.log"
fi

# lingua-compress on the GPU against the CPU over the hostile text set, both
# tiny models: records whose output differs (a probability on the threshold
# can flip a word; expected 0 or a handful) and the two wall times
for m in tiny-bert tiny-xlmr; do
    capped "lingua-$m" 40 sh tests/gpu-lingua.sh "$BIN" "testdata/models/$m" "$OUT"
done
# lingua-compress on the GPU against llmlingua 0.2.2's own results (the
# committed golden cases, computed by the reference on the CPU), counting
# with the cl100k_base the build put in $BUILD/share/lmkit
CL=$BUILD/share/lmkit/cl100k_base.tiktoken
if [ -r "$CL" ]; then
    capped lingua-golden 40 sh -c "PATH='$BIN':\$PATH python3 tests/lingua-golden-check.py '$CL' --device cuda \
        >'$OUT/lingua-golden.txt' 2>&1"
    tail -n 5 "$OUT/lingua-golden.txt"
else
    echo "gpu-check: lingua-golden skipped: no $CL (the build did not make it)"
fi

# the lazy loading and memory-limit tests where a GPU and many cores exist
if command -v bats >/dev/null 2>&1; then
    capped memory 60 sh -c "BUILD='$BUILD' bats --tap tests/cli/memory.bats >'$OUT/memory.tap' 2>&1"
    grep -E '^not ok|# skip' "$OUT/memory.tap"
else
    echo "gpu-check: memory skipped: bats not found"
fi

# lingua-compress end to end, GPU against CPU: BERT-base and XLM-R-large
# shapes, 2k- and 10k-token prompts and 200 short records
capped lingua-bench 150 sh -c "BUILD='$BUILD' sh bench/lingua-device.sh >'$OUT/lingua-bench.jsonl' \
    2>'$OUT/lingua-bench.err'"
cat "$OUT/lingua-bench.jsonl" 2>/dev/null

if [ "$fails" -eq 0 ]; then
    echo "gpu-check: all steps passed; results in $OUT/"
    exit 0
fi
echo "gpu-check: $fails step(s) failed; see $OUT/summary.jsonl and the .err/.log files"
exit 1
