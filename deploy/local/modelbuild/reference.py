"""A reference forward pass on the converted checkpoint: a wrong tensor layout fails here, not in a demo."""

from __future__ import annotations

from pathlib import Path

REFERENCE_PROMPT = "What is the capital of France?"
REFERENCE_WORD = "Paris"


def check_reference_answer(model_dir: Path) -> str:
    """Greedy answer to the reference prompt with transformers; raises unless it names the right city."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16)
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": REFERENCE_PROMPT}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=24, do_sample=False)
    answer = tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    if REFERENCE_WORD not in answer:
        raise SystemExit(f"conversion check failed: {REFERENCE_PROMPT!r} -> {answer!r}")
    return answer
