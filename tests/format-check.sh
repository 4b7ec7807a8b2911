#!/bin/sh
# tests/format-check.sh - the C sources follow .clang-format.
#
#   tests/format-check.sh          list the files whose layout differs; exit 1 if any
#   tests/format-check.sh --fix    rewrite them in place (`make format`)
#
# Checked: *.c, *.h and *.cu under cmd/, lib/, kernels/, tests/ and bench/,
# except generated tables (lib/text/hftok_unidata.c, made by
# tests/golden/gen_unicode_tables.py).  Needs clang-format (Debian:
# clang-format); the layout is that of clang-format 14, Debian 12's.
set -u
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null ||
    { echo "format-check: clang-format is missing; hint: apt-get install clang-format" >&2; exit 2; }
files=$(find cmd lib kernels tests bench -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) \
        ! -path 'tests/fuzz/corpus/*' ! -name hftok_unidata.c | LC_ALL=C sort)
if [ "${1:-}" = --fix ]; then
    # shellcheck disable=SC2086
    clang-format -i $files
    exit 0
fi
bad=0 n=0
for f in $files; do
    n=$((n + 1))
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "format-check: $f differs from .clang-format (run 'make format')"
        bad=$((bad + 1))
    fi
done
[ "$bad" = 0 ] && echo "format-check: $n files follow .clang-format"
[ "$bad" = 0 ]
