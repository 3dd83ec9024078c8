"""Everything one gateway worker holds while it serves, built from the settings and passed down explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from flags.cache import FlagCache
from flags.model import FlagSet, Variant
from flags.store import FlagStore
from gateway.routing import CategoryLabels
from gateway.settings import GatewaySettings
from gateway.upstream import UpstreamBackend
from monitors.metrics import GatewayMetrics


@dataclass
class GatewayRuntime:
    """Settings, flag store and cache, metrics, and one upstream client per backend."""

    settings: GatewaySettings
    store: FlagStore
    flags: FlagCache
    metrics: GatewayMetrics
    backends: dict[Variant, UpstreamBackend]
    categories: CategoryLabels

    @classmethod
    def build(cls, settings: GatewaySettings) -> GatewayRuntime:
        """Wire the parts; nothing touches the network or the store until `start`."""
        metrics = GatewayMetrics()
        store = FlagStore(settings.flag_store_url)

        def publish(flags: FlagSet, cache: FlagCache) -> None:
            metrics.observe_flags(flags.rollout_percent, flags.shadow_percent, flags.rollback, flags.version,
                                  cache.store_reachable, cache.staleness_s())

        return cls(
            settings=settings,
            store=store,
            flags=FlagCache(store, settings.flag_poll_interval_s, on_refresh=publish),
            metrics=metrics,
            backends={
                Variant.BASELINE: UpstreamBackend(Variant.BASELINE, settings.baseline),
                Variant.CANDIDATE: UpstreamBackend(Variant.CANDIDATE, settings.candidate),
            },
            categories=CategoryLabels(settings.categories, settings.max_categories),
        )

    async def start(self) -> None:
        """Open upstream pools and start polling flags; never waits for the store."""
        for variant, backend in self.backends.items():
            await backend.open()
            self.metrics.describe_backend(variant.value, backend.settings.name, backend.settings.served_model_name,
                                          backend.settings.stamp.as_labels())
        self.flags.start()

    async def stop(self) -> None:
        """Stop polling and close every upstream connection."""
        await self.flags.stop()
        for backend in self.backends.values():
            await backend.close()
        self.store.close()
