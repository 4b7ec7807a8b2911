#!/bin/sh
# bench/encoder.sh - CPU throughput of lib/nn's encoder forward (fp32,
# OpenBLAS + OpenMP) against transformers + torch on the same random weights,
# for the two LLMLingua-2 shapes at sequence length 512.
#
#   PYTHON=/root/venv-torch/bin/python sh bench/encoder.sh
#
# Shapes: bert-base (hidden 768, 12 layers, 12 heads, FFN 3072, vocab 119547,
# 512 positions: mBERT) and xlmr-large (1024, 24, 16, 4096, vocab 250002, 514
# positions: XLM-R large).  The random models (0.7 GB and 2.2 GB) are written
# by bench/encoder_bench.c into a temporary folder and removed at the end; the
# same folder is loaded by bench/encoder_ref.py with
# AutoModelForTokenClassification, so both sides see identical weights and
# token ids, and the logits are compared (max_abs_logits).
# One JSON line per (shape, batch): tokens/s of each side, the ratio
# (speedup = lmkit / transformers), peak RSS from /usr/bin/time -v, and the
# time of one forward.  Each side runs alone, one after the other, after a
# short warm-up forward.  On a shared machine figures vary from run to run.
#
# Environment: BUILD (default build), PYTHON (needs torch, transformers<5,
# safetensors, numpy; without them only lmkit's figures are printed), SHAPES
# (default "bert-base xlmr-large"), BATCHES (default "1 8"), XLMR_BATCHES
# (default: BATCHES; batch 8 x 512 on xlmr-large takes minutes on 2 cores),
# SEQ (default 512), ITERS (timed forwards per run, default 1), DEVICE
# (cpu, the default, or cuda: lmkit's GPU forward, lib/nn/encoder_cuda.h,
# needs a CUDA build; the reference stays transformers on the CPU, so
# speedup is then GPU lmkit over CPU torch), DTYPES (with DEVICE=cuda, default "f32 bf16": storage of the Linear
# weights; one record per dtype, max_abs_logits always against the fp32
# reference).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
SHAPES=${SHAPES:-bert-base xlmr-large}
BATCHES=${BATCHES:-1 8}
XLMR_BATCHES=${XLMR_BATCHES:-$BATCHES}
SEQ=${SEQ:-512}
ITERS=${ITERS:-1}
DEVICE=${DEVICE:-cpu}
case $DEVICE in
    cpu) DTYPES=f32 ;;
    cuda) DTYPES=${DTYPES:-f32 bf16} ;;
    *) echo "encoder.sh: DEVICE is cpu or cuda" >&2; exit 2 ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lmkit-encoder-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

lib=$BUILD/liblmkit.a
if [ ! -f "$lib" ]; then
    echo "encoder.sh: $lib not found; run 'make' first" >&2
    exit 2
fi
libs="$(pkg-config --libs jansson 2>/dev/null || echo -ljansson) $(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"
# a CUDA build: liblmkit.a's nn/encoder_cuda.o dlopens the build's
# liblmkit-cuda.so, which the bench binary (outside the build tree) is told
# where to find
cuda_so=$BUILD/lib/lmkit/liblmkit-cuda.so
if [ -f "$cuda_so" ]; then
    case $cuda_so in /*) ;; *) cuda_so=$PWD/$cuda_so ;; esac
    export LMKIT_CUDA_LIB="$cuda_so"
elif [ "$DEVICE" = cuda ]; then
    echo "encoder.sh: DEVICE=cuda needs a CUDA build ($cuda_so not found)" >&2
    exit 2
fi
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Ilib bench/encoder_bench.c "$lib" $libs -lm \
    -o "$tmp/encoder_bench"

have_ref=0
if "$PYTHON" -c 'import torch, transformers, numpy' 2>/dev/null; then
    have_ref=1
else
    echo "encoder.sh: $PYTHON lacks torch/transformers/numpy; printing lmkit figures only" >&2
fi
timev=0
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    timev=1
fi

# runs "$@" with stdout to $tmp/out; sets rss (MB or null)
measure() {
    if [ $timev = 1 ]; then
        /usr/bin/time -v -o "$tmp/time" "$@" >"$tmp/out"
        kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$tmp/time")
        rss=$(awk -v k="$kb" 'BEGIN { printf "%.0f", k / 1024 }')
    else
        "$@" >"$tmp/out"
        rss=null
    fi
}
field() { # JSON text, key -> raw value
    printf '%s\n' "$1" | sed -n "s/.*\"$2\": *\\([^,}]*\\).*/\\1/p" | tr -d '"'
}

for shape in $SHAPES; do
    case $shape in
        bert-base) gen="bert 768 12 12 3072 119547 512" batches=$BATCHES ;;
        xlmr-large) gen="xlmr 1024 24 16 4096 250002 514" batches=$XLMR_BATCHES ;;
        *) echo "encoder.sh: unknown shape '$shape' (bert-base, xlmr-large)" >&2; exit 2 ;;
    esac
    model=$tmp/$shape
    t0=$(date +%s)
    # shellcheck disable=SC2086
    "$tmp/encoder_bench" gen "$model" $gen
    echo "# $shape: random model written in $(( $(date +%s) - t0 )) s" >&2
    for B in $batches; do
      ref_done=0
      for dt in $DTYPES; do
        measure "$tmp/encoder_bench" run "$model" "$B" "$SEQ" "$ITERS" "$tmp/ours.f32" \
            --device "$DEVICE" --dtype "$dt"
        ours=$(cat "$tmp/out") ours_rss=$rss
        ref_tps=null ref_time=null ref_rss=null speedup=null maxabs=null ref_ver=null
        if [ $have_ref = 1 ]; then
            if [ $ref_done = 0 ]; then
                measure "$PYTHON" bench/encoder_ref.py "$model" "$B" "$SEQ" "$ITERS" "$tmp/ref.f32"
                ref=$(grep '^{' "$tmp/out" | tail -1) ref_rss=$rss ref_done=1
            fi
            ref_tps=$(field "$ref" tokens_per_s)
            ref_time=$(field "$ref" time_s)
            ref_ver="\"torch $(field "$ref" torch), transformers $(field "$ref" transformers), $(field "$ref" attn)\""
            speedup=$(awk -v a="$(field "$ours" tokens_per_s)" -v b="$ref_tps" \
                'BEGIN { printf "%.3f", a / b }')
            maxabs=$("$PYTHON" -c 'import sys, numpy as np
a = np.fromfile(sys.argv[1], "<f4"); b = np.fromfile(sys.argv[2], "<f4")
print("%.3g" % float(np.abs(a - b).max()) if a.shape == b.shape else "null")' \
                "$tmp/ours.f32" "$tmp/ref.f32")
        fi
        printf '{"bench":"encoder","device":"%s","dtype":"%s","shape":"%s","batch":%s,"seq":%s,"iters":%s,"threads":%s,"lmkit_tokens_per_s":%s,"ref_tokens_per_s":%s,"speedup":%s,"lmkit_time_s":%s,"ref_time_s":%s,"lmkit_rss_mb":%s,"ref_rss_mb":%s,"max_abs_logits":%s,"params":%s,"ref":%s}\n' \
            "$DEVICE" "$dt" "$shape" "$B" "$SEQ" "$ITERS" "$(nproc)" "$(field "$ours" tokens_per_s)" "$ref_tps" \
            "$speedup" "$(field "$ours" time_s)" "$ref_time" "$ours_rss" "$ref_rss" "$maxabs" \
            "$(field "$ours" params)" "$ref_ver"
      done
    done
    rm -rf "$model"
done
