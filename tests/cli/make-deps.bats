#!/usr/bin/env bats
# make-deps.bats - the Makefile's first run: `make demo` installs what is
# missing and then re-reads pkg-config (no second run needed); not root, it
# prints the exact apt-get line; with everything present nothing is
# installed.  apt-get, id and pkg-config are stand-ins on PATH: jansson,
# PCRE2 and libcurl "appear" only once the fake apt-get has run.

load helpers

setup() {
    TMP="$(mktemp -d)"
    REAL_PC="$(command -v pkg-config)"
    mkdir -p "$TMP/fake"
    cat >"$TMP/fake/pkg-config" <<EOS
#!/bin/sh
if [ ! -e "$TMP/installed" ]; then
    for a; do case \$a in jansson|libpcre2-8|libcurl) exit 1 ;; esac; done
fi
exec "$REAL_PC" "\$@"
EOS
    cat >"$TMP/fake/apt-get" <<EOS
#!/bin/sh
echo "apt-get \$*" >>"$TMP/apt.log"
[ "\$1" = install ] && touch "$TMP/installed"
exit 0
EOS
    cat >"$TMP/fake/id" <<EOS
#!/bin/sh
if [ "\$1" = -u ]; then echo "\${FAKE_UID:-0}"; else exec /usr/bin/id "\$@"; fi
EOS
    chmod +x "$TMP/fake/"*
    : >"$TMP/apt.log"
    # the build is already there: nothing is compiled, only the decisions run
    MK=(make -C "$TOP" --no-print-directory BUILD="$BUILD" SAN="${SAN:-0}" CUDA=0)
}
teardown() {
    rm -rf "$TMP"
}

@test "make demo: as root, installs the missing packages, then builds and runs on the first try" {
    run -0 env PATH="$TMP/fake:$PATH" "${MK[@]}" demo
    [[ $output == *"lmkit: missing: libjansson-dev libpcre2-dev libcurl4-openssl-dev"* ]] || fail "$output"
    [[ $output != *"development files are missing"* ]] || fail "$output"
    [[ $output == *"== lingua-compress"* ]] || fail "$output"
    grep -q '^apt-get install .* libjansson-dev libpcre2-dev libcurl4-openssl-dev$' "$TMP/apt.log" || fail "$(cat "$TMP/apt.log")"
}

@test "make demo: not root, prints the exact sudo apt-get line and installs nothing (exit 2)" {
    run -2 env FAKE_UID=1000 PATH="$TMP/fake:$PATH" "${MK[@]}" demo
    [[ $output == *"  sudo apt-get install libjansson-dev libpcre2-dev libcurl4-openssl-dev"* ]] || fail "$output"
    [ ! -s "$TMP/apt.log" ] || fail "apt-get ran: $(cat "$TMP/apt.log")"
}

@test "make deps-check (run by make check): everything present, nothing installed, nothing printed" {
    touch "$TMP/installed"
    run -0 env PATH="$TMP/fake:$PATH" "${MK[@]}" deps-check
    assert_output ""
    [ ! -s "$TMP/apt.log" ] || fail "apt-get ran: $(cat "$TMP/apt.log")"
}

@test "make check re-invokes make after deps-check (pkg-config is read again)" {
    # the recipe of check, as make would run it, starts a new make for the build
    run -0 make -C "$TOP" --no-print-directory -n BUILD="$BUILD" check
    [[ $output == *"all-tests"* ]] || fail "$output"
}

@test "scripts under set -o pipefail never pipe into grep -q (SIGPIPE would fail the pipeline)" {
    # grep -q exits at its first match; a writer still writing then dies of
    # SIGPIPE and pipefail reports the pipeline as failed, at random
    local f bad=
    while IFS= read -r f; do
        grep -q 'pipefail' "$f" || continue
        if grep -nE '\|[[:space:]]*grep[[:space:]]+(-[a-zA-Z]*q|--quiet)' "$f" |
            grep -vE '^[0-9]+:[[:space:]]*#'; then bad+=" $f"; fi
    done < <(cd "$TOP" && git ls-files -- '.ci/*' '*.sh' 'tests/run' | sed "s|^|$TOP/|")
    [ -z "$bad" ] || fail "grep -q at the end of a pipe under pipefail in:$bad"
}
