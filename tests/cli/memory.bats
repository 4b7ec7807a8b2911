#!/usr/bin/env bats
# memory.bats - the commands under a memory limit (`ulimit -v`), and the CUDA
# libraries loaded only when a GPU is asked for.
#
# Every run under a limit goes through `timeout`, so that a regression to the
# old hang (OpenBLAS retrying a failed mmap forever) fails instead of
# hanging.  AddressSanitizer reserves terabytes of address space, so no run
# under `ulimit -v` can work in the sanitizer build: those tests skip there.

load helpers

setup() {
    TMP="$(mktemp -d)"
    BERT="$TOP/testdata/models/tiny-bert"
    TINY="$TOP/testdata/tokenize/tiny.tiktoken"
    printf '%s\n' '{"prompt":"The quick brown fox jumps over the lazy dog. It was a sunny day."}' >"$TMP/in.jsonl"
}

teardown() {
    rm -rf "$TMP"
}

has_gpu() {
    command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'
}

cuda_build() {
    lingua-compress --version | grep -q cuda
}

skip_under_asan() {
    if [ "${SAN:-0}" = 1 ] || ldd "$BIN/lingua-compress" 2>/dev/null | grep -q libasan; then
        skip "sanitizer build: ASan reserves far more address space than any 'ulimit -v' allows"
    fi
}

# limited KIB CMD... : CMD under `ulimit -v KIB`, killed after 60 s
limited() {
    local kib=$1
    shift
    (ulimit -v "$kib" && exec timeout 60 "$@")
}

# the libraries a command loads, dlopen included, as the dynamic loader
# reports them (LD_DEBUG=libs)
libs_of() {
    local log="$TMP/ld"
    rm -f "$log".*
    LD_DEBUG=libs LD_DEBUG_OUTPUT="$log" "$@" >/dev/null 2>&1 || true
    cat "$log".* 2>/dev/null | grep 'calling init:' | sed 's/.*calling init: //' | sort -u
}

@test "a CPU run never loads the CUDA libraries (LD_DEBUG=libs)" {
    libs=$(libs_of lingua-compress --device cpu -m "$BERT" --count-encoding "$TINY" "$TMP/in.jsonl")
    [[ $libs == *libopenblas* ]] || fail "LD_DEBUG shows no OpenBLAS either; cannot judge: $libs"
    [[ $libs != *libcudart* && $libs != *libcublas* && $libs != *liblmkit-cuda* ]] ||
        fail "lingua-compress --device cpu loaded: $libs"
    libs=$(libs_of leanattn-bench --device cpu --bandwidth 100 --runs 1 --warmup 0 --no-flush \
        --algo lean <<<'{"heads":1,"head_dim":64,"ctx":3}')
    [[ $libs != *libcudart* && $libs != *libcublas* && $libs != *liblmkit-cuda* ]] ||
        fail "leanattn-bench --device cpu loaded: $libs"
    for c in tokenize route dp-estimate; do
        # shellcheck disable=SC2046
        libs=$(libs_of "$c" $(conv_args "$c") <"$TOP/testdata/conventions/$c.jsonl")
        [[ $libs != *libcudart* && $libs != *libcublas* && $libs != *libopenblas* ]] ||
            fail "$c loaded: $libs"
    done
}

@test "--device auto without a GPU loads nothing CUDA and computes on the CPU" {
    has_gpu && skip "a GPU is present: auto uses it"
    libs=$(libs_of lingua-compress -m "$BERT" --count-encoding "$TINY" "$TMP/in.jsonl")
    [[ $libs != *libcudart* && $libs != *libcublas* && $libs != *liblmkit-cuda* ]] ||
        fail "lingua-compress --device auto loaded: $libs"
    run --separate-stderr lingua-compress -m "$BERT" --count-encoding "$TINY" "$TMP/in.jsonl"
    assert_success
    assert_output --partial '"compressed_prompt":'
    libs=$(libs_of leanattn-bench --bandwidth 100 --runs 1 --warmup 0 --no-flush --algo lean \
        <<<'{"heads":1,"head_dim":64,"ctx":3}')
    [[ $libs != *libcudart* && $libs != *libcublas* ]] || fail "leanattn-bench auto loaded: $libs"
}

@test "the commands start and work under a low ulimit -v (CUDA libraries no longer mapped)" {
    skip_under_asan
    # linked with libcublas the commands failed to start below about 800 MB
    run --separate-stderr limited 300000 lingua-compress --threads 1 -m "$BERT" \
        --count-encoding "$TINY" "$TMP/in.jsonl"
    assert_success
    assert_output --partial '"compressed_prompt":'
    for c in tokenize route dp-estimate leanattn-bench; do
        # shellcheck disable=SC2046
        run --separate-stderr limited 100000 "$c" $(conv_args "$c") --threads 1 \
            <"$TOP/testdata/conventions/$c.jsonl"
        [ "$status" -eq 0 ] || fail "$c under ulimit -v 100000: status $status: $stderr"
        [ -n "$output" ] || fail "$c wrote nothing"
    done
}

@test "OpenBLAS's buffers not fitting under ulimit -v: exit 2 with a hint, no hang" {
    skip_under_asan
    # 8 threads want 8 x 128 MiB of OpenBLAS buffers: more than 600 MB
    run --separate-stderr limited 600000 lingua-compress --threads 8 -m "$BERT" \
        --count-encoding "$TINY" "$TMP/in.jsonl"
    [ "$status" -ne 124 ] || fail "still running after 60 s: the OpenBLAS spin is back"
    [ "$status" -eq 2 ] || fail "status $status: $stderr"
    [[ $stderr == "lingua-compress: no memory for OpenBLAS's work buffers: 8 threads need 8 x 128 MiB"* ]] ||
        fail "$stderr"
    [[ $stderr == *"ulimit -v"* ]] || fail "the limit is not named: $stderr"
    [[ $stderr == *"hint: raise the limit ('ulimit -v') by at least "*" MiB, or use --threads "[1-9]* ]] ||
        fail "no hint: $stderr"
    [ -z "$output" ]
    # the hinted thread count works
    n=$(sed -n 's/.*use --threads \([0-9]*\).*/\1/p' <<<"$stderr")
    run --separate-stderr limited 600000 lingua-compress --threads "$n" -m "$BERT" \
        --count-encoding "$TINY" "$TMP/in.jsonl"
    assert_success
    # not even one buffer fits
    run --separate-stderr limited 150000 lingua-compress --threads 1 -m "$BERT" \
        --count-encoding "$TINY" "$TMP/in.jsonl"
    [ "$status" -eq 2 ] || fail "status $status: $stderr"
    [[ $stderr == *"1 thread needs 1 x 128 MiB"*"hint: raise the limit ('ulimit -v') by at least "* ]] ||
        fail "$stderr"
}

@test "ulimit -v 1000000 with the default threads: lingua-compress finishes or fails with the message" {
    skip_under_asan
    run --separate-stderr limited 1000000 lingua-compress -m "$BERT" --count-encoding "$TINY" \
        "$TMP/in.jsonl"
    [ "$status" -ne 124 ] || fail "still running after 60 s: the OpenBLAS spin is back"
    if [ "$status" -ne 0 ]; then # many cores: 128 MiB per thread may not fit
        [ "$status" -eq 2 ] || fail "status $status: $stderr"
        [[ $stderr == *"no memory for OpenBLAS's work buffers"*"hint: "* ]] || fail "$stderr"
    else
        assert_output --partial '"compressed_prompt":'
    fi
}

@test "--device cuda without a GPU says what is missing (exit 2)" {
    has_gpu && skip "a GPU is present"
    for c in lingua-compress leanattn-bench; do
        if [ "$c" = lingua-compress ]; then
            run --separate-stderr lingua-compress --device cuda -m "$BERT" "$TMP/in.jsonl"
        else
            run --separate-stderr leanattn-bench --device cuda --check
        fi
        [ "$status" -eq 2 ] || fail "$c: status $status"
        [[ $stderr == "$c: --device cuda: "* ]] || fail "$stderr"
        [[ $stderr == *"hint: "*"--device cpu"* ]] || fail "$c: no hint: $stderr"
        if cuda_build; then # the library loads; the driver or the GPU is missing
            [[ $stderr == *"NVIDIA driver"* || $stderr == *"no CUDA GPU found"* ]] || fail "$stderr"
        else
            [[ $stderr == *"without CUDA"* || $stderr == *"no CUDA support"* ]] || fail "$stderr"
        fi
        [ -z "$output" ]
    done
}

@test "--device cuda without the CUDA support library names it; auto falls back to the CPU" {
    cuda_build || skip "built without CUDA: there is no library to look for"
    LMKIT_CUDA_LIB="$TMP/nope/liblmkit-cuda.so" run --separate-stderr \
        lingua-compress --device cuda -m "$BERT" "$TMP/in.jsonl"
    [ "$status" -eq 2 ]
    [[ $stderr == *"--device cuda: no CUDA support library: '$TMP/nope/liblmkit-cuda.so' is missing"* ]] ||
        fail "$stderr"
    [[ $stderr == *"LMKIT_CUDA_LIB"* ]] || fail "$stderr"
    echo 'not a library' >"$TMP/bad.so"
    LMKIT_CUDA_LIB="$TMP/bad.so" run --separate-stderr leanattn-bench --device cuda --check
    [ "$status" -eq 2 ]
    [[ $stderr == *"--device cuda: no CUDA support: cannot load '$TMP/bad.so'"* ]] || fail "$stderr"
    LMKIT_CUDA_LIB="$TMP/nope.so" run --separate-stderr lingua-compress -m "$BERT" \
        --count-encoding "$TINY" "$TMP/in.jsonl"
    assert_success
    assert_output --partial '"compressed_prompt":'
}
