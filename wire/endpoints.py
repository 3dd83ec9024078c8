"""The OpenAI completion endpoints the gateway proxies: their label (metrics, access log) and path."""

from __future__ import annotations

COMPLETION_ENDPOINTS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
