#!/bin/sh
# Builds the Linux test guest of a foreign architecture from Debian's
# packages of that architecture:
#   sh mkforeign.sh ARCH DIR        (ARCH: aarch64 or s390x)
# leaves DIR/vmlinuz (the kernel QEMU's -kernel takes) and
# DIR/initramfs.cpio.gz (mkinitramfs.sh with that arch's busybox-static
# and kernel modules).  The packages are fetched with apt-get download
# through a private apt state in DIR/apt (its own package lists for the
# arch, an empty dpkg status): the host's dpkg, its architectures and its
# apt lists stay as they are, and nothing is installed, only unpacked with
# dpkg-deb -x.  Exits 77 when the packages cannot be downloaded (no
# network, no sources), with the reason on stderr.
set -eu

arch=${1:-}
dir=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
case "$# $arch" in
"2 aarch64") deb=arm64 ;;
"2 s390x") deb=s390x ;;
*) echo "usage: mkforeign.sh aarch64|s390x DIR" >&2; exit 1 ;;
esac
[ -f "$dir/vmlinuz" ] && [ -f "$dir/initramfs.cpio.gz" ] && exit 0

apt=$dir/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/debs"
: > "$apt/status"
set -- -q -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
	-o Dir::State::status="$apt/status" -o APT::Architecture="$deb" \
	-o APT::Architectures::="$deb" -o APT::Sandbox::User=root

cannot() {
	echo "mkforeign.sh: cannot download Debian's $deb packages: $*" >&2
	exit 77
}
[ -n "$(ls "$apt/lists" | grep "binary-${deb}_Packages")" ] ||
	apt-get "$@" update > "$apt/update.log" 2>&1 ||
	cannot "apt-get update failed: $(tail -n 3 "$apt/update.log")"
kernel=$(apt-cache "$@" depends "linux-image-$deb:$deb" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\).*/\1/p' | head -n 1)
[ -n "$kernel" ] || cannot "no linux-image-$deb in the package lists"
(cd "$dir/debs" && apt-get "$@" download "$kernel:$deb" \
	"busybox-static:$deb") > "$apt/download.log" 2>&1 ||
	cannot "apt-get download failed: $(tail -n 3 "$apt/download.log")"

root=$dir/root
rm -rf "$root"
for f in "$dir"/debs/*.deb; do
	dpkg-deb -x "$f" "$root"
done
image=$(ls "$root"/boot/vmlinuz-* | head -n 1)
# QEMU's -kernel takes arm64's Image, not a gzip of it.
if [ "$(od -An -tx1 -N2 "$image" | tr -d ' ')" = 1f8b ]; then
	gzip -dc < "$image" > "$dir/vmlinuz.tmp"
else
	cp "$image" "$dir/vmlinuz.tmp"
fi
BUSYBOX=$root/bin/busybox ROOT=$root sh "$here/mkinitramfs.sh" \
	"$here/init" "$dir/initramfs.cpio.gz"
mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
