#!/bin/sh
# Builds the Linux test guest's initramfs from what Debian installs:
#   sh mkinitramfs.sh INIT OUT.cpio.gz
# The archive holds a static busybox with a link for each applet, INIT as
# /init, and for every kernel in ROOT/boot the kernel modules the guest
# needs to power off on its power button (button.ko or gpio_keys.ko,
# evdev.ko) and those
# that let it read a cloud-init seed on an IDE CD-ROM (ATA, SCSI CD-ROM,
# ISO 9660), which init loads only when asked (vmd.cidata), and on x86
# those of a virtio NIC (virtio_pci, virtio_net), loaded only with vmd.ip=.  Nothing is
# downloaded and root is not needed: cpio writes every file as owned by 0:0.
# OUT is replaced atomically, so a failed run never leaves half an archive.
# A foreign architecture's guest: BUSYBOX=its busybox-static, ROOT=the tree
# its kernel package was unpacked in (dpkg-deb -x); default /.
set -eu

die() {
	echo "mkinitramfs.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: mkinitramfs.sh INIT OUT.cpio.gz"
init=$1
out=$2
busybox=${BUSYBOX:-/bin/busybox}
root=${ROOT:-}

[ -f "$init" ] || die "$init: no such init script"
for tool in cpio gzip find sort; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found (apt-get install $tool)"
done
# Debian's plain busybox package also installs /bin/busybox, but linked
# against glibc, which the initramfs does not have.
[ -x "$busybox" ] ||
	die "$busybox not found: apt-get install busybox-static"
# readelf, not ldd: ldd cannot read another architecture's binary.
command -v readelf >/dev/null 2>&1 || die "readelf not found (binutils)"
if LC_ALL=C readelf -l "$busybox" | grep -q INTERP; then
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
# Another architecture's busybox cannot run here to list its applets: the
# guest's init links them (busybox --install) when only sh is there.
applets=$("$busybox" --list 2>/dev/null) || applets=sh
for applet in $applets; do
	[ "$applet" = busybox ] || ln -s busybox "$tree/bin/$applet"
done
cp "$init" "$tree/init"
chmod 755 "$tree/init"

# The ACPI power button is a module in Debian's kernel (button.ko; on
# aarch64's virt machine a GPIO key, gpio_keys.ko) and busybox acpid reads
# it through evdev (evdev.ko).  Without them QEMU's
# system_powerdown goes unheard; the guest still boots, so a missing
# module is only a warning.
copy_module() { # VERSION PATH-UNDER-kernel/ WHAT-IS-LOST-WITHOUT-IT
	for f in "$root/lib/modules/$1/kernel/$2".ko \
		 "$root/lib/modules/$1/kernel/$2".ko.xz; do
		[ -f "$f" ] || continue
		mkdir -p "$tree/lib/modules/$1"
		case $f in
		*.xz) { "$busybox" unxz -c "$f" 2>/dev/null || xz -dc "$f"; } \
			> "$tree/lib/modules/$1/${2##*/}.ko" ;;
		*) cp "$f" "$tree/lib/modules/$1/" ;;
		esac
		return 0
	done
	echo "mkinitramfs.sh: warning: no $2.ko for kernel $1;" \
		"the guest will not $3" >&2
}
for kernel in "$root"/boot/vmlinuz-*; do
	[ -e "$kernel" ] || continue
	version=${kernel#"$root"/boot/vmlinuz-}
	[ -d "$root/lib/modules/$version" ] || continue
	acpi="power off on ACPI power-down"
	case $version in
	*-arm64) copy_module "$version" drivers/input/keyboard/gpio_keys "$acpi" ;;
	*-s390x) ;;  # its power-down is the SCLP quiesce: no module
	*) copy_module "$version" drivers/acpi/button "$acpi" ;;
	esac
	copy_module "$version" drivers/input/evdev "$acpi"
	# in the order of their dependencies (modules.dep), as init loads them
	for m in scsi/scsi_common scsi/scsi_mod ata/libata ata/ata_piix \
		 cdrom/cdrom scsi/sr_mod; do
		copy_module "$version" "drivers/$m" "read a cloud-init seed"
	done
	copy_module "$version" fs/isofs/isofs "read a cloud-init seed"
	# a virtio NIC (test_bridge.py), loaded by init only with vmd.ip=
	case $version in
	*-amd64)
		for m in drivers/virtio/virtio_ring drivers/virtio/virtio \
			 drivers/virtio/virtio_pci_legacy_dev \
			 drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci \
			 net/core/failover drivers/net/net_failover drivers/net/virtio_net; do
			copy_module "$version" "$m" "have a virtio NIC"
		done ;;
	esac
done

# Through a file, not a pipe: sh has no pipefail to catch a failing cpio.
(cd "$tree" && find . | LC_ALL=C sort > "$tree.list" &&
	cpio -o -H newc -R 0:0 --quiet < "$tree.list") > "$tmp.cpio"
gzip -n -9 < "$tmp.cpio" > "$tmp"
mv -f "$tmp" "$out"
