#!/usr/bin/env bash
# tests/slurm against a real single-node Slurm cluster started on this machine
# (root, Debian 12; see .ci/slurm.sh). The cluster is always stopped again, and
# pytest's exit status is this script's. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."

stop() { bash .ci/slurm.sh stop || true; }
trap stop EXIT
trap 'exit 130' INT TERM

start=$SECONDS
bash .ci/slurm.sh start || { echo "slurm-tests: the test cluster did not start" >&2; exit 1; }

# A cluster that is not up must fail the tests here, not skip them.
export LANGNEURONS_REQUIRE_SLURM=1
python -m pytest tests/slurm -m slurm -v -p no:cacheprovider "$@"
rc=$?
echo "slurm-tests: pytest exit $rc, $((SECONDS - start)) s with cluster start" >&2
exit "$rc"
