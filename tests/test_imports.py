"""Every module imports alone: no import cycle is hidden by what some other module happened to import first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# deploy/ is left out: its model build and vLLM plugin run in their own environments (.venv-models, .venv-vllm).
PACKAGES = ("gateway", "shadow", "flags", "monitors", "simulator", "bench", "evals", "wire")

# In one interpreter: before each module, forget every project module, so each import starts from nothing of
# ours (third-party modules stay loaded; a cycle can only run through our own). SQLModel's shared metadata is
# cleared too, since it remembers our tables.
_SCRIPT = """
import importlib, sys, warnings
from sqlmodel import SQLModel
warnings.simplefilter("ignore")  # re-declaring our table classes warns; the redefinition is the point here
names = sys.argv[1:]
ours = tuple(p + "." for p in {packages!r}) + {packages!r}
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m.startswith(ours) or m in {packages!r}]:
        del sys.modules[loaded]
    SQLModel.metadata.clear()  # our tables are declared again by the fresh import
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{{name}}: {{type(exc).__name__}}: {{exc}}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            if "migrations" in relative.parts:
                continue  # Alembic scripts, loaded by Alembic, not importable modules
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            names.append(".".join(parts))
    return names


def test_every_module_imports_alone() -> None:
    modules = _modules()
    assert len(modules) > 80  # the walk found the packages
    result = subprocess.run([sys.executable, "-c", _SCRIPT.format(packages=PACKAGES), *modules],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
