"""A llama.cpp GGUF file to a Hugging Face `LlamaForCausalLM` directory that vLLM serves.

Weights are dequantized with the `gguf` package (numpy only). llama.cpp's converter permutes the rows of
`q_proj`/`k_proj` so that rotary pairs are adjacent (its "normal" rope layout); the inverse permutation
here restores Hugging Face's half-split layout, without which the model still runs but answers nonsense.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf
import numpy as np
import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

LAYER_NAMES = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}
CONTROL_TOKEN = 3  # gguf TokenType.CONTROL


def _field(reader: gguf.GGUFReader, key: str) -> Any:
    return reader.fields[key].contents()


def unpermute_rope_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's `permute(w, n_head)` on the output rows of a q/k projection."""
    rows = weight.shape[0]
    grouped = weight.reshape(heads, rows // heads // 2, 2, *weight.shape[1:])
    return grouped.swapaxes(1, 2).reshape(weight.shape)


def _hf_name(name: str) -> str:
    if name == "token_embd.weight":
        return "model.embed_tokens.weight"
    if name == "output_norm.weight":
        return "model.norm.weight"
    if name == "output.weight":
        return "lm_head.weight"
    _, layer, kind, suffix = name.split(".")
    return f"model.layers.{layer}.{LAYER_NAMES[kind]}.{suffix}"


def llama_config(reader: gguf.GGUFReader, has_output: bool) -> LlamaConfig:
    """The Hugging Face config from the GGUF hyper-parameters."""
    heads = int(_field(reader, "llama.attention.head_count"))
    hidden = int(_field(reader, "llama.embedding_length"))
    return LlamaConfig(
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data), hidden_size=hidden,
        intermediate_size=int(_field(reader, "llama.feed_forward_length")),
        num_hidden_layers=int(_field(reader, "llama.block_count")), num_attention_heads=heads,
        num_key_value_heads=int(_field(reader, "llama.attention.head_count_kv")), head_dim=hidden // heads,
        max_position_embeddings=int(_field(reader, "llama.context_length")),
        rope_theta=float(_field(reader, "llama.rope.freq_base")),
        rms_norm_eps=float(round(_field(reader, "llama.attention.layer_norm_rms_epsilon"), 10)),
        bos_token_id=int(_field(reader, "tokenizer.ggml.bos_token_id")),
        eos_token_id=int(_field(reader, "tokenizer.ggml.eos_token_id")),
        pad_token_id=int(_field(reader, "tokenizer.ggml.padding_token_id")),
        tie_word_embeddings=not has_output, hidden_act="silu", torch_dtype="bfloat16")


def state_dict(reader: gguf.GGUFReader, config: LlamaConfig) -> dict[str, torch.Tensor]:
    """Every tensor dequantized to float32 under its Hugging Face name, rope rows restored."""
    weights: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        array = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        array = array.reshape([int(d) for d in reversed(tensor.shape)])
        if ".attn_q." in tensor.name:
            array = unpermute_rope_rows(array, config.num_attention_heads)
        elif ".attn_k." in tensor.name:
            array = unpermute_rope_rows(array, config.num_key_value_heads)
        weights[_hf_name(tensor.name)] = torch.from_numpy(np.ascontiguousarray(array))
    return weights


def tokenizer(reader: gguf.GGUFReader, max_length: int) -> PreTrainedTokenizerFast:
    """GPT-2-style byte-level BPE with SmolLM's pre-tokenizer (digits split one by one) and the chat template."""
    tokens = [str(t) for t in _field(reader, "tokenizer.ggml.tokens")]
    types = list(_field(reader, "tokenizer.ggml.token_type"))
    merges = [tuple(str(m).split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    if str(_field(reader, "tokenizer.ggml.pre")) != "smollm":
        raise SystemExit("only SmolLM's pre-tokenizer is supported by this converter")
    unk = tokens[int(_field(reader, "tokenizer.ggml.unknown_token_id"))]
    bpe = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, unk_token=unk,
                               fuse_unk=False))
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    bpe.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    bpe.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
    bpe.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, kind in zip(tokens, types, strict=True) if kind == CONTROL_TOKEN])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=tokens[int(_field(reader, "tokenizer.ggml.bos_token_id"))],
        eos_token=tokens[int(_field(reader, "tokenizer.ggml.eos_token_id"))],
        pad_token=tokens[int(_field(reader, "tokenizer.ggml.padding_token_id"))], unk_token=unk,
        model_max_length=max_length, clean_up_tokenization_spaces=False)
    fast.chat_template = str(_field(reader, "tokenizer.chat_template"))
    return fast


def convert(gguf_path: Path, out: Path) -> dict[str, Any]:
    """Write the bf16 checkpoint, tokenizer and generation config; returns the architecture summary."""
    reader = gguf.GGUFReader(str(gguf_path))
    has_output = any(t.name == "output.weight" for t in reader.tensors)
    config = llama_config(reader, has_output)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model.load_state_dict(state_dict(reader, config), strict=False, assign=True)
    if config.tie_word_embeddings:
        model.tie_weights()
    model = model.to(torch.bfloat16)
    model.generation_config.bos_token_id = config.bos_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    tokenizer(reader, config.max_position_embeddings).save_pretrained(out)
    file_types = {t.tensor_type.name for t in reader.tensors}
    return {"architecture": "LlamaForCausalLM", "layers": config.num_hidden_layers, "hidden": config.hidden_size,
            "gguf_tensor_types": sorted(file_types),
            "parameters": sum(p.numel() for p in model.parameters())}


def missing_weights(out: Path) -> list[str]:
    """Names a reload of the written checkpoint could not fill (must be empty)."""
    model, info = LlamaForCausalLM.from_pretrained(out, output_loading_info=True)
    del model
    return sorted(info["missing_keys"])


