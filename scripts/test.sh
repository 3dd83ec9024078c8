#!/usr/bin/env bash
# Set everything up on a fresh machine and run the whole test suite.
set -euo pipefail
QUANTGATE_EXTRAS="[test]"
source "$(dirname "${BASH_SOURCE[0]}")/_system.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing on purpose" >&2
    exit 1
fi
exit "$status"
