"""A circuit breaker per shadow target: a hung or failing arm is abandoned at once and probed back in.

Shadows are best effort, so the breaker errs towards shedding: a backend that stops answering must not hold
every shadow slot until the per-request timeout, and must be back in use within seconds of recovering.
The states follow the classic pattern (Nygard, *Release It!*; Envoy's outlier detection): closed → open after
consecutive failures or a stall, open → half-open after a pause, half-open → closed on the probe's first byte.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import Enum

from shadow.settings import ShadowSettings


class BreakerState(str, Enum):
    """Where a shadow target's circuit stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class ShadowBreaker:
    """Decides whether a shadow may go to one target, and abandons the attempts waiting on a hung one."""

    def __init__(self, settings: ShadowSettings, on_change: Callable[[BreakerState], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.state = BreakerState.CLOSED
        self._on_change = on_change
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._last_progress = clock()
        # Attempts still waiting for their first byte, with the time each was sent.
        self._waiting: dict[asyncio.Task[object], float] = {}

    def shedding(self) -> bool:
        """True when a new shadow to this target should be dropped rather than queued."""
        now = self._clock()
        if self.state is BreakerState.CLOSED:
            if self._stalled(now):
                self._open(now)
                return True
            return False
        if self.state is BreakerState.OPEN:
            return now - self._opened_at < self.settings.breaker_open_s
        return True  # half-open: the probe is out, everything else waits for its answer

    def admit(self) -> float | None:
        """The first-byte deadline for a shadow about to be sent, or None when it must be dropped."""
        if self.shedding():
            return None
        if self.state is BreakerState.OPEN:
            self._change(BreakerState.HALF_OPEN)
            return self.settings.breaker_probe_timeout_s
        return self.settings.first_byte_timeout_s

    def sent(self, attempt: asyncio.Task[object]) -> None:
        """An attempt went out and waits for its first byte."""
        self._waiting[attempt] = self._clock()

    def first_byte(self, attempt: asyncio.Task[object]) -> None:
        """The target answered: it is alive, whatever the answer turns out to be."""
        self._waiting.pop(attempt, None)
        self._last_progress = self._clock()
        if self.state is BreakerState.HALF_OPEN:
            self._failures = 0
            self._change(BreakerState.CLOSED)

    def finished(self, attempt: asyncio.Task[object], ok: bool) -> None:
        """An attempt ended; failures in a row open the circuit, a failed probe reopens it."""
        self._waiting.pop(attempt, None)
        if ok:
            self._failures = 0
            if self.state is BreakerState.HALF_OPEN:
                self._change(BreakerState.CLOSED)
            return
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or (
                self.state is BreakerState.CLOSED and self._failures >= self.settings.breaker_failures):
            self._open(self._clock())

    def _stalled(self, now: float) -> bool:
        # Hung, not slow: something has waited past the stall time and nothing at all came back meanwhile.
        stall = self.settings.breaker_stall_s
        if not self._waiting or now - self._last_progress < stall:
            return False
        return now - min(self._waiting.values()) >= stall

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._failures = 0
        self._change(BreakerState.OPEN)
        waiting, self._waiting = self._waiting, {}
        for attempt in waiting:
            if not attempt.done():
                attempt.cancel()

    def _change(self, state: BreakerState) -> None:
        if state is not self.state:
            self.state = state
            if self._on_change is not None:
                self._on_change(state)
