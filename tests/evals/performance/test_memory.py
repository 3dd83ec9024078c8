"""Memory readings from a server's `/metrics` as vLLM exports them: resident memory, and the KV cache capacity from
`vllm:cache_config_info` (blocks times tokens per block, summed over engines)."""

from __future__ import annotations

from evals.performance.memory import kv_cache_tokens, resident_bytes

# The shape of vLLM 0.32's exposition (`vllm.v1.metrics.loggers`: an info gauge whose labels are the cache config).
VLLM_METRICS = """\
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 7.782e+08
# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",cache_dtype="auto",engine="0",num_cpu_blocks="None",num_gpu_blocks="4096"} 1.0
vllm:cache_config_info{block_size="16",cache_dtype="auto",engine="1",num_cpu_blocks="None",num_gpu_blocks="1024"} 1.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.0
"""


def test_memory_and_kv_cache_capacity_are_read_off_vllms_metrics() -> None:
    assert resident_bytes(VLLM_METRICS) == 7.782e8
    assert kv_cache_tokens(VLLM_METRICS) == (4096 + 1024) * 16


def test_a_server_that_says_nothing_gives_no_reading() -> None:
    plain = "# TYPE simulator_requests counter\nsimulator_requests_total 3.0\n"
    assert resident_bytes(plain) is None and kv_cache_tokens(plain) is None
    assert kv_cache_tokens('vllm:cache_config_info{block_size="16",num_gpu_blocks="None"} 1.0\n') is None
