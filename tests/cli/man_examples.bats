#!/usr/bin/env bats
# man_examples.bats - the EXAMPLES of every man page run as tests.
#
# In a page's EXAMPLES section, each literal display (.Bd -literal ... .Ed)
# holds commands starting with "$ " and, optionally, the exact output that
# follows them.  Commands run with bash (pipefail) in testdata/, with the
# build's commands first on PATH; each must exit 0 and, where output is
# shown, print exactly that.

load helpers

@test "man page examples run and print what the page shows" {
    local n=0
    for page in "$TOP"/man/man1/*.1; do
        [ -f "$page" ] || continue
        "$TOP/tests/cli/man-examples" "$page" >"$BATS_TEST_TMPDIR/ex.tsv" ||
            fail "$(basename "$page"): cannot extract examples"
        while IFS=$'\t' read -r cmd want; do
            n=$((n+1))
            cmd=$(printf '%b' "$cmd")
            want=$(printf '%b' "$want")
            run bash -o pipefail -c "cd '$TOP/testdata' && $cmd" </dev/null
            [ "$status" -eq 0 ] || fail "$(basename "$page"): '$cmd' exited $status: $output"
            if [ -n "$want" ]; then
                [ "$output" = "$want" ] || fail "$(basename "$page"): '$cmd' printed:
$output
expected:
$want"
            fi
        done <"$BATS_TEST_TMPDIR/ex.tsv"
        grep -q '^\.Sh EXAMPLES' "$page" || fail "$(basename "$page") has no EXAMPLES section"
    done
    [ "$n" -gt 0 ] || fail "no examples found"
}

@test "man pages are well-formed mdoc" {
    command -v mandoc >/dev/null || command -v groff >/dev/null || skip "neither mandoc nor groff installed"
    for page in "$TOP"/man/man1/*.1; do
        if command -v mandoc >/dev/null; then
            run mandoc -T lint -W warning "$page"
            [ "$status" -le 1 ] || fail "$(basename "$page"): $output"
        else
            run groff -mandoc -Tutf8 -ww -z "$page"
            assert_success
        fi
    done
}
