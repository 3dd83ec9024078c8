"""`quantgate validate` with its performance stage: the card answers both halves before any table, a candidate
slower than its baseline is named with its kernel, and the targets warn by default and gate when the policy says."""

from __future__ import annotations

from pathlib import Path

import yaml

from simulator.profile import LatencyProfile
from tests.conftest import GatewayFactory, Simulator, backend
from tests.helpers import run_validate
from wire.backends import ProvenanceStamp

POLICY = {"name": "payoff-test", "min_paired_samples": 5, "defaults": {"refusal_rate": {"max_increase_pp": 30}},
          "performance": {"concurrency": [1, 2], "requests": 4, "rounds": 4, "warmup": 1, "output_tokens": 8,
                          "targets": [{"metric": "stream_tokens_per_s", "concurrency": 2, "min_ratio": 1.2}]}}
BASE = LatencyProfile(ttft_ms=6, ttft_sigma=0.05, itl_ms=3, itl_sigma=0.05)
SLOW = LatencyProfile(ttft_ms=12, ttft_sigma=0.05, itl_ms=6, itl_sigma=0.05)


async def _validate(make_gateway: GatewayFactory, baseline_sim: Simulator, candidate_sim: Simulator,
                    tmp_path: Path, gates: bool) -> tuple[int, str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({**POLICY, "performance": {**POLICY["performance"], "gates": gates}}))
    await baseline_sim.control(latency=BASE.model_dump(), resident_memory_bytes=800 * 2**20)
    await candidate_sim.control(latency=SLOW.model_dump(), resident_memory_bytes=300 * 2**20)
    stamp = ProvenanceStamp(model="tiny", quantization="w4a16", bits=4, kernel="DequantWNA16LinearKernel",
                            hardware="cpu:avx2:float32")
    gateway = await make_gateway(
        policy_file=str(policy),
        baseline=backend("baseline", baseline_sim.url, baseline_sim.name).model_copy(update={"hourly_cost_usd": 2.0}),
        candidate=backend("candidate", candidate_sim.url, candidate_sim.name).model_copy(
            update={"hourly_cost_usd": 1.0, "stamp": stamp}))
    code, output = await run_validate(gateway.settings, tmp_path, 5, "--performance", "--early-warning")
    card = next((tmp_path / "cards").glob("validation-*.md")).read_text()
    return code, output, card


async def test_the_card_answers_both_halves_first_and_names_a_slower_candidate(
        make_gateway: GatewayFactory, baseline_sim: Simulator, candidate_sim: Simulator, tmp_path: Path) -> None:
    code, output, card = await _validate(make_gateway, baseline_sim, candidate_sim, tmp_path, gates=False)
    assert code in (0, 4), output  # the targets warn: the quality half decides
    first_table = card.index("| category | metric |")
    broke, improved = card.index("Did it break? **"), card.index("Did it improve? worse than the baseline")
    assert broke < improved < first_table  # both halves before any quality table
    # Whichever headline figures the intervals settle (TTFT and inter-token latency at these sizes), each warning
    # names the kernel and the hardware.
    warnings = [line for line in card.splitlines() if line.startswith("Warning: ") and "slower" in line]
    assert warnings and all("DequantWNA16LinearKernel" in w and "cpu:avx2:float32" in w for w in warnings)
    trade = card[card.index("## Did it improve? Speed, memory and cost"):]
    assert "| resident memory | - | 800 MiB | 300 MiB | 0.38x |" in trade
    assert "cost per million output tokens" in trade and "at least 1.2x (missed)" in trade
    assert "Did it improve? worse than the baseline" in output and "warning:" in output
    # The early warning sits between the halves: after the quality results, before the trade table.
    early = card.index("## Early warning: token-level agreement with the baseline")
    assert card.index("## Did it break? Results per category") < early < card.index("## Did it improve? Speed")
    assert "| chat | " in card[early:card.index("## Did it improve? Speed")]


async def test_targets_that_gate_fail_the_validation(make_gateway: GatewayFactory, baseline_sim: Simulator,
                                                     candidate_sim: Simulator, tmp_path: Path) -> None:
    code, output, card = await _validate(make_gateway, baseline_sim, candidate_sim, tmp_path, gates=True)
    assert code == 3, output
    assert "targets gate: fail" in card


async def test_an_early_warning_over_its_ceiling_fails_the_validation_only_when_the_policy_gates_on_it(
        make_gateway: GatewayFactory, candidate_sim: Simulator, tmp_path: Path) -> None:
    await candidate_sim.control(faults={"math": {"logit_noise": 1.0}})
    outcomes = {}
    for gates in (False, True):
        folder = tmp_path / str(gates)
        folder.mkdir()
        policy = folder / "policy.yaml"
        policy.write_text(yaml.safe_dump({"name": f"ew-{gates}", "min_paired_samples": 5,
                                          "defaults": {"refusal_rate": {"max_increase_pp": 30}},
                                          "early_warning": {"max_kl_mean": 0.05, "gates": gates}}))
        gateway = await make_gateway(policy_file=str(policy))
        code, output = await run_validate(gateway.settings, folder, 5, "--early-warning")
        card = next((folder / "cards").glob("validation-*.md")).read_text()
        outcomes[gates] = code
        assert "Early warning: mean KL shown above the ceiling 0.05 in math (" in card, card[:2000]
    assert outcomes[False] in (0, 4) and outcomes[True] == 3
