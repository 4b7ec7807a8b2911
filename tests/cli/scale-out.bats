#!/usr/bin/env bats
# scale-out.bats - the README's scale-out recipe: GNU parallel with 4 jobs
# (--pipe --keep-order) writes the same bytes as one process, for
# lingua-compress, dp-estimate and route apply.  GNU parallel is one of the
# packages `make deps` installs (Debian's parallel): when it is missing this
# fails rather than skips.

load helpers

setup() {
    TMP="$(mktemp -d)"
    parallel --version 2>/dev/null | grep -q 'GNU parallel' ||
        fail "GNU parallel is missing: run 'make deps' (Debian package parallel)"
    export HOME="$TMP" # parallel keeps its state in ~/.parallel
}
teardown() {
    rm -rf "$TMP"
}

# same_as_one_process INPUT COMMAND...: one process, then 4 jobs of 7 records
same_as_one_process() {
    local in="$1"
    shift
    "$@" <"$in" >"$TMP/one.jsonl" || fail "one process failed: $*"
    parallel --will-cite --pipe --keep-order -j4 -N 7 "$@" <"$in" >"$TMP/par.jsonl" ||
        fail "parallel failed: $*"
    [ "$(wc -l <"$TMP/one.jsonl")" -eq "$(wc -l <"$in")" ] || fail "not one line per record"
    cmp "$TMP/one.jsonl" "$TMP/par.jsonl" || fail "parallel output differs for: $*"
}

@test "parallel -j4 --pipe --keep-order: lingua-compress is byte-identical to one process" {
    for i in $(seq 1 40); do
        printf '{"id":%d,"prompt":"Record %d: the committee met on day %d to discuss budget item %d, then adjourned."}\n' \
            "$i" "$i" "$i" "$((i * 7))"
    done >"$TMP/in.jsonl"
    same_as_one_process "$TMP/in.jsonl" lingua-compress -q --model "$TOP/testdata/models/tiny-bert" \
        --count-encoding "$TOP/testdata/tokenize/tiny.tiktoken" --rate 0.5
}

@test "parallel -j4 --pipe --keep-order: dp-estimate is byte-identical to one process" {
    for i in $(seq 1 60); do
        printf '{"run":"r%d","tp":%d,"fp":%d,"tn":%d,"fn":%d}\n' "$i" "$((400 + i * 9))" "$((500 - i * 7))" \
            "$((500 + i * 3))" "$((100 - i))"
    done >"$TMP/in.jsonl"
    same_as_one_process "$TMP/in.jsonl" dp-estimate --delta 1e-5
}

@test "parallel -j4 --pipe --keep-order: route apply is byte-identical to one process" {
    for i in $(seq 1 20); do cat "$TOP/testdata/route/queries.jsonl"; done >"$TMP/in.jsonl"
    same_as_one_process "$TMP/in.jsonl" route apply --prices "$TOP/testdata/route/prices.json" --n-max 2 \
        --threshold 0.5
}
