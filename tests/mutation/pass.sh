#!/bin/sh
# The mutation pass of issue 15: seeded samples of mutants in each module
# that guards data, access or framing, each against the tests that cover
# it (tests/README.md has the results).  Run from a configured and built
# tree with the test guests made:
#   sh tests/mutation/pass.sh [results.json]
# It works in a scratch copy (/tmp/vmd-mutation-tree, made on first use);
# remove that copy after changing the sources or tests.  Mutants run one at
# a time under nice; the pass took 12 minutes on 2 busy CPUs.
here=$(dirname "$0")
json=${1:-/tmp/vmd-mutation.json}
m="/usr/bin/python3 $here/mutate.py run --json $json"
e2e='export VMD_TEST_TIMEOUT_SCALE=3; for t in access errors conformance crashsafe guards; do /usr/bin/python3 tests/e2e/test_$t.py >/dev/null 2>&1 || exit 1; done'
rm -f "$json"
# round 1 (seed 15)
$m --file rpc/schema.c --sample 20 --build tests/unit/test_schema --test ./tests/unit/test_schema --timeout 60
$m --file rpc/base64.c --sample 8 --build tests/unit/test_base64 --test ./tests/unit/test_base64 --timeout 60
$m --file daemon/store.c --sample 10 --build tests/unit/test_store --test ./tests/unit/test_store --timeout 60
$m --file console/conlog.c --sample 10 --build tests/unit/test_conlog --test ./tests/unit/test_conlog --timeout 60
$m --file daemon/access.c --sample 8 --build vmd vmctl tests/unit/test_access --test "./tests/unit/test_access || exit 1; $e2e" --timeout 300
$m --file daemon/dispatch.c --sample 10 --build vmd vmctl --test "$e2e" --timeout 300
$m --file daemon/commit.c --sample 6 --build vmd vmctl tests/unit/test_commit_nomem --test "./tests/unit/test_commit_nomem || exit 1; $e2e" --timeout 300
# round 2 (seed 16): the unit-tested modules again, larger samples
m2="$m --seed 16"
$m2 --file rpc/schema.c --sample 30 --build tests/unit/test_schema --test ./tests/unit/test_schema --timeout 60
$m2 --file rpc/base64.c --sample 10 --build tests/unit/test_base64 --test ./tests/unit/test_base64 --timeout 60
$m2 --file daemon/store.c --sample 15 --build tests/unit/test_store --test ./tests/unit/test_store --timeout 60
$m2 --file console/conlog.c --sample 15 --build tests/unit/test_conlog --test ./tests/unit/test_conlog --timeout 60
