# helpers.bash - shared set-up for lmkit's bats tests.
bats_require_minimum_version 1.5.0
# Puts the build's bin first on PATH, loads bats-support and bats-assert,
# and runs everything in the C locale.
TOP="$(cd "$(dirname "$BATS_TEST_FILENAME")/../.." && pwd)"
BUILD="${BUILD:-build}"
case $BUILD in /*) BIN="$BUILD/bin" ;; *) BIN="$TOP/$BUILD/bin" ;; esac
export PATH="$BIN:$PATH" LC_ALL=C
SHARED="${LMKIT_SHARED:-$TOP/../shared}"
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

# Extra arguments and a valid sample record for a command's convention tests.
conv_args() { cat "$TOP/testdata/conventions/$1.args" 2>/dev/null; }
conv_input() { cat "$TOP/testdata/conventions/$1.jsonl"; }
