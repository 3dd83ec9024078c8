#!/usr/bin/env bash
# Set everything up on a fresh machine and run the whole test suite.
set -euo pipefail
QUANTGATE_EXTRAS="[test]"
source "$(dirname "${BASH_SOURCE[0]}")/_system.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
# The vLLM tier needs vLLM's CPU build and llm-compressor in their own environments, the model package
# converted and its candidates quantized (all reused from the cache when their inputs are unchanged).
if [ -z "${QUANTGATE_VLLM_SKIP_REASON:-}" ]; then
    _started=$SECONDS
    if bash "$ROOT/deploy/local/vllm.sh" models > "$ROOT/.vllm-setup.log" 2>&1; then
        echo "vLLM tier set up in $((SECONDS - _started)) s:" >&2
        grep -E "^(bf16|gptq-w4a16|w8a8|rtn-w4a16) " "$ROOT/.vllm-setup.log" >&2 || true
    elif [ -n "${CI:-}" ]; then
        # In CI the tier is part of the contract: a broken model build fails the run instead of skipping it.
        tail -n 30 "$ROOT/.vllm-setup.log" >&2
        exit 1
    else
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
