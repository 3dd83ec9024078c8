"""Talks to the admin API for the CLI; every failure becomes a short message, never a traceback."""

from __future__ import annotations

from typing import Any

import httpx


class AdminApiError(RuntimeError):
    """The admin API refused the call or could not be reached.

    `applied` is False when a change certainly did not take effect (refused, never sent, or failed inside the
    store's write deadline) and None when nobody can tell (the request went out and no answer came back).
    """

    def __init__(self, message: str, applied: bool | None = False) -> None:
        super().__init__(message)
        self.applied = applied

    def outcome(self) -> str:
        """What an operator needs to know first: did the change happen?"""
        if self.applied is None:
            return (f"outcome unknown, the change may or may not have been applied: {self}; "
                    "check `quantgate flags show` and `quantgate audit` before retrying")
        return f"not applied, nothing was changed: {self}"


class AdminClient:
    """Thin synchronous client of /admin/*."""

    def __init__(self, url: str, token: str | None, timeout_s: float = 10.0) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise AdminApiError(f"cannot reach admin API at {self._http.base_url}: {exc}") from exc
        except httpx.HTTPError as exc:
            # Sent, and no answer: a write may still be in flight on the gateway.
            raise AdminApiError(f"no answer from admin API at {self._http.base_url}: {exc!r}",
                                applied=None if method != "GET" else False) from exc
        try:
            body = response.json()
        except ValueError:
            body = {"error": {"message": response.text}}
        if response.status_code >= 400:
            message = (body.get("error") or {}).get("message", response.text)
            raise AdminApiError(f"{response.status_code}: {message}")
        return body

    def flags(self) -> dict[str, Any]:
        """Current flags."""
        return self._call("GET", "/admin/flags")

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Partial update (must include a reason)."""
        return self._call("PUT", "/admin/flags", json=changes)

    def rollback(self, reason: str, actor: str | None = None) -> dict[str, Any]:
        """Flip the kill switch."""
        body: dict[str, Any] = {"reason": reason}
        if actor:
            body["actor"] = actor
        return self._call("POST", "/admin/rollback", json=body)

    def audit(self, limit: int = 50, flag: str | None = None) -> list[dict[str, Any]]:
        """Newest audit entries first."""
        params: dict[str, Any] = {"limit": limit}
        if flag:
            params["flag"] = flag
        return self._call("GET", "/admin/audit", params=params)["entries"]

    def comparisons(self, **filters: Any) -> dict[str, Any]:
        """Stored shadow comparisons, newest first."""
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", "/admin/comparisons", params=params)

    def comparison(self, record_id: int) -> dict[str, Any]:
        """One stored comparison."""
        return self._call("GET", f"/admin/comparisons/{record_id}")

    def verdicts(self, since: str) -> dict[str, Any]:
        """The verdict report over pairs since `since`."""
        return self._call("GET", "/admin/verdicts", params={"since": since})

    def validations(self, limit: int = 20) -> dict[str, Any]:
        """Validation records, newest first, and the one in force."""
        return self._call("GET", "/admin/validations", params={"limit": limit})

    def validation(self, validation_id: int) -> dict[str, Any]:
        """One validation with its card."""
        return self._call("GET", f"/admin/validations/{validation_id}")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
