"""The dequantizing W4A16 kernel (symmetric int4, grouped or per-channel scales, compressed-tensors layout)."""

from __future__ import annotations

import torch
from vllm.model_executor.kernels.linear.mixed_precision.MPLinearKernel import MPLinearKernel, MPLinearLayerConfig
from vllm.model_executor.layers.quantization.utils import replace_parameter
from vllm.model_executor.layers.quantization.utils.quant_utils import unpack_quantized_values_into_int32
from vllm.platforms import current_platform
from vllm.scalar_type import scalar_types

from quantgate_vllm_plugin import native_wna16_available


def dequantize(packed: torch.Tensor, scales: torch.Tensor, packed_dim: int, bias: int, group_size: int,
               out_dtype: torch.dtype) -> torch.Tensor:
    """[out, in] weights from int4 values packed eight to an int32 along the input dimension."""
    q = unpack_quantized_values_into_int32(packed, scalar_types.uint4b8, packed_dim).to(torch.float32) - bias
    out_features, in_features = q.shape
    group = in_features if group_size == -1 else group_size
    grouped = q.view(out_features, in_features // group, group) * scales.to(torch.float32).unsqueeze(-1)
    return grouped.view(out_features, in_features).to(out_dtype).contiguous()


class DequantWNA16LinearKernel(MPLinearKernel):
    """Dequantize once after loading, then one 16-bit matmul per call."""

    @classmethod
    def get_min_capability(cls) -> int:
        return -1

    @classmethod
    def can_implement(cls, c: MPLinearLayerConfig) -> tuple[bool, str | None]:
        if not current_platform.is_cpu():
            return False, "CPU only"
        if native_wna16_available():
            return False, "vLLM's native cpu_gemm_wna16 is available"
        if c.weight_type != scalar_types.uint4b8 or c.zero_points:
            return False, f"only symmetric int4 (uint4b8) weights, got {c.weight_type}"
        in_features = c.partition_weight_shape[0]
        if c.group_size != -1 and (c.group_size <= 0 or in_features % c.group_size):
            return False, f"group size {c.group_size} must divide the input size {in_features}"
        return True, None

    def process_weights_after_loading(self, layer: torch.nn.Module) -> None:
        packed = getattr(layer, self.w_q_name)
        scales = getattr(layer, self.w_s_name)
        # compressed-tensors stores weights [out, in / 8] and scales [out, groups].
        if packed.input_dim != 1 or packed.packed_dim != 1 or scales.output_dim != 0:
            raise ValueError("expected the compressed-tensors layout (input dimension packed, output first)")
        weight = dequantize(packed.data, scales.data, 1, scalar_types.uint4b8.bias, self.config.group_size,
                            self.config.act_type)
        replace_parameter(layer, self.w_q_name, torch.nn.Parameter(weight, requires_grad=False))
        replace_parameter(layer, self.w_s_name, torch.nn.Parameter(torch.empty(0), requires_grad=False))

    def apply_weights(self, layer: torch.nn.Module, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        return torch.nn.functional.linear(x, getattr(layer, self.w_q_name), bias)
