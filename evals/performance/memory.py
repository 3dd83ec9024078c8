"""Memory as each server reports it on its Prometheus `/metrics`."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from wire.backends import BackendSettings

# The process's resident memory (vLLM and any prometheus_client process exports it).
RESIDENT = "process_resident_memory_bytes"


async def resident_memory(session: aiohttp.ClientSession, backend: BackendSettings) -> float | None:
    """The server's resident memory in bytes (summed over the processes it reports); None when it does not say."""
    try:
        async with session.get(f"{backend.base_url}/metrics") as response:
            if response.status != 200:
                return None
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return None
    values = [sample.value for family in text_string_to_metric_families(text) for sample in family.samples
              if sample.name == RESIDENT]
    return float(sum(values)) if values else None
