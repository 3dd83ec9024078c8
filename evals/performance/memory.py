"""Memory as each server reports it on its Prometheus `/metrics`: its resident memory, and vLLM's KV cache capacity
(`vllm:cache_config_info`: blocks times tokens per block), where smaller weights leave room for more tokens in
flight on the same device."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from wire.backends import BackendSettings

# The process's resident memory (vLLM and any prometheus_client process exports it).
RESIDENT = "process_resident_memory_bytes"


KV_CACHE_INFO = "vllm:cache_config_info"


async def _metrics_text(session: aiohttp.ClientSession, backend: BackendSettings) -> str | None:
    try:
        async with session.get(f"{backend.base_url}/metrics") as response:
            return await response.text() if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


def resident_bytes(text: str) -> float | None:
    """Resident memory in bytes (summed over the processes the server reports); None when it does not say."""
    values = [sample.value for family in text_string_to_metric_families(text) for sample in family.samples
              if sample.name == RESIDENT]
    return float(sum(values)) if values else None


def kv_cache_tokens(text: str) -> float | None:
    """vLLM's KV cache capacity in tokens (every engine's blocks times tokens per block); None when not exported."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == KV_CACHE_INFO:
                try:
                    total += int(sample.labels["num_gpu_blocks"]) * int(sample.labels["block_size"])
                except (KeyError, ValueError):
                    continue
    return total or None


async def both_arms(backends: dict[str, BackendSettings], timeout_s: float) -> dict[str, dict[str, float | None]]:
    """Per reading (resident memory, KV cache capacity), each arm's value; None where a server does not say or does
    not answer within `timeout_s`."""
    arms = ("baseline", "candidate")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        readings = await asyncio.gather(*(memory_readings(session, backends[arm]) for arm in arms))
    return {name: {arm: reading[name] for arm, reading in zip(arms, readings, strict=True)}
            for name in ("memory_bytes", "kv_cache_tokens")}


async def memory_readings(session: aiohttp.ClientSession, backend: BackendSettings) -> dict[str, float | None]:
    """Resident memory and KV cache capacity, from one read of the server's metrics."""
    text = await _metrics_text(session, backend)
    return {"memory_bytes": resident_bytes(text) if text else None,
            "kv_cache_tokens": kv_cache_tokens(text) if text else None}
