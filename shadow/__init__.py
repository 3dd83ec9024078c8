"""Shadow traffic: mirroring a share of requests to the other arm and comparing the answers."""

from __future__ import annotations
