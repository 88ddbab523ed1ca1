#!/usr/bin/env bash
# Runs the README's two commands (quickstart, then the whole test suite)
# from a clean clone of this checkout's HEAD inside a freshly bootstrapped
# Debian 12 chroot: no PostgreSQL, no chromium, no python3-venv, so the
# scripts must install what they need themselves. Needs root, debootstrap
# and a Debian mirror. The host's Rust toolchain is bind-mounted (rustup
# cannot download where only package registries are reachable), and the
# host's extra CA certificates under /usr/local/share/ca-certificates are
# copied in (a site proxy that re-signs TLS needs them; nothing else is).
#
#   sudo deploy/fresh-debian.sh [DIR]      (default DIR: /tmp/swf-debian12)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/tmp/swf-debian12}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
toolchain=$(rustc --print sysroot)

cleanup() {
    for m in src opt/rust dev sys proc; do
        umount -R "$root/$m" 2>/dev/null || true
    done
}
trap cleanup EXIT

rm -rf "$root"
echo "== debootstrap bookworm into $root" >&2
debootstrap --variant=minbase --include=ca-certificates,git,gcc,libc6-dev,python3,sudo \
    bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1
cp /etc/resolv.conf "$root/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
fi
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mkdir -p "$root/opt/rust" "$root/src"
mount --bind "$toolchain" "$root/opt/rust"
mount --bind "$repo" "$root/src"

cat >"$root/root/check.sh" <<'INSIDE'
set -u
echo "Debian $(cat /etc/debian_version)"
git config --global --add safe.directory '*'
git clone -q /src /root/swf-alarms && cd /root/swf-alarms
echo "== $(git log --oneline -1)"
time ./deploy/quickstart.sh; echo "quickstart exit status: $?"
time ./deploy/test.sh; echo "test exit status: $?"
INSIDE
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PATH=/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash /root/check.sh
