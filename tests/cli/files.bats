#!/usr/bin/env bats
# files.bats - output files respect what they replace and never destroy an
# input; reading failures are errors; a closed stdin is not empty input.
load helpers

setup() {
    D="$BATS_TEST_TMPDIR"
    cd "$TOP"
    printf '{"tp":76,"fp":19,"tn":982,"fn":923}\n{"bad"\n' >"$D/in.jsonl"
    cp "$D/in.jsonl" "$D/in.orig"
    DP=(dp-estimate --delta 1e-5 --method clopper-pearson)
}

# A character device like /dev/null that the test may lose: a private node
# where root may make one, /dev/null itself otherwise (a normal user cannot
# replace it).
null_device() {
    if [ "$(id -u)" = 0 ] && mknod "$D/null" c 1 3 2>/dev/null; then
        echo "$D/null"
    else
        echo /dev/null
    fi
}

@test "--errors to a device writes the device; the device stays a device" {
    dev=$(null_device)
    run "${DP[@]}" --keep-going --errors "$dev" "$D/in.jsonl"
    [ "$status" -eq 1 ]
    [ -c "$dev" ]
    [ -c /dev/null ]
    refute_output --partial "cannot create"
}

@test "--errors to a named pipe writes into the pipe" {
    mkfifo "$D/fifo"
    timeout 20 cat "$D/fifo" >"$D/from-fifo" &
    reader=$!
    run "${DP[@]}" --keep-going --errors "$D/fifo" "$D/in.jsonl"
    wait "$reader"
    [ "$status" -eq 1 ]
    [ -p "$D/fifo" ]
    run cat "$D/from-fifo"
    assert_output --partial '"raw":"{\"bad\""'
}

@test "--errors through a symbolic link replaces its target, the link stays" {
    echo old >"$D/target.jsonl"
    ln -s target.jsonl "$D/link.jsonl"
    run "${DP[@]}" --keep-going --errors "$D/link.jsonl" "$D/in.jsonl"
    [ "$status" -eq 1 ]
    [ -L "$D/link.jsonl" ]
    run cat "$D/target.jsonl"
    assert_output --partial '"line":2'
    # a dangling link names the file to create
    ln -s new.jsonl "$D/dangling.jsonl"
    run "${DP[@]}" --keep-going --errors "$D/dangling.jsonl" "$D/in.jsonl"
    [ -L "$D/dangling.jsonl" ] && [ -f "$D/new.jsonl" ]
}

@test "a replaced file keeps its mode (and its owner when root)" {
    echo old >"$D/e.jsonl"
    chmod 600 "$D/e.jsonl"
    if [ "$(id -u)" = 0 ]; then chown 65534:65534 "$D/e.jsonl"; fi
    run "${DP[@]}" --keep-going --errors "$D/e.jsonl" "$D/in.jsonl"
    [ "$status" -eq 1 ]
    [ "$(stat -c %a "$D/e.jsonl")" = 600 ]
    if [ "$(id -u)" = 0 ]; then [ "$(stat -c %u:%g "$D/e.jsonl")" = 65534:65534 ]; fi
    grep -q '"line":2' "$D/e.jsonl"
    # an executable's mode is kept too, and a new file gets the umask's
    chmod 750 "$D/e.jsonl"
    run "${DP[@]}" --keep-going --errors "$D/e.jsonl" "$D/in.jsonl"
    [ "$(stat -c %a "$D/e.jsonl")" = 750 ]
    (umask 027; "${DP[@]}" --keep-going --errors "$D/n.jsonl" "$D/in.jsonl" >/dev/null 2>&1 || true)
    [ "$(stat -c %a "$D/n.jsonl")" = 640 ]
}

@test "an output that names an input is refused before any work (every command)" {
    printf '{"n":1}\n' >"$D/data.jsonl"
    cp "$D/data.jsonl" "$D/data.orig"
    check() { # command line...: exit 2, a message, the input unchanged
        run --separate-stderr "$@"
        [ "$status" -eq 2 ] || { echo "status $status for: $*"; return 1; }
        [ -z "$output" ]
        [[ $stderr == *"is also an input"* ]] || { echo "$stderr"; return 1; }
        cmp "$D/data.jsonl" "$D/data.orig"
    }
    check "${DP[@]}" --errors "$D/data.jsonl" "$D/data.jsonl"
    check "${DP[@]}" --plot "$D/data.jsonl" "$D/data.jsonl"
    check "${DP[@]}" --posterior "$D/data.jsonl" "$D/data.jsonl"
    check tokenize $(conv_args tokenize) --errors "$D/data.jsonl" "$D/data.jsonl"
    check lingua-compress $(conv_args lingua-compress) --html "$D/data.jsonl" "$D/data.jsonl"
    check leanattn-bench $(conv_args leanattn-bench) --svg "$D/data.jsonl" "$D/data.jsonl"
    check route train --prices testdata/route/prices.json --out "$D/data.jsonl" "$D/data.jsonl"
    # through a link, and standard input redirected from the file
    ln -s data.jsonl "$D/alias.jsonl"
    check "${DP[@]}" --errors "$D/alias.jsonl" "$D/data.jsonl"
    run --separate-stderr "${DP[@]}" --errors "$D/data.jsonl" <"$D/data.jsonl"
    [ "$status" -eq 2 ]
    [[ $stderr == *"is also an input (standard input)"* ]]
    cmp "$D/data.jsonl" "$D/data.orig"
}

@test "two outputs naming one file are refused" {
    run --separate-stderr "${DP[@]}" --plot "$D/o.svg" --posterior "$D/o.svg" "$D/in.jsonl"
    [ "$status" -eq 2 ]
    [[ $stderr == *"--plot '$D/o.svg' names the same file as --posterior '$D/o.svg'"* ]]
    [ ! -e "$D/o.svg" ]
}

@test "an unwritable destination is refused before any work" {
    run --separate-stderr "${DP[@]}" --plot /nonexistent/x.svg "$D/in.jsonl"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [[ $stderr == *"--plot: cannot write '/nonexistent/x.svg': No such file or directory"* ]]
    [[ $stderr == *"hint: "* ]]
    run --separate-stderr leanattn-bench $(conv_args leanattn-bench) --svg /nonexistent/x.svg \
        testdata/conventions/leanattn-bench.jsonl
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    run --separate-stderr "${DP[@]}" --errors "$D" "$D/in.jsonl"
    [ "$status" -eq 2 ]
    [[ $stderr == *"Is a directory"* ]]
    run --separate-stderr "${DP[@]}" --errors "$D/in.jsonl/x" "$D/in.jsonl"
    [ "$status" -eq 2 ]
    [[ $stderr == *"Not a directory"* ]]
}

# Starts dp-estimate (behind the wrapper command given, if any) on a pipe
# that stays open, with --errors over an existing file; once its temporary
# file exists, sends it signal SIG and checks the exit status EXPECT, that
# the temporary file is gone and that the target is intact.
interrupt() {
    local sig=$1 expect=$2 st=0
    shift 2
    rm -f "$D/feed"
    mkfifo "$D/feed"
    echo keep >"$D/out.jsonl"
    "$@" "${DP[@]}" --errors "$D/out.jsonl" "$D/feed" &
    local pid=$!
    exec 7>"$D/feed"
    for _ in $(seq 100); do
        compgen -G "$D/.out.jsonl.*" >/dev/null && break
        sleep 0.05
    done
    compgen -G "$D/.out.jsonl.*" >/dev/null || { echo "no temporary file appeared"; return 1; }
    kill -"$sig" "$pid"
    exec 7>&-
    wait "$pid" || st=$?
    [ "$st" -eq "$expect" ] || { echo "$sig: exit $st"; return 1; }
    [ -z "$(compgen -G "$D/.out.jsonl.*")" ]
    [ "$(cat "$D/out.jsonl")" = keep ]
}

@test "SIGTERM, SIGINT and SIGHUP remove the temporary file and keep the target" {
    # a background job inherits SIGINT ignored, and under nohup SIGHUP is
    # ignored too (the commands then keep it ignored): give each signal its
    # default disposition back
    interrupt TERM 143 env --default-signal=TERM
    interrupt INT 130 env --default-signal=INT
    interrupt HUP 129 env --default-signal=HUP
}

@test "a closed standard input is an error, not empty input" {
    # bats itself would reuse descriptor 0: close it in the command's own shell
    closed() { bash -c 'exec 0<&-; exec "$@"' closed "$@"; }
    run --separate-stderr closed "${DP[@]}"
    [ "$status" -eq 1 ]
    [[ $stderr == *"cannot read standard input: Bad file descriptor"* ]]
    run --separate-stderr closed "${DP[@]}" -
    [ "$status" -eq 1 ]
    run --separate-stderr closed route apply --prices - --threshold 0.5
    [ "$status" -ne 0 ]
    [[ $stderr == *"cannot read standard input: Bad file descriptor"* ]]
    # a file operand needs no standard input
    run closed "${DP[@]}" "$D/in.jsonl"
    assert_line --index 0 --partial '"eps_lo"'
}

# Writes $D/big.jsonl: three records RECORD, then one whose string field
# FIELD holds BYTES bytes, then RECORD again.
big_input() {
    local rec=$1 field=$2 bytes=$3
    { echo "$rec"; echo "$rec"; echo "$rec"
      printf '{"%s":"' "$field"; head -c "$bytes" /dev/zero | tr '\0' a; echo '"}'
      echo "$rec"; } >"$D/big.jsonl"
}

@test "a line too long for the memory left is an error naming it; earlier records are written" {
    [ "${SAN:-0}" = 1 ] && skip "ASan reserves more address space than a ulimit -v leaves"
    big_input '{"tp":76,"fp":19,"tn":982,"fn":923}' s 300000000
    echo '{"tp":76,"fp":19,"tn":982,"fn":923}' >"$D/next.jsonl"
    run --separate-stderr bash -c "ulimit -v 400000; ${DP[*]} '$D/big.jsonl' '$D/next.jsonl'"
    rm -f "$D/big.jsonl"
    [ "$status" -eq 2 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ $stderr == *"big.jsonl:4: line too long for the memory available"* ]]
}

@test "out of memory tokenizing a record is exit 2 naming it, after the records before it" {
    [ "${SAN:-0}" = 1 ] && skip "ASan reserves more address space than a ulimit -v leaves"
    big_input '{"text":"Hello, world!"}' text 50000000
    run --separate-stderr bash -c "ulimit -v 500000; tokenize $(conv_args tokenize) '$D/big.jsonl'"
    rm -f "$D/big.jsonl"
    [ "$status" -eq 2 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ $stderr == *"big.jsonl:4: out of memory while processing this record; the records before it were written"* ]]
    [[ $stderr == *"out of memory allocating "*" bytes ("*")"* ]]
}
