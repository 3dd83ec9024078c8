"""A W4A16 linear kernel for vLLM CPU builds that lack `cpu_gemm_wna16`.

vLLM's CPU wheel ships its native W4A16 GEMM only in the AVX512 build of its extension; on an AVX2-only
CPU `CPUWNA16LinearKernel` is still selected and the first forward pass dies with
"'_C' object has no attribute 'cpu_gemm_wna16'". This kernel is registered ahead of it through vLLM's
own `register_linear_kernel`, and claims a layer only when that op is missing: on an AVX512 machine
vLLM's kernel runs unchanged.

It computes the same linear map as the native kernel: the packed int4 weights are unpacked once, the
symmetric offset removed and the per-group scales applied (`W = (q - 8) * s`), and each call is one
16-bit matmul. Answers are those of the quantized weights; speed and memory are not those of an int4
kernel (the dequantized weights are held in 16 bits), which is why the model benchmark says so.
"""

from __future__ import annotations

KERNEL_NAME = "QuantgateDequantWNA16LinearKernel"


def native_wna16_available() -> bool:
    """True when vLLM's own CPU W4A16 GEMM is compiled into the loaded extension."""
    import torch

    try:
        import vllm._custom_ops  # noqa: F401  (loads the extension for this CPU's instruction set)
    except ImportError:
        return False
    return hasattr(torch.ops._C, "cpu_gemm_wna16")


def register() -> None:
    """vLLM general-plugin entry point: put the fallback first in the CPU mixed-precision kernel list."""
    from vllm.model_executor.kernels import linear
    from vllm.platforms import PlatformEnum

    from quantgate_vllm_plugin.kernel import DequantWNA16LinearKernel

    kernels = linear._POSSIBLE_KERNELS.setdefault(PlatformEnum.CPU, [])
    if DequantWNA16LinearKernel not in kernels:
        linear.register_linear_kernel(DequantWNA16LinearKernel, PlatformEnum.CPU, "mp")
        # Ahead of vLLM's own CPU kernels; it declines every layer when the native op exists.
        kernels.remove(DequantWNA16LinearKernel)
        kernels.insert(0, DequantWNA16LinearKernel)
