#!/usr/bin/env bash
# route.sh - speed of `route` on seeded synthetic data: time to train the
# multi-head router (labels + features + training, linear, n-max 3) on N
# queries, and `route apply` throughput (queries/s) with that router.
# Prints JSON Lines; uses only the built commands and coreutils.
#
# Usage: bench/route.sh [N] [THREADS]   (defaults 100000 and all processors)
set -euo pipefail
n=${1:-100000}
threads=${2:-0}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${BUILD:-$top/build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

t0=$(now)
"$bin/route" synth --queries "$n" --samples 5 --seed 1 --threads "$threads" --prices-out "$tmp/p.json" >"$tmp/s.jsonl"
t1=$(now)
bytes=$(wc -c <"$tmp/s.jsonl")
printf '{"type":"bench","name":"route-synth","queries":%s,"bytes":%s,"seconds":%s}\n' "$n" "$bytes" "$(secs "$t0" "$t1")"

t0=$(now)
"$bin/route" train --prices "$tmp/p.json" --n-max 3 --seed 1 --threads "$threads" --out "$tmp/r.bin" \
    "$tmp/s.jsonl" >"$tmp/train.jsonl"
t1=$(now)
printf '{"type":"bench","name":"route-train","queries":%s,"seconds":%s,"log":%s}\n' "$n" "$(secs "$t0" "$t1")" \
    "$(cat "$tmp/train.jsonl")"

# apply input: the queries without their stored responses (what a live router sees)
cut -d, -f1-4 "$tmp/s.jsonl" | sed 's/$/}/' >"$tmp/q.jsonl"
t0=$(now)
"$bin/route" apply --prices "$tmp/p.json" --router "$tmp/r.bin" --threshold 0.5 --threads "$threads" \
    "$tmp/q.jsonl" >"$tmp/a.jsonl"
t1=$(now)
s=$(secs "$t0" "$t1")
printf '{"type":"bench","name":"route-apply","queries":%s,"seconds":%s,"queries_per_s":%s}\n' "$n" "$s" \
    "$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.0f", n / s }')"
