#!/usr/bin/env bats
# leanattn-bench.bats - the decode attention benchmark: the correctness suite,
# bit-identical results across runs and thread counts, ragged batches, shape
# errors with line:col, the plot, and the CPU fallback of --device.

load helpers

setup() {
    TMP="$(mktemp -d)"
    # the bandwidth is given so that no test pays for measuring it
    FAST=(--bandwidth 10 --runs 1 --warmup 0 --no-flush)
}
teardown() {
    rm -rf "$TMP"
}

has_gpu() {
    command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'
}

@test "--check passes for every algorithm, dtype and head dim on the CPU" {
    run --separate-stderr leanattn-bench --device cpu --check
    assert_success
    [[ $output == '{"type":"check","device":"cpu",'*'"failures":0,"ok":true}' ]] || fail "$output"
    # 11 cases x 3 dtypes x 2 head dims, every algorithm: several hundred checks
    n=$(printf '%s\n' "$output" | grep -o '"checks":[0-9]*' | cut -d: -f2)
    [ "$n" -ge 600 ] || fail "only $n checks ran"
    [ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "one record per shape and algorithm, in --algo order, input fields kept" {
    printf '%s\n' '{"id":"a","heads":4,"kv_heads":2,"head_dim":64,"ctx":500}' \
        '{"id":"b","heads":2,"head_dim":128,"ctx":[130,0,7]}' >"$TMP/in"
    run --separate-stderr leanattn-bench "${FAST[@]}" --algo lean,naive,nosplit "$TMP/in"
    assert_success
    [ "${#lines[@]}" -eq 6 ] || fail "${#lines[@]} lines: $output"
    [[ ${lines[0]} == '{"id":"a","heads":4,"kv_heads":2,"head_dim":64,"ctx":500,"algo":"lean",'* ]] ||
        fail "${lines[0]}"
    [[ ${lines[1]} == *'"algo":"naive"'* && ${lines[2]} == *'"algo":"nosplit"'* ]] || fail "order"
    [[ ${lines[3]} == '{"id":"b","heads":2,"head_dim":128,"ctx":[130,0,7],"algo":"lean",'* ]] ||
        fail "${lines[3]}"
    for l in "${lines[@]}"; do
        [[ $l == *'"ok":true'* && $l == *'"time_us":'* && $l == *'"pct_floor":'* &&
           $l == *'"speedup_vs_nosplit":'* && $l == *'"max_err":'* ]] || fail "fields: $l"
    done
    # the output is valid JSON (jansson-free check with python)
    printf '%s\n' "$output" | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'
}

@test "results are bit-identical across repeated runs and thread counts, per algorithm" {
    # big enough (>4M multiply-adds) that the CPU code really uses its threads
    shape='{"heads":4,"kv_heads":2,"head_dim":64,"ctx":[8000,0,12000]}'
    for dt in fp32 bf16; do
        : >"$TMP/sums"
        for t in 1 2 1 2; do
            echo "$shape" | leanattn-bench "${FAST[@]}" --dtype $dt --threads $t --workers 3 \
                --algo naive,nosplit,splitkv,lean,lean-combine |
                grep -o '"algo":"[a-z-]*"\|"checksum":"[0-9a-f]*"\|"max_err":[^,]*' |
                paste -sd' ' >>"$TMP/sums"
        done
        [ "$(wc -l <"$TMP/sums")" -eq 4 ] || fail "$dt: runs failed"
        [ "$(sort -u "$TMP/sums" | wc -l)" -eq 1 ] || fail "$dt differs: $(cat "$TMP/sums")"
        grep -q '"algo":"lean-combine" [^ ]* "checksum":"[0-9a-f]\{16\}"' "$TMP/sums" || fail "$dt: no checksum"
    done
    # fp32: lean really differs from nosplit in the last bits (the checksum sees it)
    echo "$shape" | leanattn-bench "${FAST[@]}" --dtype fp32 --workers 3 --algo nosplit,lean |
        grep -o '"checksum":"[0-9a-f]*"' | sort -u >"$TMP/two"
    [ "$(wc -l <"$TMP/two")" -eq 2 ] || fail "nosplit and lean gave the same bits"
}

@test "ragged batches, with a length-0 sequence, pass the accuracy rule in every layout" {
    for layout in HND NHD; do
        run --separate-stderr bash -c "echo '{\"heads\":8,\"kv_heads\":2,\"head_dim\":128,\"ctx\":[1,0,300,129]}' |
            leanattn-bench ${FAST[*]} --layout $layout --dtype fp16 --workers 5"
        assert_success
        [ "${#lines[@]}" -eq 4 ] || fail "$output"
        for l in "${lines[@]}"; do
            [[ $l == *'"ok":true'* && $l == *"\"layout\":\"$layout\""* ]] || fail "$l"
        done
    done
    # batch, when given, must match the list
    run --separate-stderr bash -c "echo '{\"batch\":2,\"heads\":2,\"head_dim\":64,\"ctx\":[5,6,7]}' | leanattn-bench ${FAST[*]}"
    [ "$status" -eq 1 ]
    [[ $stderr == 'leanattn-bench: <stdin>:1:10: "batch" is 2 but "ctx" lists 3 lengths'* ]] || fail "$stderr"
}

@test "bad shapes give FILE:LINE:COL errors and exit 1" {
    bad() { # input, expected message start
        printf '%s\n' '{"heads":1,"head_dim":64,"ctx":4}' "$1" >"$TMP/in"
        run --separate-stderr leanattn-bench "${FAST[@]}" --algo lean "$TMP/in"
        [ "$status" -eq 1 ] || fail "$1: status $status"
        [[ $stderr == "leanattn-bench: $TMP/in:2:$2"* ]] || fail "$1: $stderr"
        [ "${#lines[@]}" -eq 1 ] || fail "$1: the good record before it was not written"
    }
    bad '{"heads":4,"head_dim":64,"ctx":-5}' '32: "ctx" is negative (-5)'
    bad '{"heads":4,"head_dim":64,"ctx":[10, -1]}' '37: "ctx"[1] is negative (-1)'
    bad '{"heads":4,"head_dim":64,"ctx":[10,"x"]}' '36: "ctx"[1] must be a number'
    bad '{"heads":32,"kv_heads":6,"head_dim":128,"ctx":8}' '24: "heads" (32) is not divisible by "kv_heads" (6)'
    bad '{"heads":4,"head_dim":96,"ctx":8}' '23: "head_dim" is 96; it must be 64 or 128'
    bad '{"heads":4,"head_dim":64,"ctx":2.5}' '32: "ctx" must be a whole number'
    bad '{"heads":4,"head_dim":64,"ctx":"8k"}' '32: "ctx" must be a number or a list of numbers, not a string'
    bad '{"heads":0,"head_dim":64,"ctx":8}' '10: "heads" is 0; it must lie in [1, 4096]'
    bad '{"head_dim":64,"ctx":8}' ' no "heads" field'
    bad '{"heads":4,"head_dim":64}' ' no "ctx" field'
    # --keep-going goes on after a bad shape
    printf '%s\n' '{"heads":4,"head_dim":64,"ctx":-5}' '{"heads":1,"head_dim":64,"ctx":4}' >"$TMP/in"
    run --separate-stderr leanattn-bench "${FAST[@]}" --algo lean --keep-going "$TMP/in"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ] || fail "$output"
}

@test "an unknown algorithm or matrix is a usage error (exit 2)" {
    run --separate-stderr leanattn-bench --algo lean,fast </dev/null
    [ "$status" -eq 2 ]
    [[ $stderr == *"unknown algorithm 'fast'"* && $stderr == *"Try 'leanattn-bench --help'"* ]] || fail "$stderr"
    run --separate-stderr leanattn-bench --algo lean,lean </dev/null
    [ "$status" -eq 2 ]
    run --separate-stderr leanattn-bench --matrix huge
    [ "$status" -eq 2 ]
    [[ $stderr == *"choose one of paper, gqa, waves, ragged, ablation"* ]] || fail "$stderr"
    run --separate-stderr leanattn-bench --check --matrix waves
    [ "$status" -eq 2 ]
    run --separate-stderr leanattn-bench --svg "$TMP/x.svg" --algo lean </dev/null
    [ "$status" -eq 2 ]
    [[ $stderr == *"--svg plots speed-ups over splitkv or nosplit"* ]] || fail "$stderr"
    run --separate-stderr leanattn-bench --runs 0 </dev/null
    [ "$status" -eq 2 ]
    [ -z "$output" ]
}

@test "--svg writes a valid SVG with one series per algorithm" {
    command -v xmllint >/dev/null || skip "xmllint not installed"
    printf '%s\n' '{"heads":2,"kv_heads":1,"head_dim":64,"ctx":512}' \
        '{"heads":2,"kv_heads":1,"head_dim":64,"ctx":2048}' \
        '{"heads":2,"kv_heads":1,"head_dim":64,"ctx":[2048,100]}' >"$TMP/in"
    run --separate-stderr leanattn-bench "${FAST[@]}" --svg "$TMP/plot.svg" "$TMP/in"
    assert_success
    [ "${#lines[@]}" -eq 12 ] || fail "$output"
    run xmllint --noout "$TMP/plot.svg"
    assert_success
    grep -q 'lean-combine' "$TMP/plot.svg" || fail "no lean-combine series"
    grep -q 'speed-up vs splitkv' "$TMP/plot.svg" || fail "no axis label"
    ls -a "$TMP" | grep -q '^\.plot' && fail "temporary file left behind"
    true
}

@test "--device: auto falls back to the CPU, cuda without a GPU is an error (exit 2)" {
    has_gpu && skip "a GPU is present"
    run --separate-stderr bash -c "echo '{\"heads\":1,\"head_dim\":64,\"ctx\":3}' | leanattn-bench ${FAST[*]} --algo lean --device auto"
    assert_success
    [[ $output == *'"device":"cpu"'* ]] || fail "$output"
    run --separate-stderr leanattn-bench --device cuda --check
    [ "$status" -eq 2 ]
    [[ $stderr == "leanattn-bench: --device cuda: "*"no CUDA"* ]] || fail "$stderr"
    [[ $stderr == *"hint: "* ]] || fail "no hint: $stderr"
    [ -z "$output" ]
}

@test "the bandwidth is measured once when not given, and reported in every record" {
    printf '%s\n' '{"heads":1,"head_dim":64,"ctx":3}' '{"heads":1,"head_dim":64,"ctx":5}' >"$TMP/in"
    run --separate-stderr leanattn-bench --runs 1 --algo lean "$TMP/in"
    assert_success
    bw=$(printf '%s\n' "$output" | grep -o '"bw_gbps":[^,]*' | sort -u)
    [ "$(printf '%s\n' "$bw" | wc -l)" -eq 1 ] || fail "bandwidth differs between records: $bw"
    [[ $output == *'"bw_source":"cpu-read-stream"'* ]] || fail "$output"
}
