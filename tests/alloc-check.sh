#!/bin/sh
# tests/alloc-check.sh - the allocation rule of lib/core/diag.h: host memory
# in lib/ and cmd/ comes from lm_xmalloc, lm_xcalloc, lm_xrealloc,
# lm_xstrdup, lm_xstrndup and lm_grow, never from malloc, calloc, realloc,
# strdup or strndup called directly.
#
#   tests/alloc-check.sh [TOP]   list the direct calls as FILE:LINE: text;
#                                exit 1 if there are any
#
# Scanned and reported: *.c, *.h and *.cu under the folders of CHECKED
# (TOP defaults to the repository).  Allowed: lib/core/diag.c, where the
# wrappers call the C library.  The record reader's exception
# (lib/core/jsonl.c sizes its line buffer through getline and reports "line
# too long for the memory available") is no direct call and needs no entry.
# Comment lines ("/*", "//", " * ...") are skipped; "*out = malloc(n)" is a
# call.
CHECKED="lib cmd"
ALLOWED="lib/core/diag.c"

set -u
TOP=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$TOP" || exit 2
for d in $CHECKED; do
    [ -d "$d" ] || { echo "alloc-check: $TOP/$d: no such folder (CHECKED names it)" >&2; exit 2; }
done
files=$(find lib cmd -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) 2>/dev/null | LC_ALL=C sort)
bad=0 n=0
for f in $files; do
    in=0
    for d in $CHECKED; do
        case $f in "$d"/*) in=1 ;; esac
    done
    for a in $ALLOWED; do
        [ "$f" = "$a" ] && in=0
    done
    [ "$in" = 1 ] || continue
    n=$((n + 1))
    # a call: the name not preceded by a letter, digit or _ (lm_xmalloc and
    # json_malloc are not calls of malloc), then optional blanks and "("
    hits=$(grep -nE '(^|[^A-Za-z0-9_])(malloc|calloc|realloc|strdup|strndup)[[:space:]]*\(' "$f" |
           grep -vE '^[0-9]+:[[:space:]]*(/\*|//|\*([[:space:]]|/|$))')
    [ -n "$hits" ] || continue
    printf '%s\n' "$hits" | sed "s|^|$f:|"
    bad=$((bad + $(printf '%s\n' "$hits" | wc -l)))
done
if [ "$bad" != 0 ]; then
    echo "alloc-check: $bad direct allocation calls in $CHECKED; hint: use lm_xmalloc, lm_xcalloc," \
         "lm_xrealloc, lm_xstrdup, lm_xstrndup or lm_grow (lib/core/diag.h)" >&2
    exit 1
fi
echo "alloc-check: $n files in $CHECKED allocate through lib/core/diag.h"
