"""Failed logins and bearer tokens, limited per client address and audited (as fail2ban or nginx's limit_req would).

Every failure is a row in the store (who tried, when, where), and the count of a client's recent rows decides: past
`limit` failures in `window_s`, the address is refused with a 429 before its token is even compared, until its
oldest failure in the window ages out. The rows make the limit the same for every worker and replica; a count kept in
this process as well keeps it in force while the store is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from datetime import timedelta

from flags.access_store import AccessStore
from flags.model import utcnow
from flags.store import FlagStoreUnavailable
from wire.errors import TooManyAttempts

log = logging.getLogger("quantgate.admin")
# Addresses remembered in this process; the least recently failing are forgotten first.
_MAX_CLIENTS = 10_000


class LoginThrottle:
    """Counts failures per client address; refuses an address that failed too often lately."""

    def __init__(self, access: AccessStore, limit: int, window_s: float) -> None:
        self.access = access
        self.limit = limit
        self.window_s = window_s
        self._local: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent_local(self, client: str, now: float) -> deque[float]:
        times = self._local.setdefault(client, deque())
        self._local.move_to_end(client)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        while len(self._local) > _MAX_CLIENTS:
            self._local.popitem(last=False)
        return times

    async def check(self, client: str) -> None:
        """Raise TooManyAttempts when `client` may not try again yet."""
        now = time.monotonic()
        local = self._recent_local(client, now)
        count = len(local)
        if count < self.limit:
            try:
                since = utcnow() - timedelta(seconds=self.window_s)
                count = max(count, await asyncio.to_thread(self.access.failures_since, client, since))
            except FlagStoreUnavailable:
                pass  # this process's own count still holds
        if count >= self.limit:
            retry = max(1, round(self.window_s - (now - local[0]))) if local else round(self.window_s)
            raise TooManyAttempts(f"too many failed attempts from {client}: {count} in the last "
                                  f"{self.window_s:g} s; try again in {retry} s", retry_after_s=retry)

    async def failed(self, client: str, surface: str, detail: str) -> None:
        """Count and audit one failure."""
        now = time.monotonic()
        self._recent_local(client, now).append(now)
        try:
            await asyncio.to_thread(self.access.record_failure, client, surface, detail)
        except FlagStoreUnavailable as exc:
            log.warning("failed %s login from %s not audited (store unavailable: %s)", surface, client, exc)
