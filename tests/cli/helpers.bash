# helpers.bash - shared set-up for lmkit's bats tests.
bats_require_minimum_version 1.5.0
# Puts the build's bin first on PATH, loads bats-support and bats-assert,
# and runs everything in the C locale.
TOP="$(cd "$(dirname "$BATS_TEST_FILENAME")/../.." && pwd)"
BUILD="${BUILD:-build}"
case $BUILD in /*) BUILD_DIR="$BUILD" ;; *) BUILD_DIR="$TOP/$BUILD" ;; esac
BIN="$BUILD_DIR/bin"
export PATH="$BIN:$PATH" LC_ALL=C
# Data make decompresses from testdata/ (make fixtures): the default rank
# file as installed beside bin/, and the tokenizer files of the tests.
CL100K="$BUILD_DIR/share/lmkit/cl100k_base.tiktoken"
FIXTURES="$BUILD_DIR/testdata"
for lib in bats-support bats-assert; do
    for dir in /usr/lib/bats /usr/local/lib/bats /usr/lib/node_modules "$TOP/tests/cli/lib"; do
        if [ -f "$dir/$lib/load.bash" ]; then
            load "$dir/$lib/load.bash"
            break
        fi
    done
done

# The commands that exist in this build.
lmkit_commands() {
    local f
    for f in "$BIN"/*; do
        [ -x "$f" ] && basename "$f"
    done
}

# Every command and subcommand, one per line ("route", "route train", ...):
# the subcommands are those the command's --help lists under "Commands:".
lmkit_invocations() {
    local c
    for c in $(lmkit_commands); do
        echo "$c"
        "$c" --help | sed -n '/^Commands:$/,/^$/{s/^  \([a-z][a-z0-9-]*\) .*/\1/p}' |
            sed "s/^/$c /"
    done
}

# Extra arguments and a valid sample record for a command's convention tests.
conv_args() { cat "$TOP/testdata/conventions/$1.args" 2>/dev/null; }
conv_input() { cat "$TOP/testdata/conventions/$1.jsonl"; }
