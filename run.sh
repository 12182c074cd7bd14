#!/bin/sh
# One entry point for a fresh Debian 12 machine (run as root, or as a user
# with sudo):
#   ./run.sh demo   install what is missing, build, start vmd, boot the demo
#                   Linux guest and attach its serial console (Ctrl-] leaves)
#   ./run.sh test   install what is missing, build, run the test suite
set -eu
cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake pkg-config
  libjson-c-dev libevent-dev libsqlite3-dev libsystemd-dev libcmocka-dev
  qemu-system-x86 qemu-utils linux-image-amd64 busybox-static cpio
  qemu-system-arm qemu-system-misc
  python3 python3-jsonschema socat systemd dbus-daemon python3-dbus python3-gi
  clang libclang-rt-14-dev strace
  libisofs-dev libcrypt-dev libyaml-dev genisoimage libssl-dev
  python3-yaml python3-jinja2 python3-configobj python3-jsonpatch
  python3-requests python3-oauthlib python3-netifaces python3-serial
  libxml2-dev libvirt-dev libvirt-clients python3-libvirt libwslay-dev
  libvirt-daemon libvirt-daemon-driver-qemu
  libnl-route-3-dev iproute2 prometheus chromium"

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
	missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "run.sh: installing:$missing"
	as_root apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing
}

# npm packages the tests use (tests/node/package.json, pinned by its lock):
# Node from Debian only when no npm is there (nodesource's nodejs brings
# its own npm, which Debian's npm package would conflict with).
install_node() {
	if ! command -v npm >/dev/null 2>&1; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends nodejs npm
	fi
	(cd tests/node && npm ci --ignore-scripts --no-audit --no-fund)
}

build() {
	[ -x configure ] || autoreconf -fi
	[ -f Makefile ] || ./configure
	make -j"$(nproc)"
}

demo() {
	make tests/guests/initramfs.cpio.gz
	kernel=$(ls /boot/vmlinuz-* | sort -V | tail -n 1)
	dir=${VMD_DEMO_DIR:-$PWD/demo}
	mkdir -p "$dir"
	sock="$dir/vmd.sock"
	./vmd --state-dir "$dir/state" --run-dir "$dir/run" --socket "$sock" \
		2>"$dir/vmd.log" &
	vmd_pid=$!
	trap 'kill $vmd_pid 2>/dev/null; wait $vmd_pid 2>/dev/null || true' EXIT
	i=0
	until ./vmctl -s "$sock" host >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || { cat "$dir/vmd.log"; exit 1; }
		sleep 0.1
	done
	./vmctl -s "$sock" host
	./vmctl -s "$sock" kill demo >/dev/null 2>&1 || true
	./vmctl -s "$sock" undefine demo >/dev/null 2>&1 || true
	cat >"$dir/demo.json" <<JSON
{"name": "demo", "memory_mib": 256, "cpus": 1,
 "boot": {"kernel": "$kernel", "initrd": "$PWD/tests/guests/initramfs.cpio.gz",
          "cmdline": "console=ttyS0 quiet panic=-1"},
 "labels": {"purpose": "demo"}}
JSON
	./vmctl -s "$sock" define "$dir/demo.json"
	./vmctl -s "$sock" start demo
	./vmctl -s "$sock" list
	if [ -t 0 ]; then
		echo "Attaching the console; the busybox shell comes up in ~10 s under TCG. Ctrl-] leaves."
		./vmctl -s "$sock" console demo
	else
		# no terminal: wait for the shell, run two commands, show the answer
		{ sleep 20; printf 'uname -sr; echo demo-says-$((6*7))\n'; sleep 3; } |
			timeout 40 ./vmctl -s "$sock" console demo || true
		echo
	fi
	./vmctl -s "$sock" stop -t 10 demo
}

case "${1:-}" in
demo) install_missing; build; demo ;;
test) install_missing; install_node; build; make check ;;
*) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
