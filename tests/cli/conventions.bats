#!/usr/bin/env bats
# conventions.bats - the CLI conventions every lmkit command keeps.
#
# Runs against every command in the build.  Each command has a valid sample
# record in testdata/conventions/CMD.jsonl (with the odd-number fields
# x, id, big and s of the passthrough example) and, if it needs them,
# extra arguments in testdata/conventions/CMD.args.

load helpers

setup() {
    TMP="$(mktemp -d)"
}
teardown() {
    rm -rf "$TMP"
}

# runs CMD with its convention arguments on stdin from file $2
conv_run() {
    local c=$1 input=$2; shift 2
    # shellcheck disable=SC2046
    run --separate-stderr "$c" $(conv_args "$c") "$@" <"$input"
}

@test "every command has a conventions fixture, a man page and completions" {
    local c n=0
    for c in $(lmkit_commands); do
        n=$((n+1))
        [ -f "$TOP/testdata/conventions/$c.jsonl" ] || fail "$c: no testdata/conventions/$c.jsonl"
        [ -f "$TOP/man/man1/$c.1" ] || fail "$c: no man page man/man1/$c.1"
        [ -f "$TOP/completions/bash/$c" ] || fail "$c: no completions/bash/$c (make completions)"
        [ -f "$TOP/completions/zsh/_$c" ] || fail "$c: no completions/zsh/_$c"
        [ -f "$TOP/completions/fish/$c.fish" ] || fail "$c: no completions/fish/$c.fish"
    done
    [ "$n" -gt 0 ] || fail "no commands built"
}

@test "--help prints usage on stdout and exits 0" {
    for c in $(lmkit_commands); do
        run --separate-stderr "$c" --help
        assert_success
        [[ ${lines[0]} == "Usage: $c "* ]] || fail "$c --help: first line '${lines[0]}'"
        [ -z "$stderr" ] || fail "$c --help wrote to stderr: $stderr"
    done
}

@test "--version prints 'NAME (lmkit) X.Y.Z'" {
    for c in $(lmkit_commands); do
        run --separate-stderr "$c" --version
        assert_success
        [[ ${lines[0]} =~ ^$c\ \(lmkit\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "$c --version: '${lines[0]}'"
    done
}

@test "an unknown option is a usage error (exit 2, Try line)" {
    for c in $(lmkit_commands); do
        run --separate-stderr "$c" --no-such-option
        [ "$status" -eq 2 ] || fail "$c: status $status"
        [[ $stderr == *"unrecognized option '--no-such-option'"* ]] || fail "$c: $stderr"
        [[ $stderr == *"Try '$c --help' for more information."* ]] || fail "$c: no Try line: $stderr"
        [ -z "$output" ] || fail "$c: wrote to stdout on a usage error"
    done
}

@test "writing to /dev/full fails with exit 2 and a write error" {
    for c in $(lmkit_commands); do
        conv_input "$c" >"$TMP/in"
        run bash -c "$c $(conv_args "$c") <'$TMP/in' >/dev/full"
        [ "$status" -eq 2 ] || fail "$c: status $status: $output"
        [[ $output == *"write error"* ]] || fail "$c: $output"
        run bash -c "$c --help >/dev/full"
        [ "$status" -eq 2 ] || fail "$c --help >/dev/full: status $status"
    done
}

@test "a closed stdout fails with exit 2" {
    for c in $(lmkit_commands); do
        conv_input "$c" >"$TMP/in"
        run bash -c "$c $(conv_args "$c") <'$TMP/in' >&-"
        [ "$status" -eq 2 ] || fail "$c: status $status: $output"
        [[ $output == *"write error"* ]] || fail "$c: $output"
    done
}

@test "a malformed line stops with FILE:LINE:COL, exit 1, good records before it written" {
    for c in $(lmkit_commands); do
        { conv_input "$c" | head -1; echo '{"a": tru}'; conv_input "$c" | head -1; } >"$TMP/in"
        conv_run "$c" "$TMP/in"
        [ "$status" -eq 1 ] || fail "$c: status $status: $stderr"
        [[ $stderr == "$c: <stdin>:2:7: "*"expected a JSON value"* ]] || fail "$c: message: $stderr"
        [[ $stderr == *"hint: "* ]] || fail "$c: no hint: $stderr"
        [ "${#lines[@]}" -ge 1 ] || fail "$c: the good record before the bad one was not written"
        cp "$TMP/in" "$TMP/in.file"
        # shellcheck disable=SC2046
        run --separate-stderr "$c" $(conv_args "$c") "$TMP/in.file"
        [[ $stderr == "$c: $TMP/in.file:2:7: "* ]] || fail "$c: file name in message: $stderr"
    done
}

@test "--keep-going skips bad records, counts them, exits 1 at the end" {
    for c in $(lmkit_commands); do
        { conv_input "$c" | head -1; echo '{"a": tru}'; conv_input "$c" | head -1; } >"$TMP/in"
        conv_run "$c" "$TMP/in" --keep-going
        [ "$status" -eq 1 ] || fail "$c: status $status"
        # one output record for each of the two good records, each carrying
        # the sample record's passthrough fields
        [ "${#lines[@]}" -eq 2 ] || fail "$c: ${#lines[@]} lines, expected 2: $output"
        for l in "${lines[@]}"; do
            [[ $l == *'"id":18446744073709551615'* ]] || fail "$c: not a good record's output: $l"
        done
        [[ $stderr == *"1 of 3 records rejected"* ]] || fail "$c: summary: $stderr"
    done
}

@test "--errors FILE collects rejected lines as JSON Lines" {
    for c in $(lmkit_commands); do
        { conv_input "$c" | head -1; printf '{"a": tru}\n'; } >"$TMP/in"
        conv_run "$c" "$TMP/in" --keep-going --errors "$TMP/err.jsonl"
        [ "$status" -eq 1 ] || fail "$c: status $status"
        run cat "$TMP/err.jsonl"
        [[ $output == '{"file":"<stdin>","line":2,"col":7,"error":"'*'","raw":"{\"a\": tru}"}' ]] ||
            fail "$c: errors file: $output"
        ls -a "$TMP" | grep -q '^\.err' && fail "$c: temporary errors file left behind"
        true
    done
}

@test "fields the command does not own pass through byte for byte" {
    for c in $(lmkit_commands); do
        line=$(conv_input "$c" | head -1)
        [[ $line == *'"x":0.1,"id":18446744073709551615,"big":1e400,"s":"\u00e9"'* ]] ||
            fail "$c: fixture lacks the passthrough fields"
        printf '%s\n' "$line" >"$TMP/in"
        conv_run "$c" "$TMP/in"
        assert_success
        [[ ${lines[0]} == *'"x":0.1,"id":18446744073709551615,"big":1e400,"s":"\u00e9"'* ]] ||
            fail "$c: passthrough changed: ${lines[0]}"
    done
}

@test "invalid UTF-8 is an error naming its column" {
    for c in $(lmkit_commands); do
        printf '{"s": "ab\xffc"}\n' >"$TMP/in"
        conv_run "$c" "$TMP/in"
        [ "$status" -eq 1 ] || fail "$c: status $status"
        [[ $stderr == "$c: <stdin>:1:10: invalid UTF-8 byte 0xff"* ]] || fail "$c: $stderr"
    done
}

@test "a missing final newline still ends a record" {
    for c in $(lmkit_commands); do
        conv_input "$c" | head -1 | tr -d '\n' >"$TMP/in"
        conv_run "$c" "$TMP/in"
        assert_success
        [ "${#lines[@]}" -ge 1 ] || fail "$c: no output for an unterminated last line"
        conv_input "$c" | head -1 | sed 's/$/\r/' >"$TMP/crlf"
        conv_run "$c" "$TMP/crlf"
        assert_success
    done
}

@test "output closed early (| head) is quiet" {
    for c in $(lmkit_commands); do
        line=$(conv_input "$c" | head -1)
        for i in $(seq 20000); do printf '%s\n' "$line"; done >"$TMP/many"
        run bash -c "$c $(conv_args "$c") <'$TMP/many' 2>'$TMP/err' | head -1 >/dev/null; cat '$TMP/err'"
        [ -z "$output" ] || fail "$c: not quiet: $output"
        # a command killed by SIGPIPE, not one that reports a write error
        run bash -c "$c $(conv_args "$c") <'$TMP/many' | head -1 >/dev/null; echo \${PIPESTATUS[0]}"
        [ "$output" = 141 ] || [ "$output" = 0 ] || fail "$c: exit status $output under | head"
    done
}

@test "every option in --help of every command and subcommand appears in the man page and the completions" {
    local inv n=0
    while read -r inv; do
        c=${inv%% *}
        # shellcheck disable=SC2086
        opts=$($inv --help | grep -oE '^ +(-[A-Za-z0-9], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+')
        [ -n "$opts" ] || fail "$inv: no options found in --help"
        n=$((n + $(wc -w <<<"$opts")))
        for o in $opts; do
            name=${o#--}
            grep -qE "(Fl -$name|\\\\-\\\\-$name)([^a-z0-9-]|\$)" "$TOP/man/man1/$c.1" || fail "$c: $o missing from man/man1/$c.1"
            grep -q -- "--$name" "$TOP/completions/bash/$c" || fail "$c: $o missing from bash completion"
            grep -q -- "--$name" "$TOP/completions/zsh/_$c" || fail "$c: $o missing from zsh completion"
            grep -q -- "-l $name" "$TOP/completions/fish/$c.fish" || fail "$c: $o missing from fish completion"
        done
    done < <(lmkit_invocations)
    # route's subcommands alone have more than a hundred options
    [ "$n" -gt 200 ] || fail "only $n options seen"
}

@test "--help of every command and subcommand fits 80 columns" {
    local inv
    while read -r inv; do
        # shellcheck disable=SC2086
        long=$($inv --help | awk 'length($0) > 80')
        [ -z "$long" ] || fail "$inv --help: lines over 80 columns: $long"
    done < <(lmkit_invocations)
}

@test "each man page's OPTIONS section agrees with the option tables (names, short names, arguments, defaults)" {
    # shellcheck disable=SC2046
    run python3 "$TOP/tests/man-options.py" "$BIN" "$TOP/man/man1" $(lmkit_commands)
    assert_success
}

@test "committed completions are what the option tables generate" {
    for c in $(lmkit_commands); do
        diff <("$c" --generate=complete-bash) "$TOP/completions/bash/$c" >/dev/null ||
            fail "$c: completions/bash/$c is stale: run 'make completions'"
        diff <("$c" --generate=complete-zsh) "$TOP/completions/zsh/_$c" >/dev/null ||
            fail "$c: completions/zsh/_$c is stale: run 'make completions'"
        diff <("$c" --generate=complete-fish) "$TOP/completions/fish/$c.fish" >/dev/null ||
            fail "$c: completions/fish/$c.fish is stale: run 'make completions'"
    done
}

@test "completions load in bash and offer the options" {
    command -v bash >/dev/null || skip "no bash"
    for c in $(lmkit_commands); do
        run bash -c "source '$TOP/completions/bash/$c'; COMP_WORDS=($c --he); COMP_CWORD=1; _lmkit_${c//-/_}; printf '%s\n' \"\${COMPREPLY[@]}\""
        assert_success
        [[ $output == *--help* ]] || fail "$c: bash completion of --he gave: $output"
    done
}

@test "lib/ and cmd/ allocate only through the checked wrappers of lib/core/diag.h" {
    run "$TOP/tests/alloc-check.sh"
    assert_success
}

@test "the allocation check finds a direct call, and only a call" {
    local d
    for d in $(sed -n 's/^CHECKED="\(.*\)"$/\1/p' "$TOP/tests/alloc-check.sh"); do
        mkdir -p "$TMP/$d"
    done
    mkdir -p "$TMP/lib/core" "$TMP/cmd"
    printf '%s\n' '/* malloc(n) in a comment, and lm_xmalloc(n), json_malloc(n) */' \
        'char *p = lm_xstrdup(s), *q = lm_xstrndup(s, 2);' >"$TMP/lib/core/ok.c"
    printf '%s\n' 'void *p = malloc(8);' >"$TMP/lib/core/diag.c"
    run "$TOP/tests/alloc-check.sh" "$TMP"
    assert_success
    printf '%s\n' 'int f(void)' '{' '    char *s = strdup ("x");' '    *out = malloc(n);' '}' \
        >"$TMP/lib/core/bad.c"
    run "$TOP/tests/alloc-check.sh" "$TMP"
    assert_failure
    [[ $output == *"lib/core/bad.c:3:"*"strdup"* ]] || fail "not named: $output"
    [[ $output == *"lib/core/bad.c:4:"*"malloc"* ]] || fail "not named: $output"
}
