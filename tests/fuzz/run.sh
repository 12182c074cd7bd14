#!/bin/sh
# Build the libFuzzer harnesses of tests/fuzz/ with clang (ASan + UBSan +
# libFuzzer) against rpc/ and the embedded schemas, then run each for a
# while on a copy of its seed corpus.  Exits non-zero when a harness finds
# a crash, a leak or undefined behaviour (the input is then in
# WORKDIR/crashes-NAME/), or when something cannot be built.
#
#   tests/fuzz/run.sh [--srcdir DIR] [--workdir DIR] [--seconds N]
#                     [--runs N] [--max-len N] [NAME...]
#
# Each input in tests/fuzz/crashes/NAME/ (what once failed) is run first and
# must pass.  NAME is protocol and/or config (default: both).  --seconds:
# time per harness (default $FUZZ_SECONDS or 60).  --runs: stop after N
# inputs instead (whichever comes first).  --max-len: the longest input
# libFuzzer tries (its -max_len; default 4096).  Each run starts from a
# fresh copy of tests/fuzz/corpus/NAME in WORKDIR/corpus-NAME (default
# WORKDIR: $TMPDIR/vmd-fuzz) and leaves there what it found.
# FUZZ_CFLAGS adds compiler flags.  FUZZ_CC overrides the compiler
# (default clang; CC is left alone, it often names gcc).  Needs clang with
# compiler-rt (Debian: clang, libclang-rt-14-dev), pkg-config and the json-c
# development files (libjson-c-dev).
set -eu

srcdir=
workdir=
seconds=${FUZZ_SECONDS:-60}
runs=
max_len=
names=

usage() {
	sed -n '8,9p' "$0" | sed 's/^# *//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--srcdir) srcdir=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--max-len) max_len=$2; shift 2 ;;
	-h|--help) usage ;;
	-*) echo "run.sh: unknown option $1" >&2; usage ;;
	protocol|config|vmd) names="$names $1"; shift ;;
	*) echo "run.sh: unknown harness $1 (protocol, config or vmd)" >&2; exit 2 ;;
	esac
done
[ -n "$srcdir" ] || srcdir=$(cd "$(dirname "$0")/../.." && pwd)
[ -n "$workdir" ] || workdir=${TMPDIR:-/tmp}/vmd-fuzz
[ -n "$names" ] || names="protocol config vmd"
case $seconds in ''|*[!0-9]*) echo "run.sh: --seconds wants a number" >&2; exit 2 ;; esac

cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run.sh: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
srcdir=$(cd "$srcdir" && pwd)

# rpc/ only needs the system extensions from config.h.
printf '#define _GNU_SOURCE 1\n' > "$workdir/config.h"
sh "$srcdir/schemas/embed.sh" "$srcdir/schemas" > "$workdir/embedded.c.tmp"
mv "$workdir/embedded.c.tmp" "$workdir/embedded.c"
mkdir -p "$workdir/schemas"
sh "$srcdir/schemas/embed.sh" --limits "$srcdir/schemas" > "$workdir/schemas/limits.h"

# A dictionary: JSON syntax, the request members, and every member name and
# word of the schemas (libFuzzer's format: one "quoted" entry a line).
{
	cat <<'EOF'
"{"
"}"
"["
"]"
":"
","
"\""
"null"
"true"
"false"
"-0"
"1e999"
"0.5"
"9223372036854775808"
"\\u0000"
"\\ud800"
"\\\""
"\x0d\x0a"
"\xc3\xa9"
"\xf0\x9f\x98\x80"
"\xef\xbb\xbf"
"\"jsonrpc\":\"2.0\""
"\"execute\":"
"\"arguments\":{"
"\"method\":"
"\"params\":{"
"\"id\":"
EOF
	LC_ALL=C grep -ho '"[A-Za-z0-9_$#/.:-]*"' "$srcdir/schemas/protocol.json" \
		"$srcdir/schemas/vm-config.json" | LC_ALL=C sort -u |
		sed 's/"/\\"/g; s/^/"/; s/$/"/'
} > "$workdir/json.dict"

cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter
	${FUZZ_CFLAGS:-}"
jsonc_cflags=$(pkg-config --cflags json-c 2>/dev/null || echo "-I/usr/include/json-c")
jsonc_libs=$(pkg-config --libs json-c 2>/dev/null || echo "-ljson-c")
rpc_sources="$srcdir/rpc/errors.c $srcdir/rpc/stream.c $srcdir/rpc/jsonscan.c $srcdir/rpc/message.c
	$srcdir/rpc/schema.c $srcdir/rpc/schema_fill.c $srcdir/daemon/batch.c
	$srcdir/daemon/schema_doc.c"

# fuzz_vmd links the daemon itself: the sources of libvmd.a, libconsole.a
# and libbridge.a as Makefile.am lists them (so a new daemon file is fuzzed
# without a change here), those of emu/ and rpc/, and the libraries vmd
# links.
vmd_sources() {
	sed -n '/^lib\(vmd\|console\|bridge\)_a_SOURCES = /,/^[^	]/p' "$srcdir/Makefile.am" |
		tr ' \t\\' '\n\n\n' | grep '\.c$' | grep -v '^daemon/main\.c$' |
		sed "s|^|$srcdir/|"
	ls "$srcdir"/emu/*.c "$srcdir"/rpc/*.c
}
vmd_flags="-DVMD_VERSION=\"fuzz\" -DQEMU_DEFAULT=\"/nonexistent/qemu\"
	-DPKGLIBEXECDIR=\"/nonexistent\"
	$(pkg-config --cflags --libs libevent sqlite3 libsystemd libisofs-1 \
		libcrypt yaml-0.1 libxml-2.0 libcrypto libnl-route-3.0 2>/dev/null)"

status=0
for name in $names; do
	bin=$workdir/fuzz_$name
	sources=$rpc_sources extra=
	[ "$name" != vmd ] || { sources=$(vmd_sources); extra=$vmd_flags; }
	# shellcheck disable=SC2086
	if ! "$cc" $cflags -I"$workdir" -I"$srcdir" $jsonc_cflags -o "$bin" \
		"$srcdir/tests/fuzz/fuzz_$name.c" $sources "$workdir/embedded.c" \
		$jsonc_libs $extra; then
		echo "run.sh: cannot build fuzz_$name (is libclang-rt-14-dev installed?)" >&2
		exit 1
	fi
	# Inputs that once made the harness fail must pass now.
	regress=$srcdir/tests/fuzz/crashes/$name
	if [ -d "$regress" ] && [ -n "$(ls "$regress")" ]; then
		for f in "$regress"/*; do
			if ! "$bin" -runs=1 "$f" > "$workdir/regress.log" 2>&1; then
				echo "fuzz_$name: FAILED on the known input ${f#"$srcdir"/}:" >&2
				grep -aE '^fuzz_[a-z]*: |runtime error|ERROR: ' \
					"$workdir/regress.log" | cut -c1-300 | head -n 3 >&2 || :
				status=1
			fi
		done
	fi
	corpus=$workdir/corpus-$name
	crashes=$workdir/crashes-$name
	rm -rf "$corpus" "$crashes"
	mkdir -p "$corpus" "$crashes"
	cp "$srcdir/tests/fuzz/corpus/$name"/* "$corpus"/
	log=$workdir/fuzz_$name.log
	set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -dict="$workdir/json.dict" \
		-artifact_prefix="$crashes/"
	[ -z "$runs" ] || set -- "$@" -runs="$runs"
	[ -z "$max_len" ] || set -- "$@" -max_len="$max_len"
	echo "fuzz_$name: running ${seconds}s${runs:+ or $runs inputs} (log: $log)"
	rc=0
	"$bin" "$@" "$corpus" > "$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	secs=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	cov=$(grep -ao 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	echo "fuzz_$name: ${execs:-?} executions in ${secs:-?} s (${rate:-?} exec/s)," \
		"$cov, corpus $(find "$corpus" -type f | wc -l) files"
	if [ "$rc" -ne 0 ]; then
		echo "fuzz_$name: FAILED (exit $rc); inputs in $crashes:" >&2
		ls "$crashes" >&2 || :
		grep -aE 'ERROR|runtime error|fuzz_[a-z]*: ' "$log" | head -n 5 >&2 || :
		status=1
	fi
done
exit $status
