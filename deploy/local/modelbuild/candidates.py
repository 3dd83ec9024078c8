"""The quantized candidates, made with llm-compressor (compressed-tensors checkpoints that vLLM loads).

- `gptq-w4a16`: GPTQ, int4 symmetric weights, group size 64, 16-bit activations (calibrated).
- `w8a8`: SmoothQuant (α 0.8) then GPTQ, int8 per-channel weights, dynamic per-token int8 activations.
- `rtn-w4a16`: the same int4 g64 scheme by round-to-nearest, no calibration: the gap to `gptq-w4a16` is
  what a calibrated method buys at the same bit width.
Group size 64, not llm-compressor's preset 128: SmolLM2's hidden size, 576, is not a multiple of 128.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
from llmcompressor import oneshot
from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier
from llmcompressor.modifiers.transform.smoothquant import SmoothQuantModifier

from modelbuild.calibration import CalibrationSet, as_dataset

GROUP_SIZE = 64
SMOOTHING_STRENGTH = 0.8
IGNORE = ["lm_head"]


@dataclass(frozen=True)
class Candidate:
    """One quantization recipe and the facts its stamp reports."""

    name: str
    method: str
    weight_bits: int
    activation_bits: int
    group_size: int | None
    calibrated: bool

    def scheme(self) -> QuantizationScheme:
        """The compressed-tensors scheme for every Linear layer but the (tied) output head."""
        if self.weight_bits == 4:
            weights = QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="group",
                                       group_size=self.group_size)
            return QuantizationScheme(targets=["Linear"], weights=weights)
        weights = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="channel")
        activations = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="token", dynamic=True)
        return QuantizationScheme(targets=["Linear"], weights=weights, input_activations=activations)

    def recipe(self) -> list[Any]:
        """llm-compressor modifiers, in the order they run."""
        groups = {"group_0": self.scheme()}
        if not self.calibrated:
            return [QuantizationModifier(config_groups=groups, ignore=IGNORE)]
        gptq = GPTQModifier(config_groups=groups, ignore=IGNORE, dampening_frac=0.01)
        if self.activation_bits == 8:
            return [SmoothQuantModifier(smoothing_strength=SMOOTHING_STRENGTH), gptq]
        return [gptq]

    def describe(self) -> dict[str, Any]:
        """The stamp's quantization fields."""
        return {"method": self.method, "bits": self.weight_bits,
                "scheme": f"W{self.weight_bits}A{self.activation_bits}", "group_size": self.group_size,
                "symmetric": True, "ignore": IGNORE,
                "smoothing_strength": SMOOTHING_STRENGTH if self.activation_bits == 8 else None}


CANDIDATES = {c.name: c for c in (
    Candidate("gptq-w4a16", "gptq", 4, 16, GROUP_SIZE, True),
    Candidate("w8a8", "smoothquant+gptq", 8, 8, None, True),
    Candidate("rtn-w4a16", "rtn", 4, 16, GROUP_SIZE, False),
)}


def quantize(candidate: Candidate, baseline: Path, out: Path, calibration: CalibrationSet | None) -> None:
    """Run the recipe on the baseline checkpoint and save a compressed checkpoint to `out`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(baseline)
    model = AutoModelForCausalLM.from_pretrained(baseline, dtype="bfloat16")
    dataset = as_dataset(calibration, tokenizer) if candidate.calibrated and calibration else None
    kwargs: dict[str, Any] = {}
    if dataset is not None:
        kwargs = {"dataset": dataset, "num_calibration_samples": len(dataset),
                  "max_seq_length": calibration.max_seq_length if calibration else 512,
                  "shuffle_calibration_samples": False}
    oneshot(model=model, recipe=candidate.recipe(), **kwargs)
    model.save_pretrained(out, save_compressed=True)
    tokenizer.save_pretrained(out)
