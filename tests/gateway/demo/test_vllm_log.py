"""The kernel and dtype in the local vLLM deploy's stamp come from what vLLM logged, and a kernel change binds a
validation to another stamp while stamps without a kernel keep the hash they were validated under."""

from __future__ import annotations

from flags.validations import stamp_sha256
from gateway.demo.vllm_log import UNQUANTIZED, compute_dtype, linear_kernel
from wire.backends import ProvenanceStamp

# Lines from this machine's vLLM 0.32.0 CPU build serving the GPTQ W4A16 candidate (AVX512, bf16).
GPTQ_LOG = """\
(APIServer pid=27196) INFO 12-06 10:23:44 [api_utils.py:286] non-default args: {'host': '127.0.0.1', 'dtype': 'bfloat16', 'max_model_len': 2048}
(EngineCore pid=27224) INFO 12-06 10:23:55 [core.py:133] Initializing a V1 LLM engine (v0.32.0) with config: model='/m/gptq-w4a16', dtype=torch.bfloat16, max_seq_len=2048
(Worker pid=27248) INFO 12-06 10:24:05 [__init__.py:923] Using CPUWNA16LinearKernel for mixed-precision linear
(Worker pid=27248) INFO 12-06 10:24:05 [compressed_tensors_wNa16.py:138] Using CPUWNA16LinearKernel for CompressedTensorsWNA16
(EngineCore pid=27224) INFO 12-06 10:24:08 [utils.py:347] Using LBHNC KV cache layout.
"""  # noqa: E501
# The line vLLM 0.32 `init_int8_linear_kernel` logs for its CPU int8 kernel (W8A8), with a float32 argument.
W8A8_LOG = """\
(APIServer pid=1) INFO [api_utils.py:286] non-default args: {'dtype': 'float32'}
(Worker pid=3) INFO [__init__.py:847] Selected CPUInt8ScaledMMLinearKernel for CompressedTensorsW8A8Int8
"""


def test_the_kernel_and_dtype_are_read_from_the_log() -> None:
    assert linear_kernel(GPTQ_LOG, "w4a16") == "CPUWNA16LinearKernel"
    assert compute_dtype(GPTQ_LOG) == "bfloat16"
    assert linear_kernel(W8A8_LOG, "w8a8") == "CPUInt8ScaledMMLinearKernel"
    assert compute_dtype(W8A8_LOG) == "float32"  # the argument, when the engine line is missing


def test_an_unquantized_checkpoint_runs_torch_linear_and_a_silent_log_is_unknown() -> None:
    assert linear_kernel("INFO nothing about kernels\n", "none") == UNQUANTIZED
    assert linear_kernel("INFO nothing about kernels\n", "w4a16") == ""
    assert compute_dtype("") == ""


def test_a_kernel_change_is_another_stamp_and_an_unset_kernel_keeps_the_old_hash() -> None:
    stamp = ProvenanceStamp(model="m", quantization="w4a16", bits=4)
    labels = stamp.as_labels()
    # How stamps were hashed before the kernel fields existed.
    before = {key: value for key, value in labels.items() if key not in ("kernel", "compute_dtype")}
    assert stamp_sha256(labels) == stamp_sha256(before)
    native = ProvenanceStamp(model="m", quantization="w4a16", bits=4, kernel="CPUWNA16LinearKernel").as_labels()
    fallback = ProvenanceStamp(model="m", quantization="w4a16", bits=4, kernel="DequantWNA16LinearKernel").as_labels()
    assert len({stamp_sha256(labels), stamp_sha256(native), stamp_sha256(fallback)}) == 3
