"""The labels of the live-verdict series: `stratum` (the candidate's traffic share when a request was routed), and
the per-key-group series' name."""

from __future__ import annotations

# Each distinct share an operator sets becomes a label value; beyond this many in one process the rest share
# OVERFLOW, which the live verdicts leave out (and say so) rather than pool.
MAX_STRATA = 32
OVERFLOW = "other"
# The live answers counted per routing-key group: read by the live verdicts, left out of `/metrics` (32 groups times
# every outcome is cardinality no dashboard needs).
KEY_GROUP_SERIES = "quantgate_live_key_group_answers"
# Live TTFTs per routing-key group and bucket (`le` the bucket's upper edge, counts not cumulative).
KEY_GROUP_TTFT_SERIES = "quantgate_live_key_group_ttft"
# Live inter-token latencies (mean per streamed answer) per routing-key group and bucket, the same way.
KEY_GROUP_ITL_SERIES = "quantgate_live_key_group_itl"
KEY_GROUP_FAMILIES = frozenset({KEY_GROUP_SERIES, KEY_GROUP_TTFT_SERIES, KEY_GROUP_ITL_SERIES})
# Feedback signals counted among a key group's outcomes as `feedback:<signal>` (and read into the live counts so).
FEEDBACK_OUTCOME = "feedback:"


class StratumLabels:
    """Bounded mapping from a share (percent) to its label."""

    def __init__(self, limit: int = MAX_STRATA) -> None:
        self._limit = limit
        self._known: set[str] = set()

    def label(self, share: float) -> str:
        """The share as a label ("12.5"), or OVERFLOW once `limit` shares have been seen."""
        text = f"{round(share, 2):g}"
        if text in self._known:
            return text
        if len(self._known) >= self._limit:
            return OVERFLOW
        self._known.add(text)
        return text
