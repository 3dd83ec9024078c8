"""Each checkpoint's provenance stamp (`quantgate-stamp.json`), written from what the build actually did."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

STAMP_FILE = "quantgate-stamp.json"
SOURCES = Path(__file__).resolve().parent


def tool_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes the weights."""
    return {name: metadata.version(name) for name in
            ("llmcompressor", "compressed-tensors", "transformers", "torch", "gguf")}


def sources_sha256() -> str:
    """Hash of this build's own code, so that a change to a recipe or the converter rebuilds the cache."""
    digest = hashlib.sha256()
    for path in sorted(SOURCES.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def inputs_sha256(*parts: Any) -> str:
    """One hash over everything a checkpoint is made from."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def hardware() -> str:
    """Where the quantization ran (llm-compressor falls back to the CPU when there is no accelerator)."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"cpu:{platform.machine()}"


def read(model_dir: Path) -> dict[str, Any] | None:
    """The stamp of a built checkpoint, or None when it is absent or unreadable."""
    try:
        return json.loads((model_dir / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return None


def write(model_dir: Path, stamp: dict[str, Any]) -> None:
    """Write the stamp last: its presence marks a complete checkpoint."""
    (model_dir / STAMP_FILE).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
