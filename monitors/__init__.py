"""Observability: Prometheus metrics now; quality detectors, alert rules and statistics build on them."""

from __future__ import annotations
