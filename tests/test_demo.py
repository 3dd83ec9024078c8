"""The main job: `quantgate demo` runs end to end, exits by itself and leaves no process behind."""

from __future__ import annotations

import re
import subprocess
import sys

import psutil


def test_demo_ramps_rolls_back_and_cleans_up() -> None:
    before = {p.pid for p in psutil.process_iter()}
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "demo", "--requests-per-phase", "24"],
                            capture_output=True, text=True, timeout=280,
                            env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "every request went to the baseline" in out
    assert "gate: rollout refused (409)" in out and "disclosure card:" in out
    assert "Requests per variant" in out and "TTFT p50" in out and "Flag audit trail" in out
    assert "/metrics" in out
    # The users' feedback went back through the answers' tokens and is judged per category.
    assert "thumbs-down sent back" in out and "User feedback: thumbs-down per answer" in out
    # The candidate's math answers draw many more thumbs-down: that category is the regression, and no other.
    feedback = out.split("User feedback: thumbs-down per answer")[1].split("After the rollback flip")[0]
    rows = [[cell.strip() for cell in re.split(r"[│┃|]", line)[1:-1]] for line in feedback.splitlines()]
    verdicts = {row[0]: row[1] for row in rows if len(row) > 2 and row[0] and row[0] != "category"}
    assert verdicts.get("math") == "regression", feedback
    assert [c for c, v in verdicts.items() if v == "regression"] == ["math"], feedback
    leftovers = [p for p in psutil.process_iter(["pid", "cmdline"])
                 if p.pid not in before and "gateway.cli.main" in " ".join(p.info["cmdline"] or [])]
    assert not leftovers
