"""Wiring of the rollback guard from the settings: its own process, one per deployment."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from flags.comparisons import ComparisonStore
from flags.feedback_store import FeedbackStore
from flags.gate import GateContext
from flags.model import Variant
from flags.store import FlagStore
from gateway.backend_check import check_backends
from gateway.settings import GatewaySettings, load_settings
from gateway.validation_state import ValidationState
from monitors.analysis.guard import RolloutGuard
from monitors.analysis.policy import RegressionPolicy, load_policy
from wire.upstream import UpstreamBackend


def gate_reader(settings: GatewaySettings, policy: RegressionPolicy) -> Callable[[], GateContext]:
    """The gate's inputs for a guard ramp step: the backends' identity read now (the guard runs in a thread)."""
    state = ValidationState.of(settings, policy)
    backends = [UpstreamBackend(Variant.BASELINE, settings.baseline),
                UpstreamBackend(Variant.CANDIDATE, settings.candidate)]

    def read() -> GateContext:
        state.observe(asyncio.run(check_backends(backends)))
        return state.context()

    return read


def build_guard(config_file: Path | None) -> RolloutGuard:
    """A guard over the configured flag store, comparison records and policy."""
    settings = load_settings(config_file)
    store = FlagStore(settings.flag_store_url, settings.flag_store_timeouts)
    store.ensure_schema()
    policy = load_policy(settings.policy_file)
    return RolloutGuard(settings=settings.guard, policy=policy, flags=store,
                        comparisons=ComparisonStore(settings.flag_store_url), categories=list(settings.categories),
                        max_categories=settings.max_categories, gate=gate_reader(settings, policy),
                        feedback=FeedbackStore(settings.flag_store_url, settings.flag_store_timeouts))


async def run_guard(guard: RolloutGuard) -> None:
    """Run the analysis loop until cancelled."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    await guard.run()
