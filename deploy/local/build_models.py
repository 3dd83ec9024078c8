"""Build a tiny Llama offline and its quantized twins, for testing against a real vLLM on CPU.

Run with the vLLM environment's Python (it has torch, transformers, tokenizers, compressed-tensors):
    .venv-vllm/bin/python deploy/local/build_models.py --out ~/.cache/quantgate/models

Writes three checkpoints: `bf16` (the baseline), `w8a8` (int8 per-channel weights, dynamic per-token int8
activations) and `w4a16` (int4 weights, group size 64, packed), both in the compressed-tensors format vLLM
loads. Weights are random (seeded): answers are gibberish but deterministic at temperature 0, and the
quantized models really diverge from the baseline. Quantization is round-to-nearest, so there is no
calibration set.
"""

from __future__ import annotations

import argparse
import json
import sysconfig
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _corpus(limit_bytes: int = 4_000_000) -> list[str]:
    """Local text to train the tokenizer on: the Python standard library's own sources."""
    texts, size = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        text = path.read_text(errors="ignore")
        texts.append(text)
        size += len(text)
        if size > limit_bytes:
            break
    return texts


def build_tokenizer(out: Path, vocab: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on local text, with a chat template."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", model_max_length=1024)
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


def build_baseline(out: Path, tokenizer: PreTrainedTokenizerFast, hidden: int, layers: int) -> None:
    """Random-init Llama in bf16, safetensors."""
    torch.manual_seed(20261124)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
                         num_key_value_heads=max(1, hidden // 64), max_position_embeddings=1024,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=False, torch_dtype="bfloat16")
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def _is_quantized(name: str) -> bool:
    return name.endswith(".weight") and any(f".{linear}." in name for linear in LINEAR)


def _quantize_linears(weights: dict[str, torch.Tensor],
                      quantize_one: Callable[[str, torch.Tensor], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Every linear weight through `quantize_one` (its tensors out, by name); everything else unchanged."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in weights.items():
        if _is_quantized(name):
            out.update(quantize_one(name.removesuffix(".weight"), tensor.float()))
        else:
            out[name] = tensor
    return out


def _w8a8(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    def per_channel_int8(base: str, w: torch.Tensor) -> dict[str, torch.Tensor]:
        scale = (w.abs().amax(dim=1, keepdim=True) / 127).clamp(min=1e-8)
        return {base + ".weight": torch.round(w / scale).clamp(-128, 127).to(torch.int8),
                base + ".weight_scale": scale.to(torch.bfloat16)}

    return _quantize_linears(weights, per_channel_int8)


def _w4a16(weights: dict[str, torch.Tensor], group: int) -> dict[str, torch.Tensor]:
    try:
        from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32
    except ImportError:  # older compressed-tensors layout
        from compressed_tensors.compressors.quantized_compressors.pack_quantized import pack_to_int32

    def grouped_int4(base: str, w: torch.Tensor) -> dict[str, torch.Tensor]:
        rows, cols = w.shape
        grouped = w.reshape(rows, cols // group, group)
        scale = (grouped.abs().amax(dim=2, keepdim=True) / 7).clamp(min=1e-8)
        q = torch.round(grouped / scale).clamp(-8, 7).reshape(rows, cols).to(torch.int8)
        return {base + ".weight_packed": pack_to_int32(q, 4),
                base + ".weight_scale": scale.reshape(rows, cols // group).to(torch.bfloat16),
                base + ".weight_shape": torch.tensor([rows, cols], dtype=torch.int64)}

    return _quantize_linears(weights, grouped_int4)


def _scheme(bits: int, strategy: str, group: int | None, activations: bool) -> dict[str, object]:
    weights = {"num_bits": bits, "type": "int", "symmetric": True, "strategy": strategy, "group_size": group,
               "dynamic": False, "observer": "minmax"}
    scheme: dict[str, object] = {"targets": ["Linear"], "weights": weights, "output_activations": None,
                                 "input_activations": None}
    if activations:
        scheme["input_activations"] = {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "token",
                                       "dynamic": True, "observer": None}
    return scheme


def quantize(baseline: Path, out: Path, kind: str, group: int = 64) -> None:
    """Write a compressed-tensors checkpoint next to the baseline's config and tokenizer."""
    out.mkdir(parents=True, exist_ok=True)
    weights = load_file(baseline / "model.safetensors")
    if kind == "w8a8":
        tensors, fmt, scheme = _w8a8(weights), "int-quantized", _scheme(8, "channel", None, True)
    else:
        tensors, fmt, scheme = _w4a16(weights, group), "pack-quantized", _scheme(4, "group", group, False)
    save_file({k: v.contiguous() for k, v in tensors.items()}, out / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((baseline / "config.json").read_text())
    config["quantization_config"] = {
        "quant_method": "compressed-tensors", "format": fmt, "quantization_status": "compressed",
        "config_groups": {"group_0": scheme}, "ignore": ["lm_head"], "kv_cache_scheme": None,
        # Round-to-nearest from the bf16 weights: no calibration data was used.
        "quantization_calibration_set": "none (round-to-nearest)",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    for name in baseline.iterdir():
        if name.name.startswith(("tokenizer", "special_tokens", "generation_config", "chat_template")):
            (out / name.name).write_bytes(name.read_bytes())


def main() -> None:
    """Build all three checkpoints (skips the work when they already exist)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=4096)
    args = parser.parse_args()
    baseline = args.out / "bf16"
    if not (baseline / "model.safetensors").exists():
        tokenizer = build_tokenizer(args.out / "tokenizer", args.vocab)
        build_baseline(baseline, tokenizer, args.hidden, args.layers)
    for kind in ("w8a8", "w4a16"):
        if not (args.out / kind / "model.safetensors").exists():
            quantize(baseline, args.out / kind, kind)
    print(f"models in {args.out}: bf16, w8a8, w4a16")


if __name__ == "__main__":
    main()
