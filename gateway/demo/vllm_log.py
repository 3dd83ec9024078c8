"""What a vLLM server's start-up log says about how it runs a checkpoint: the linear-layer kernel and the dtype.

vLLM logs its choice once per process: `Using CPUWNA16LinearKernel for mixed-precision linear` (weight-only
int4/int8, our plugin's `DequantWNA16LinearKernel` where the CPU build lacks the native op), `Selected
<Kernel> for <Layer>` (int8/fp8 scaled matmuls), and the engine's `dtype=torch.bfloat16` in its configuration
line. An unquantized checkpoint logs no kernel: its linear layers are torch's own matmul.
"""

from __future__ import annotations

import re
from pathlib import Path

_KERNEL = re.compile(r"\b(?:Using|Selected) ([A-Za-z0-9_]+Kernel[A-Za-z0-9_]*) for ([A-Za-z0-9_ -]+)")
_ENGINE_DTYPE = re.compile(r"\bdtype=torch\.([a-z0-9_]+)")
_ARG_DTYPE = re.compile(r"'dtype': '([a-z0-9_]+)'")
UNQUANTIZED = "torch-linear (unquantized)"


def linear_kernel(log: str, quantization: str) -> str:
    """The kernel named in the log (several, `+`-joined, in order of first mention); the unquantized path for a
    checkpoint without quantization; empty when a quantized checkpoint's log names none."""
    names = list(dict.fromkeys(match.group(1) for match in _KERNEL.finditer(log)))
    if names:
        return "+".join(names)
    return UNQUANTIZED if quantization in ("", "none") else ""


def compute_dtype(log: str) -> str:
    """The dtype the engine computes in (its configuration line, else the `--dtype` argument); empty if absent."""
    match = _ENGINE_DTYPE.search(log) or _ARG_DTYPE.search(log)
    return match.group(1) if match else ""


def read_log(path: Path | None) -> str:
    """A server's log as text ('' when there is none)."""
    if path is None or not path.exists():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")
