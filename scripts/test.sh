#!/usr/bin/env bash
# Set everything up on a fresh machine and run the whole test suite.
set -euo pipefail
QUANTGATE_EXTRAS="[test]"
source "$(dirname "${BASH_SOURCE[0]}")/_system.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
# The vLLM tier needs vLLM's CPU build in its own environment and the tiny models built on disk.
if [ -z "${QUANTGATE_VLLM_SKIP_REASON:-}" ]; then
    if ! bash "$ROOT/deploy/local/vllm.sh" models > "$ROOT/.vllm-setup.log" 2>&1; then
        export QUANTGATE_VLLM_SKIP_REASON="deploy/local/vllm.sh models failed: $(tail -n 3 "$ROOT/.vllm-setup.log" | tr '\n' ' ')"
        echo "$QUANTGATE_VLLM_SKIP_REASON" >&2
    fi
fi
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing on purpose" >&2
    exit 1
fi
exit "$status"
