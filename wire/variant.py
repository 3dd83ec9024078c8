"""The two arms every request can be routed to."""

from __future__ import annotations

import enum


class Variant(str, enum.Enum):
    """Which backend answers: the full-precision baseline or the quantized candidate."""

    BASELINE = "baseline"
    CANDIDATE = "candidate"

    def other(self) -> Variant:
        """The opposite arm (used by shadowing)."""
        return Variant.CANDIDATE if self is Variant.BASELINE else Variant.BASELINE
