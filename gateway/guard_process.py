"""Wiring of the rollback guard from the settings: its own process, one per deployment."""

from __future__ import annotations

import logging
from pathlib import Path

from flags.store import FlagStore
from gateway.settings import load_settings
from monitors.guard import RolloutGuard
from monitors.policy import load_policy
from shadow.records import ComparisonStore


def build_guard(config_file: Path | None) -> RolloutGuard:
    """A guard over the configured flag store, comparison records and policy."""
    settings = load_settings(config_file)
    store = FlagStore(settings.flag_store_url, settings.flag_store_timeouts)
    store.ensure_schema()
    return RolloutGuard(settings=settings.guard, policy=load_policy(settings.policy_file), flags=store,
                        comparisons=ComparisonStore(settings.flag_store_url), categories=list(settings.categories),
                        max_categories=settings.max_categories)


async def run_guard(guard: RolloutGuard) -> None:
    """Run the analysis loop until cancelled."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    await guard.run()
