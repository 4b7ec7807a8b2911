#!/bin/sh
# gpu-lingua.sh BIN MODEL OUT - a step of gpu-check.sh: lingua-compress with
# --device cuda against --device cpu on the hostile text set
# (testdata/text/hostile.jsonl, --field text, --rate 0.5).  Appends one line
# to OUT/lingua.jsonl: the records, how many differ (a probability on the
# threshold can flip a word: expect none or a handful) and both wall times.
# DEVICES (default "cpu cuda") lets it run on a machine without a GPU.
set -eu
bin=$1 model=$2 out=$3
name=$(basename "$model")
top=$(cd "$(dirname "$0")/.." && pwd)
set -- ${DEVICES:-cpu cuda}
a=$1 b=$2
for d in "$a" "$b"; do
    t0=$(date +%s.%N)
    "$bin/lingua-compress" -m "$model" --device "$d" --rate 0.5 -q --field text \
        "$top/testdata/text/hostile.jsonl" >"$out/lingua-$name-$d.jsonl"
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }' >"$out/lingua-$name-$d.time"
done
n=$(wc -l <"$out/lingua-$name-$a.jsonl")
differ=$(paste -d '\n' "$out/lingua-$name-$a.jsonl" "$out/lingua-$name-$b.jsonl" |
    awk 'NR % 2 { x = $0; next } $0 != x { n++ } END { print n + 0 }')
printf '{"type":"lingua","model":"%s","devices":"%s %s","records":%s,"differ":%s,"%s_s":%s,"%s_s":%s}\n' \
    "$name" "$a" "$b" "$n" "$differ" "$a" "$(cat "$out/lingua-$name-$a.time")" \
    "$b" "$(cat "$out/lingua-$name-$b.time")" | tee -a "$out/lingua.jsonl"
[ "$n" -gt 0 ]
