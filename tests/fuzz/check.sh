#!/bin/sh
# make check's fuzz tests (tests/fuzz/NAME.test): one harness, NAME being
# protocol or config, for $VMD_FUZZ_SECONDS or else $FUZZ_SECONDS seconds
# (default 60) under ASan + UBSan, through run.sh, with its work directory
# in the build tree (tests/fuzz/check-NAME, removed by make clean).
#
# Without clang the test fails and says what to install: ./run.sh test
# installs it, so the fuzzing is never skipped unnoticed.  Only seconds = 0
# skips it (exit 77).
set -u
name=$1
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${VMD_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${VMD_BUILDDIR:-$(pwd)}
seconds=${VMD_FUZZ_SECONDS:-${FUZZ_SECONDS:-60}}
cc=${FUZZ_CC:-clang}

if [ "$seconds" = 0 ]; then
	echo "fuzz_$name: SKIP: VMD_FUZZ_SECONDS/FUZZ_SECONDS is 0"
	exit 77
fi
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz_$name: FAIL: $cc not found; install clang and compiler-rt" \
	     "(Debian: apt-get install clang libclang-rt-14-dev; ./run.sh test" \
	     "does), or set VMD_FUZZ_SECONDS=0 to skip the fuzz tests"
	exit 1
fi
workdir=$builddir/tests/fuzz/check-$name
rc=0
sh "$srcdir/tests/fuzz/run.sh" --srcdir "$srcdir" --workdir "$workdir" \
	--seconds "$seconds" "$name" || rc=$?
# A new failing input: the end of libFuzzer's report says what and where.
if [ -n "$(ls "$workdir/crashes-$name" 2>/dev/null)" ]; then
	echo "--- last lines of $workdir/fuzz_$name.log:"
	tail -n 40 "$workdir/fuzz_$name.log"
fi
exit $rc
