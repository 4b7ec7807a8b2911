#!/usr/bin/env bats
# install.bats - make install / make uninstall put every file in its place.

load helpers

@test "make install DESTDIR=... installs binaries, man pages, completions and the rank file; uninstall removes them" {
    dest="$(mktemp -d)"
    run make -s -C "$TOP" install DESTDIR="$dest" PREFIX=/usr BUILD="$BUILD"
    assert_success
    n=0
    for c in $(lmkit_commands); do
        n=$((n+1))
        [ -x "$dest/usr/bin/$c" ] || fail "$c: binary"
        [ -f "$dest/usr/share/man/man1/$c.1" ] || fail "$c: man page"
        [ -f "$dest/usr/share/bash-completion/completions/$c" ] || fail "$c: bash completion"
        [ -f "$dest/usr/share/zsh/site-functions/_$c" ] || fail "$c: zsh completion"
        [ -f "$dest/usr/share/fish/vendor_completions.d/$c.fish" ] || fail "$c: fish completion"
        "$dest/usr/bin/$c" --version | grep -q "^$c (lmkit) " || fail "$c: installed binary does not run"
    done
    [ "$n" -gt 0 ]
    # the default count encoding, found by the installed commands with no flag
    [ -f "$dest/usr/share/lmkit/cl100k_base.tiktoken" ] || fail "share/lmkit/cl100k_base.tiktoken not installed"
    cmp "$dest/usr/share/lmkit/cl100k_base.tiktoken" "$CL100K" || fail "installed rank file differs"
    LMKIT_TIKTOKEN= run --separate-stderr "$dest/usr/bin/tokenize" -e cl100k_base --ids <<<'{"text":"Hello world"}'
    assert_success
    assert_output '{"text":"Hello world","n_tokens":2,"ids":[9906,1917]}'
    if "$dest/usr/bin/leanattn-bench" --version | grep -q cuda; then
        # the CUDA support library, found from the installed binary
        [ -f "$dest/usr/lib/lmkit/liblmkit-cuda.so" ] || fail "liblmkit-cuda.so not installed"
        LMKIT_CUDA_LIB= run --separate-stderr "$dest/usr/bin/leanattn-bench" --device cuda --check
        [[ $stderr != *"is missing"* && $stderr != *"cannot load"* ]] ||
            fail "the installed leanattn-bench does not find its library: $stderr"
    fi
    run make -s -C "$TOP" uninstall DESTDIR="$dest" PREFIX=/usr BUILD="$BUILD"
    assert_success
    left=$(find "$dest" -type f | wc -l)
    [ "$left" -eq 0 ] || fail "uninstall left $left files: $(find "$dest" -type f)"
    [ ! -d "$dest/usr/share/lmkit" ] || fail "uninstall left share/lmkit"
    rm -rf "$dest"
}
