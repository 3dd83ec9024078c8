"""The console's pages: login, overview with rollback, comparisons and one pair, validations, audit, report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from flags.comparisons import FLIP_COLUMNS, ComparisonQuery, ComparisonStoreError, row_detail, row_summary, safe
from flags.store import FlagStoreUnavailable
from flags.updates import FlagUpdate
from gateway.admin.comparisons_router import audit_text_read
from gateway.admin.dependencies import admin_token_ok, client_address
from gateway.admin.flags_router import apply_update, current_flags
from gateway.admin.time_params import parse_time
from gateway.console.pair_view import divergence, word_diff
from gateway.console.session import COOKIE, NAME, ConsoleSession, token_fingerprint
from gateway.runtime import GatewayRuntime
from monitors.analysis.verdict_reading import bar_svg, category_views, clustering_warning, stamp_rows
from wire.errors import GatewayError, TooManyAttempts, validation_message

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

router = APIRouter(prefix="/console", include_in_schema=False)
T = TypeVar("T")
HERE = Path(__file__).parent
PAGE_SIZE = 50
MAX_REASON = 500


class ConsoleError(Exception):
    """A page that cannot be shown, with the status and the reason a person reads."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    """Jinja loads with the first page, never in a worker that only proxies."""
    from fastapi.templating import Jinja2Templates

    loaded = Jinja2Templates(directory=HERE / "templates")
    loaded.env.globals["bar_svg"] = bar_svg
    loaded.env.globals["clustering_warning"] = clustering_warning
    return loaded


def _runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


async def _session(request: Request) -> ConsoleSession | None:
    """The session the request's cookie names, read once per request (the error page reuses it)."""
    if getattr(request.state, "console_session_read", False):
        cached: ConsoleSession | None = request.state.console_session
        return cached
    request.state.console_session_read = True
    request.state.console_session = None
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    runtime = _runtime(request)
    settings = runtime.settings
    try:
        row = await asyncio.to_thread(runtime.access.live_session, cookie, token_fingerprint(settings.admin_token),
                                      timedelta(seconds=settings.console_idle_timeout_s))
    except FlagStoreUnavailable as exc:
        raise ConsoleError(503, f"sessions cannot be checked, the flag store is unavailable: {exc}") from exc
    request.state.console_session = ConsoleSession.of(row) if row is not None else None
    return request.state.console_session  # type: ignore[no-any-return]


def _page(request: Request, name: str, session: ConsoleSession | None, status: int = 200,
          headers: dict[str, str] | None = None, **context: Any) -> Response:
    csrf = session.csrf if session else ""
    return templates().TemplateResponse(request, name, {"session": session, "csrf": csrf, **context},
                                        status_code=status, headers=headers)


def _login_redirect() -> Response:
    return RedirectResponse("/console/login", status_code=303)


class LoginRequired(Exception):
    """No valid session: the page answers with the login form instead."""


async def require_session(request: Request) -> ConsoleSession:
    """The one session check of every page (FastAPI dependency); without one, off to the login page."""
    session = await _session(request)
    if session is None:
        raise LoginRequired
    return session


Session = Annotated[ConsoleSession, Depends(require_session)]


async def _read(call: Callable[..., T], *args: Any, what: str = "flag store") -> T:
    """A store read off the event loop; the store being down is a 503 page saying so."""
    try:
        return await asyncio.to_thread(call, *args)
    except (FlagStoreUnavailable, ComparisonStoreError) as exc:
        raise ConsoleError(503, f"{what} unavailable: {exc}") from exc


async def _form(request: Request, session: ConsoleSession) -> dict[str, str]:
    """The posted form, refused (403) unless it carries this session's CSRF token."""
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    if not session.csrf_ok(fields.get("csrf")):
        raise ConsoleError(403, "this form is missing its CSRF token or it belongs to another session: reload the "
                                "page and submit it again")
    return fields


@router.get("/login")
async def login_page(request: Request) -> Response:
    """The login form."""
    return _page(request, "login.html", None, error=None)


def _cookie_options(request: Request) -> dict[str, Any]:
    # The same attributes on setting and deleting: a browser may keep a cookie deleted with other ones.
    return {"path": "/console", "httponly": True, "samesite": "strict", "secure": request.url.scheme == "https"}


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the admin token (failures throttled per address and audited); open a session."""
    runtime = _runtime(request)
    client = client_address(request)
    try:
        await runtime.throttle.check(client)
    except TooManyAttempts as exc:
        return _page(request, "login.html", None, 429, headers={"retry-after": str(exc.retry_after_s)},
                     error=exc.message)
    form = await request.form()
    name, token = str(form.get("name", "")).strip(), str(form.get("token", ""))
    if not NAME.fullmatch(name):
        return _page(request, "login.html", None, 400, error="your name: 1 to 64 letters, digits, . _ @ or -")
    if not admin_token_ok(runtime, token):
        await runtime.throttle.failed(client, "console", f"wrong admin token for {name}")
        return _page(request, "login.html", None, 401, error="wrong admin token")
    settings = runtime.settings
    try:
        opened = await asyncio.to_thread(runtime.access.open_session, f"console:{name}",
                                         token_fingerprint(settings.admin_token),
                                         timedelta(seconds=settings.console_session_max_age_s))
    except FlagStoreUnavailable as exc:
        raise ConsoleError(503, f"cannot open a session, the flag store is unavailable: {exc}") from exc
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(COOKIE, opened.cookie_id, max_age=int(settings.console_session_max_age_s),
                        **_cookie_options(request))
    return response


@router.post("/logout")
async def logout(request: Request, session: Session) -> Response:
    """End the session everywhere (the row is revoked), then forget the cookie."""
    await _form(request, session)
    try:
        await asyncio.to_thread(_runtime(request).access.revoke, session.key, "logout")
    except FlagStoreUnavailable as exc:
        raise ConsoleError(503, f"cannot log out, the flag store is unavailable: {exc}; the session is still "
                                "open") from exc
    response = _login_redirect()
    response.delete_cookie(COOKIE, **_cookie_options(request))
    return response


async def _verdicts(runtime: GatewayRuntime) -> dict[str, Any] | None:
    """The current analysis from its start (the view whose verdicts hold however often the page is reloaded)."""
    from gateway.admin.verdicts_router import verdict_report

    try:
        report = await asyncio.to_thread(verdict_report, runtime)
    except ComparisonStoreError:
        return None
    return report.as_dict()


async def _payoff(runtime: GatewayRuntime) -> dict[str, Any]:
    """The live payoff half, with the payoff half of the validation in force (if it measured one)."""
    from gateway.console.payoff_view import live_payoff

    in_force, body = runtime.validation.in_force, None
    if in_force is not None:
        try:
            found = await asyncio.to_thread(runtime.store.validation, in_force.id)
            body = {"id": in_force.id, **found[1]} if found else None
        except FlagStoreUnavailable:
            body = None
    backends = {variant.value: backend.settings for variant, backend in runtime.backends.items()}
    return await live_payoff(runtime.metrics.collecting_registry(), backends, body)


@router.get("")
async def overview(request: Request, session: Session) -> Response:
    """Flags, the split, the validation state, both halves (the verdict per category; speed, memory and cost next
    to the baseline), and the rollback form."""
    runtime = _runtime(request)
    flags, source = await current_flags(runtime)
    report = await _verdicts(runtime)
    return _page(request, "overview.html", session, flags=flags.as_dict(), source=source,
                 validation=runtime.validation.as_dict(), report=report,
                 categories=category_views(report) if report else [], payoff=await _payoff(runtime),
                 done=request.query_params.get("done"))


@router.post("/rollback")
async def rollback(request: Request, session: Session) -> Response:
    """Roll back after the person confirmed and gave a reason; audited under their name."""
    form = await _form(request, session)
    reason = form.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise ConsoleError(400, f"a rollback needs a reason (1 to {MAX_REASON} characters): nothing was changed")
    if form.get("confirm") != "yes":
        raise ConsoleError(400, "tick the confirmation box to roll back: nothing was changed")
    try:
        update = FlagUpdate(rollback=True, reason=reason)
    except ValidationError as exc:
        raise ConsoleError(422, f"{validation_message(exc)}: nothing was changed") from exc
    try:
        await apply_update(_runtime(request), update, session.actor)
    except GatewayError as exc:
        raise ConsoleError(exc.status_code, exc.message) from exc
    return RedirectResponse("/console?done=rollback", status_code=303)


def _float(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError:
        raise ConsoleError(400, f"{name} must be a number between 0 and 1") from None
    if not 0 <= number <= 1:
        raise ConsoleError(400, f"{name} must be a number between 0 and 1")
    return number


def _comparison_query(params: Any) -> ComparisonQuery:
    flip = params.get("flip") or None
    if flip is not None and flip not in FLIP_COLUMNS:
        raise ConsoleError(400, f"flip is one of {', '.join(FLIP_COLUMNS)}")
    try:
        since = parse_time(params.get("since") or None, "since")
        until = parse_time(params.get("until") or None, "until")
        page = int(params.get("page") or 1)
    except (GatewayError, ValueError) as exc:
        raise ConsoleError(400, str(getattr(exc, "message", exc))) from exc
    category = params.get("category") or None
    if category is not None and len(category) > 64:
        raise ConsoleError(400, "category is at most 64 characters")
    if not 1 <= page <= 100_000:
        raise ConsoleError(400, "page must be between 1 and 100000")
    return ComparisonQuery(since=since, until=until, category=category, flip=flip,
                           similarity_min=_float(params.get("sim_min"), "sim_min"),
                           similarity_max=_float(params.get("sim_max"), "sim_max"),
                           limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)


@router.get("/comparisons")
async def comparisons(request: Request, session: Session) -> Response:
    """Stored pairs, filtered by category, flip kind, similarity and time."""
    query = _comparison_query(request.query_params)
    runtime = _runtime(request)
    total, rows = await _read(safe, runtime.comparisons.query, query, what="comparison store")
    return _page(request, "comparisons.html", session, total=total, rows=[row_summary(r) for r in rows],
                 filters=dict(request.query_params), page=query.offset // PAGE_SIZE + 1, page_size=PAGE_SIZE,
                 flips=list(FLIP_COLUMNS))


@router.get("/comparisons/{record_id}")
async def pair(request: Request, session: Session, record_id: int) -> Response:
    """Both answers side by side; reading stored texts is audited before they are shown."""
    runtime = _runtime(request)
    row = await _read(safe, runtime.comparisons.get, record_id, what="comparison store")
    if row is None:
        raise ConsoleError(404, f"no comparison with id {record_id}")
    try:
        await audit_text_read(runtime, row, session.actor, "console")
    except GatewayError as exc:
        raise ConsoleError(exc.status_code, exc.message) from exc
    detail = row_detail(row)
    base, cand = detail["baseline_text"], detail["candidate_text"]
    diff = word_diff(base or "", cand or "") if base is not None and cand is not None else None
    return _page(request, "pair.html", session, c=detail, diff=diff, divergence=divergence(base or "", cand or ""),
                 baseline_stamp=stamp_rows(detail["baseline_stamp"]),
                 candidate_stamp=stamp_rows(detail["candidate_stamp"]))


@router.get("/validations")
async def validations(request: Request, session: Session) -> Response:
    """The pre-ship gate's records, newest first."""
    runtime = _runtime(request)
    rows = await _read(runtime.store.validations, 50)
    return _page(request, "validations.html", session, rows=[r.as_dict() for r in rows],
                 validation=runtime.validation.as_dict())


@router.get("/validations/{validation_id}")
async def validation(request: Request, session: Session, validation_id: int) -> Response:
    """One validation's disclosure card."""
    found = await _read(_runtime(request).store.validation, validation_id)
    if found is None:
        raise ConsoleError(404, f"no validation {validation_id}")
    from evals.card import card_html

    return _page(request, "validation.html", session, card=card_html(found[0].as_dict(), found[1]),
                 number=validation_id)


@router.get("/audit")
async def audit(request: Request, session: Session) -> Response:
    """Who changed the flags, who read stored texts, and who failed to log in."""
    store = _runtime(request).store
    changes, reads = await _read(store.audit, 200), await _read(store.reads, 200)
    failures = await _read(_runtime(request).access.failures, 200)
    return _page(request, "audit.html", session, changes=[e.as_dict() for e in changes],
                 reads=[r.as_dict() for r in reads], failures=[f.as_dict() for f in failures])


@router.get("/report")
async def report(request: Request, session: Session) -> Response:
    """The printable report: the answer first, then each category's intervals against its tolerances."""
    data = await _verdicts(_runtime(request))
    if data is None:
        raise ConsoleError(503, "comparison store unavailable")
    views = category_views(data)
    return _page(request, "report.html", session, report=data, categories=views,
                 baseline_stamp=stamp_rows(data["baseline_stamp"]), candidate_stamp=stamp_rows(data["candidate_stamp"]))


def console_error_page(request: Request, exc: ConsoleError) -> Response:
    """A console error as a page with the reason (never a stack trace)."""
    session = getattr(request.state, "console_session", None)
    return _page(request, "error.html", session, exc.status, message=exc.message)


def login_redirect(_: Request, __: LoginRequired) -> Response:
    """A page asked for without a session."""
    return _login_redirect()


def static_files() -> Any:
    """The console's stylesheet, served by the gateway itself."""
    from starlette.staticfiles import StaticFiles

    return StaticFiles(directory=HERE / "static")

