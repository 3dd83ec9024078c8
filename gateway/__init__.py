"""The HTTP surface of quantgate: OpenAI-compatible proxy, SSE streaming, routing, admin API."""

from __future__ import annotations

from gateway.app import Surface, create_app
from gateway.settings import GatewaySettings, load_settings

__all__ = ["GatewaySettings", "Surface", "create_app", "load_settings"]
