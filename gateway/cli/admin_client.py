"""Talks to the admin API for the CLI; every failure becomes a short message, never a traceback."""

from __future__ import annotations

import http.client
import json as _json
from typing import Any
from urllib.parse import urlencode, urlsplit


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
        text = str(self)
        # The gateway's own refusals already say so; saying it twice reads like two failures.
        return f"not applied: {text}" if "nothing was changed" in text else f"not applied, nothing was changed: {text}"


def _hint(status: int, error: dict[str, Any], path: str, base_url: str) -> str:
    """What to do next, for the refusals an operator meets in the first week."""
    if status == 409 and error.get("code") == "rollout_gated":
        return ("a passing `quantgate validate` of the deployed stack lets it through; `--override-gate` lands it "
                "anyway (audited as an override)")
    if status == 404 and path.startswith("/admin/") and error.get("message") == "Not Found":
        return (f"{base_url} has no admin API: is it the public port? With --admin-port the admin API listens on "
                "its own port (pass it with --url, or --config with the gateway's settings)")
    if status == 401:
        return "pass the gateway's admin token with --token or QUANTGATE_ADMIN_TOKEN, or --config"
    return ""


class AdminClient:
    """Thin synchronous client of /admin/*, on the standard library's `http.client`.

    An operator types `quantgate rollback` during an incident: one request needs no connection pool, and httpx
    alone took longer to import than the whole call may take.
    """

    def __init__(self, url: str, token: str | None, timeout_s: float = 10.0) -> None:
        self.base_url = url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AdminApiError(f"admin URL must be http(s)://host[:port], got {url!r}")
        self._parts = parts
        self._timeout_s = timeout_s
        self._headers = {"accept": "application/json", "user-agent": "quantgate-cli"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"

    def _connection(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        return kind(self._parts.hostname or "", self._parts.port, timeout=self._timeout_s)

    def _call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None,
              ) -> dict[str, Any]:
        target = self._parts.path + path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self._headers)
        body = None
        if json is not None:
            body = _json.dumps(json).encode()
            headers["content-type"] = "application/json"
        connection = self._connection()
        try:
            try:
                connection.connect()
            except OSError as exc:
                raise AdminApiError(f"cannot reach admin API at {self.base_url}: {exc}") from exc
            try:
                connection.request(method, target, body=body, headers=headers)
                response = connection.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                # Sent, and no answer: a write may still be in flight on the gateway.
                raise AdminApiError(f"no answer from admin API at {self.base_url}: {exc!r}",
                                    applied=None if method != "GET" else False) from exc
        finally:
            connection.close()
        text = raw.decode("utf-8", errors="replace")
        try:
            decoded = _json.loads(text)
        except ValueError:
            decoded = None
        answer = decoded if isinstance(decoded, dict) else {"error": {"message": text[:500]}}
        if response.status >= 400:
            error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
            message = error.get("message", text[:500])
            hint = _hint(response.status, error, path, self.base_url)
            raise AdminApiError(f"{response.status}: {message}" + (f"; {hint}" if hint else ""))
        return answer

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

    def verdicts(self, since: str | None = None, start: str | None = None) -> dict[str, Any]:
        """The verdict report: the current analysis (from `start` if given), or a sliding window since `since`."""
        params = {key: value for key, value in (("since", since), ("start", start)) if value}
        return self._call("GET", "/admin/verdicts", params=params or None)

    def validations(self, limit: int = 20) -> dict[str, Any]:
        """Validation records, newest first, and the one in force."""
        return self._call("GET", "/admin/validations", params={"limit": limit})

    def validation(self, validation_id: int) -> dict[str, Any]:
        """One validation with its card."""
        return self._call("GET", f"/admin/validations/{validation_id}")
