"""An OpenAI-compatible backend simulator: a load and fault-injection target, not a stand-in for vLLM."""

from __future__ import annotations

from simulator.app import create_simulator_app
from simulator.profile import FaultRates, LatencyProfile, SimulatorConfig

__all__ = ["FaultRates", "LatencyProfile", "SimulatorConfig", "create_simulator_app"]
