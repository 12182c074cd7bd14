#!/bin/sh
# Builds the Linux test guest's initramfs from what Debian installs:
#   sh mkinitramfs.sh INIT OUT.cpio.gz
# The archive holds a static busybox with a link for each applet, INIT as
# /init, and the two kernel modules the guest needs to power off on ACPI's
# power button (button.ko, evdev.ko) for every kernel in /boot.  Nothing is
# downloaded and root is not needed: cpio writes every file as owned by 0:0.
# OUT is replaced atomically, so a failed run never leaves half an archive.
set -eu

die() {
	echo "mkinitramfs.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: mkinitramfs.sh INIT OUT.cpio.gz"
init=$1
out=$2
busybox=${BUSYBOX:-/bin/busybox}

[ -f "$init" ] || die "$init: no such init script"
for tool in cpio gzip find sort; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found (apt-get install $tool)"
done
# Debian's plain busybox package also installs /bin/busybox, but linked
# against glibc, which the initramfs does not have.
[ -x "$busybox" ] ||
	die "$busybox not found: apt-get install busybox-static"
if LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked: apt-get install busybox-static"
fi

tree=$(mktemp -d "${TMPDIR:-/tmp}/vmd-initramfs.XXXXXX")
tmp="$out.tmp.$$"
trap 'rm -rf "$tree"; rm -f "$tree.list" "$tmp" "$tmp.cpio"' EXIT
trap 'exit 1' HUP INT TERM

chmod 755 "$tree"
mkdir -p "$tree/bin" "$tree/dev" "$tree/proc" "$tree/sys" "$tree/tmp" \
	"$tree/root" "$tree/etc" "$tree/var/log" "$tree/var/run" \
	"$tree/lib/modules"
chmod 1777 "$tree/tmp"
cp "$busybox" "$tree/bin/busybox"
chmod 755 "$tree/bin/busybox"
# Relative links, so they resolve inside the guest whatever the host has.
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$tree/bin/$applet"
done
cp "$init" "$tree/init"
chmod 755 "$tree/init"

# The ACPI power button is a module in Debian's kernel (button.ko) and
# busybox acpid reads it through evdev (evdev.ko).  Without them QEMU's
# system_powerdown goes unheard; the guest still boots, so a missing
# module is only a warning.
copy_module() { # VERSION PATH-UNDER-kernel/
	for f in "/lib/modules/$1/kernel/$2".ko \
		 "/lib/modules/$1/kernel/$2".ko.xz; do
		[ -f "$f" ] || continue
		mkdir -p "$tree/lib/modules/$1"
		case $f in
		*.xz) "$busybox" unxz -c "$f" \
			> "$tree/lib/modules/$1/${2##*/}.ko" ;;
		*) cp "$f" "$tree/lib/modules/$1/" ;;
		esac
		return 0
	done
	echo "mkinitramfs.sh: warning: no $2.ko for kernel $1;" \
		"the guest will not power off on ACPI power-down" >&2
}
for kernel in /boot/vmlinuz-*; do
	[ -e "$kernel" ] || continue
	version=${kernel#/boot/vmlinuz-}
	[ -d "/lib/modules/$version" ] || continue
	copy_module "$version" drivers/acpi/button
	copy_module "$version" drivers/input/evdev
done

# Through a file, not a pipe: sh has no pipefail to catch a failing cpio.
(cd "$tree" && find . | LC_ALL=C sort > "$tree.list" &&
	cpio -o -H newc -R 0:0 --quiet < "$tree.list") > "$tmp.cpio"
gzip -n -9 < "$tmp.cpio" > "$tmp"
mv -f "$tmp" "$out"
