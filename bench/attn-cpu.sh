#!/bin/sh
# attn-cpu.sh - LeanAttention against nosplit and split-KV on this machine's
# CPU cores, in one run of leanattn-bench.
#
# The shape has batch x KV heads (1) smaller than the thread count and a long
# context: nosplit can give the one KV head to one thread only, while lean
# (and split-KV) cut it over all of them.  Prints JSON Lines: one record per
# algorithm (the command's own, reduced to the interesting fields) and one
# summary {"bench":"attn-cpu","lean_vs_nosplit",...}.  Uses only the command
# itself and, when present, /usr/bin/time -v for the peak memory.  About half
# a minute on 2 cores; timings on a shared machine vary from run to run.
#
# Environment: BUILD (build directory, default build), CTX (context length,
# default 131072), THREADS (default: nproc).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case $BUILD in /*) BIN=$BUILD/bin ;; *) BIN=$PWD/$BUILD/bin ;; esac
CTX=${CTX:-131072}
THREADS=${THREADS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

shape="{\"bench\":\"attn-cpu\",\"batch\":1,\"heads\":4,\"kv_heads\":1,\"head_dim\":128,\"ctx\":$CTX}"
run() {
    echo "$shape" | "$BIN/leanattn-bench" --device cpu --threads "$THREADS" --dtype bf16 \
        --runs 3 --warmup 1 --algo nosplit,splitkv,lean,lean-combine >"$tmp/out"
}
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    # the command alone under time -v, so that the peak memory is its own
    echo "$shape" | /usr/bin/time -v -o "$tmp/time" "$BIN/leanattn-bench" --device cpu \
        --threads "$THREADS" --dtype bf16 --runs 3 --warmup 1 \
        --algo nosplit,splitkv,lean,lean-combine >"$tmp/out"
    rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$tmp/time")
else
    run
    rss=null
fi

# one line per algorithm: the fields that matter here, in the command's own text
field() { # record, key -> raw JSON value
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\\([^,}]*\\).*/\\1/p"
}
lean= nosplit= splitkv=
while IFS= read -r rec; do
    algo=$(field "$rec" algo | tr -d '"')
    t=$(field "$rec" time_us)
    eval "$(echo "$algo" | tr - _)=\$t"
    printf '{"bench":"attn-cpu","algo":"%s","threads":%s,"workers":%s,"grid":%s,"ctx":%s,"time_us":%s,"time_min_us":%s,"time_max_us":%s,"gbps":%s,"pct_bw":%s,"pct_floor":%s,"speedup_vs_nosplit":%s,"speedup_vs_splitkv":%s,"ok":%s}\n' \
        "$algo" "$THREADS" "$(field "$rec" workers)" "$(field "$rec" grid)" "$CTX" "$t" \
        "$(field "$rec" time_min_us)" "$(field "$rec" time_max_us)" "$(field "$rec" gbps)" \
        "$(field "$rec" pct_bw)" "$(field "$rec" pct_floor)" \
        "$(field "$rec" speedup_vs_nosplit)" "$(field "$rec" speedup_vs_splitkv)" "$(field "$rec" ok)"
done <"$tmp/out"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4g", a / b }'; }
printf '{"bench":"attn-cpu","summary":true,"threads":%s,"ctx":%s,"lean_vs_nosplit":%s,"lean_vs_splitkv":%s,"splitkv_vs_nosplit":%s,"max_rss_kb":%s,"note":"ratios are time(baseline)/time(lean) from one run on a possibly shared machine"}\n' \
    "$THREADS" "$CTX" "$(ratio "$nosplit" "$lean")" "$(ratio "$splitkv" "$lean")" \
    "$(ratio "$nosplit" "$splitkv")" "${rss:-null}"
