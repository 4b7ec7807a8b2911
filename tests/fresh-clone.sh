#!/usr/bin/env bash
# tests/fresh-clone.sh - the repository is self-contained: a clone of the
# committed HEAD, in a temporary folder with nothing beside it, passes
# `make check` with no check skipped except those that need a GPU.
#
# Usage: tests/fresh-clone.sh [MAKE-ARGUMENT]...   (from anywhere in the checkout)
# The arguments go to `make check` (e.g. CUDA=0 WERROR=1).  Uncommitted
# changes are not part of the clone.  Environment: TMPDIR (where the clone
# goes), KEEP=1 keeps the clone.  LMKIT_TIKTOKEN and
# LMKIT_REAL_MODEL are unset for the run.  Exit 0 when every check ran and
# passed; 1 otherwise, naming the unexpected skips.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
base=$(mktemp -d "${TMPDIR:-/tmp}/lmkit-fresh.XXXXXX") || exit 2
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$base"' EXIT; fi
rev=$(git -C "$top" rev-parse HEAD) || exit 2
# the clone sits alone in its own folder: nothing beside it
git -c advice.detachedHead=false clone -q --no-hardlinks "$top" "$base/lmkit" &&
    git -C "$base/lmkit" checkout -q --detach "$rev" || { echo "fresh-clone: git clone failed" >&2; exit 2; }
cd "$base/lmkit" || exit 2
echo "# fresh-clone: $(git log -1 --format='%h %s') in $base/lmkit"
log="$base/check.log"
env -u LMKIT_TIKTOKEN -u LMKIT_REAL_MODEL -u BUILD \
    make --no-print-directory check "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# the summary line of tests/run (make may print its own error line after it)
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
if [ -z "$last" ]; then
    echo "fresh-clone: make check printed no summary line (exit $rc)" >&2
    exit 1
fi
# tests/run lists the skipped checks ("#   NAME # skip REASON") under
# "# skipped (not counted as passed):" just before the summary line
bad=$(sed -n '/^# skipped (not counted as passed):$/,$p' "$log" | sed -n 's/^#   //p' |
      grep -viE 'gpu|cuda' || true)
if [ -n "$bad" ]; then
    echo "fresh-clone: checks skipped in a fresh clone (only GPU ones may be):" >&2
    printf '  %s\n' "$bad" >&2
    exit 1
fi
if [ "$rc" != 0 ]; then
    echo "fresh-clone: make check failed in a fresh clone (exit $rc): $last" >&2
    exit 1
fi
echo "# fresh-clone: ok: $last"
