#!/usr/bin/env bash
# tests/fresh-debian.sh - the README's set-up on a bare Debian 12: builds a
# minimal bookworm root with debootstrap, clones the committed HEAD into it
# (nothing beside the clone), installs make as the README says a bare image
# needs, then runs `make demo` and `make check` there, in that order, each
# once, and reports both exit statuses.
#
# Usage (as root, with network access to a Debian mirror; run by hand, not
# part of make check):
#   tests/fresh-debian.sh [DIR]
# DIR (default: a new temporary folder) receives the root file system; it is
# removed afterwards unless KEEP=1.  MIRROR overrides the Debian mirror.
# Exit 0 when both commands exited 0; the log is DIR.log.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "fresh-debian: run as root (debootstrap and chroot need it)" >&2; exit 2; }
command -v debootstrap >/dev/null ||
    { echo "fresh-debian: debootstrap is missing; hint: apt-get install debootstrap" >&2; exit 2; }
root=${1:-$(mktemp -d "${TMPDIR:-/tmp}/lmkit-debian.XXXXXX")}
log=$root.log
mirror=${MIRROR:-http://deb.debian.org/debian}
mounts=()
cleanup() {
    local i
    for (( i = ${#mounts[@]} - 1; i >= 0; i-- )); do umount -l "${mounts[i]}" 2>/dev/null; done
    [ "${KEEP:-0}" = 1 ] || rm -rf "$root"
}
trap cleanup EXIT
echo "# fresh-debian: bookworm minbase in $root (log: $log)"
if [ ! -x "$root/bin/sh" ]; then
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1 ||
        { echo "fresh-debian: debootstrap failed; see $log" >&2; exit 2; }
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
for d in proc sys dev dev/pts; do
    mount --bind "/$d" "$root/$d" && mounts+=("$root/$d") ||
        { echo "fresh-debian: cannot bind /$d" >&2; exit 2; }
done
rm -rf "$root/root/lmkit"
git clone -q --no-hardlinks "$top" "$root/root/lmkit" &&
    git -C "$root/root/lmkit" checkout -q --detach "$(git -C "$top" rev-parse HEAD)" ||
    { echo "fresh-debian: git clone failed" >&2; exit 2; }
echo "# fresh-debian: $(git -C "$root/root/lmkit" log -1 --format='%h %s')"
in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c "$1" >>"$log" 2>&1
}
in_root 'apt-get update -qq && apt-get install -y -qq make' ||
    { echo "fresh-debian: apt-get install make failed; see $log" >&2; exit 2; }
in_root 'cd /root/lmkit && make demo'
demo=$?
in_root 'cd /root/lmkit && make check'
check=$?
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
echo "# fresh-debian: make demo: exit $demo; make check: exit $check (${summary:-no summary})"
[ "$demo" = 0 ] && [ "$check" = 0 ]
