"""The SQL flag store: current flag set, version, and append-only audit log (SQLite or any SQLAlchemy URL)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import MappingProxyType
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, col, select

from flags.deadlines import WRITE_DEADLINE_SETTING, SocketDeadline, StoreTimeouts
from flags.engine import SchemaNotMigrated, ensure_migrated, make_engine
from flags.gate import Exposure, GateContext, GateDecision, RolloutGated, decide, overrides_after
from flags.model import AuditEntry, FlagAuditRow, FlagSet, FlagStateRow, GuardStateRow, Variant, utcnow
from flags.read_audit import ReadEntry, add_read, newest_reads
from flags.updates import FlagUpdate
from flags.validations import ValidationRow, ValidationSummary, latest_matching, newest


class FlagStoreUnavailable(RuntimeError):
    """The store could not be read or written (down, locked past the timeout, or corrupt)."""


class StoreTimedOut(FlagStoreUnavailable):
    """The store did not answer within the operation's deadline (a frozen server, a silent network)."""


class StaleFlagVersion(RuntimeError):
    """An update carried an `expected_version` that is no longer current."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"flag set is at version {current}, update expected {expected}")
        self.expected = expected
        self.current = current


# The audit row of a request that changed nothing (every flag already had the asked-for value).
NO_CHANGE = "no_change"

_VERSION_QUERY = select(FlagStateRow.version).where(FlagStateRow.id == 1)


def _row_to_flagset(row: FlagStateRow) -> FlagSet:
    overrides = {name: Variant(value) for name, value in json.loads(row.category_overrides_json).items()}
    return FlagSet(
        version=row.version,
        rollout_percent=row.rollout_percent,
        shadow_percent=row.shadow_percent,
        rollback=row.rollback,
        salt=row.salt,
        category_overrides=MappingProxyType(overrides),
        updated_at=row.updated_at,
    )


def _audit_row_to_entry(row: FlagAuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id or 0,
        at=row.at,
        flag=row.flag,
        old_value=json.loads(row.old_value_json),
        new_value=json.loads(row.new_value_json),
        actor=row.actor,
        reason=row.reason,
        version=row.version,
    )


class FlagStore:
    """Reads and writes the flag set; every change is one transaction with its audit rows."""

    def __init__(self, url: str, timeouts: StoreTimeouts | None = None) -> None:
        self.url = url
        self.timeouts = timeouts or StoreTimeouts()
        self.engine = make_engine(url, self.timeouts)
        self._networked = self.engine.dialect.name != "sqlite"
        self._schema_ready = False

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def _checkout(self, seconds: float) -> tuple[Connection, SocketDeadline]:
        """A pooled connection under a deadline; a server database's connection is pinged (once retried)."""
        for attempt in (1, 2):
            conn = self.engine.connect()
            deadline = SocketDeadline(seconds)
            deadline.arm(conn)
            if not self._networked:
                # SQLite has no socket to watch: its lock wait is the deadline. On the driver's own connection,
                # so SQLAlchemy does not begin a transaction for the pragma.
                conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                    f"PRAGMA busy_timeout = {max(1, int(seconds * 1000))}")
                return conn, deadline
            try:
                conn.exec_driver_sql("SELECT 1")
                conn.rollback()
                return conn, deadline
            except DBAPIError as exc:
                deadline.disarm()
                conn.close()
                if deadline.fired:
                    raise StoreTimedOut(f"flag store did not answer within {seconds:g} s") from exc
                # A connection the server dropped (restart, failover) is replaced once; a silent server is not.
                if not exc.connection_invalidated or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _connection(self, *, write: bool = False, seconds: float | None = None) -> Iterator[Connection]:
        """A pooled connection; any database error, or no answer within the deadline, is FlagStoreUnavailable."""
        seconds = seconds or self.timeouts.read_deadline_s()
        deadline: SocketDeadline | None = None
        try:
            conn, deadline = self._checkout(seconds)
            with conn:
                yield conn.execution_options(sqlite_begin="IMMEDIATE") if write else conn
        except SQLAlchemyError as exc:
            if deadline is not None and deadline.fired:
                raise StoreTimedOut(f"flag store did not answer within {seconds:g} s") from exc
            cause = getattr(exc, "orig", None) or exc
            if not self._networked and "database is locked" in str(cause):
                raise StoreTimedOut(f"flag store is locked by another writer: no lock within {seconds:g} s") from exc
            if type(cause).__name__ == "ConnectionTimeout":
                raise StoreTimedOut(f"flag store did not accept a connection within "
                                    f"{self.timeouts.connect_timeout_s:g} s") from exc
            raise FlagStoreUnavailable(f"flag store error: {type(cause).__name__}: {cause}") from exc
        finally:
            if deadline is not None:
                deadline.disarm()

    def transaction(self, *, write: bool) -> AbstractContextManager[Session]:
        """One transaction under the store's deadlines (a write takes the write lock); for the store's companions."""
        return self._session(write=write)

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Session]:
        # A write to a server database carries its deadline into the transaction (the COMMIT trigger checks it).
        at, wait_s = self.timeouts.write_deadline() if write and self._networked else (None, None)
        if write and not self._networked:
            # A local write either takes the lock within the deadline or never happens: no COMMIT trigger needed.
            wait_s = self.timeouts.write_deadline_s
        try:
            with self._connection(write=write, seconds=wait_s) as conn, conn.begin(), Session(bind=conn) as session:
                if at is not None:
                    conn.execute(text("SELECT set_config(:name, :deadline, true)"),
                                 {"name": WRITE_DEADLINE_SETTING, "deadline": at.isoformat()})
                yield session
                # The outer connection transaction commits; the session only has to flush into it.
                session.flush()
        except StoreTimedOut as exc:
            if at is None:
                raise
            raise StoreTimedOut(f"{exc}; the database refuses this write at COMMIT after {at.isoformat()}, "
                                "so it cannot land later") from exc

    def ensure_schema(self) -> None:
        """Create tables and the initial flag row if missing (idempotent, safe across workers)."""
        if self._schema_ready:
            return
        try:
            ensure_migrated(self.engine)
        except SQLAlchemyError as exc:
            raise FlagStoreUnavailable(f"cannot migrate the flag store: {exc}") from exc
        except SchemaNotMigrated as exc:
            raise FlagStoreUnavailable(str(exc)) from exc
        with self._session(write=True) as session:
            if session.get(FlagStateRow, 1) is None:
                now = utcnow()
                state = FlagStateRow(
                    version=1, rollout_percent=0.0, shadow_percent=0.0, rollback=False,
                    salt=secrets.token_hex(8), updated_at=now,
                )
                session.add(state)
                session.add(FlagAuditRow(
                    at=now, flag="*", old_value_json="null",
                    new_value_json=json.dumps({"rollout_percent": 0.0, "shadow_percent": 0.0, "rollback": False}),
                    actor="quantgate", reason="initial flag set", version=1,
                ))
        self._schema_ready = True

    def current_version(self) -> int:
        """The flag-set version: the cheap query workers poll (a Core select, no ORM session)."""
        with self._connection() as conn:
            version = conn.execute(_VERSION_QUERY).scalar_one_or_none()
        if version is None:
            raise FlagStoreUnavailable("flag table is empty")
        return int(version)

    def snapshot(self) -> FlagSet:
        """The whole current flag set."""
        with self._session(write=False) as session:
            row = session.get(FlagStateRow, 1)
            if row is None:
                raise FlagStoreUnavailable("flag table is empty")
            return _row_to_flagset(row)

    def apply(self, update: FlagUpdate, actor: str, gate: GateContext | None = None) -> FlagSet:
        """Apply a validated update atomically; returns the resulting flag set.

        With a `gate`, a change that gives the candidate more traffic is checked against the validation in force
        in the same transaction: refused (RolloutGated, nothing written) unless it passes or the update overrides
        the gate, which is audited as `gate_override` with what was missing.
        """
        with self._session(write=True) as session:
            row = session.exec(select(FlagStateRow).where(FlagStateRow.id == 1).with_for_update()).first()
            if row is None:
                raise FlagStoreUnavailable("flag table is empty")
            if update.expected_version is not None and update.expected_version != row.version:
                raise StaleFlagVersion(update.expected_version, row.version)
            changes = _diff(row, update)
            if not changes:
                # Asked for what is already in force (a second rollback): the request and its reason are audited
                # all the same, at the unchanged version, so the trail shows who asked and why.
                session.add(FlagAuditRow(
                    at=utcnow(), flag=NO_CHANGE, old_value_json="null", new_value_json=json.dumps(update.changes()),
                    actor=update.actor or actor, reason=update.reason, version=row.version))
                return _row_to_flagset(row)
            refusal = self._gate(session, row, changes, gate)
            if refusal is not None and not update.override_gate:
                raise RolloutGated(refusal)
            now = utcnow()
            row.version += 1
            row.updated_at = now
            for flag, (old, new) in changes.items():
                _set_flag(row, flag, new)
                session.add(FlagAuditRow(
                    at=now, flag=flag, old_value_json=json.dumps(old), new_value_json=json.dumps(new),
                    actor=update.actor or actor, reason=update.reason, version=row.version,
                ))
            if refusal is not None:
                session.add(FlagAuditRow(
                    at=now, flag="gate_override", old_value_json=json.dumps(refusal.as_dict()),
                    new_value_json=json.dumps(sorted(changes)), actor=update.actor or actor, reason=update.reason,
                    version=row.version))
            if changes.get("rollback") == (True, False):
                # Clearing a rollback starts the guard over, atomically with the flag: its old evidence was about
                # a candidate the operator has since dealt with.
                session.merge(GuardStateRow(id=1, state_json=None, reset_at=now, updated_at=now))
            session.add(row)
            session.flush()
            return _row_to_flagset(row)

    @staticmethod
    def _gate(session: Session, row: FlagStateRow, changes: dict[str, tuple[Any, Any]],
              gate: GateContext | None) -> GateDecision | None:
        """The gate's refusal of this change, or None when it is not gated or may land."""
        if gate is None or not gate.enabled:
            return None
        overrides = overrides_after(row.category_overrides_json, changes)
        new = {flag: value for flag, (_, value) in changes.items()}
        before = Exposure.of(row.rollout_percent, row.rollback, json.loads(row.category_overrides_json))
        after = Exposure.of(new.get("rollout_percent", row.rollout_percent), new.get("rollback", row.rollback),
                            overrides)
        if not before.raised_by(after):
            return None
        found = latest_matching(session, gate.baseline_stamp_sha256, gate.candidate_stamp_sha256, gate.policy)
        decision = decide(gate, ValidationSummary.of(found) if found else None, overrides)
        return None if decision.allowed else decision

    def add_validation(self, row: ValidationRow) -> int:
        """Store a validation record; returns its id."""
        with self._session(write=True) as session:
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def validations(self, limit: int = 50) -> list[ValidationSummary]:
        """Newest validation records first."""
        with self._session(write=False) as session:
            return [ValidationSummary.of(row) for row in newest(session, limit)]

    def validation(self, validation_id: int) -> tuple[ValidationSummary, dict[str, Any]] | None:
        """One record with its full results, or None."""
        with self._session(write=False) as session:
            row = session.get(ValidationRow, validation_id)
            return None if row is None else (ValidationSummary.of(row), json.loads(row.result_json))

    def validation_in_force(self, gate: GateContext) -> ValidationSummary | None:
        """The newest record naming these stamps and this policy."""
        with self._session(write=False) as session:
            row = latest_matching(session, gate.baseline_stamp_sha256, gate.candidate_stamp_sha256, gate.policy)
            return None if row is None else ValidationSummary.of(row)

    def guard_state(self) -> GuardStateRow | None:
        """The rollout guard's saved evidence (None before its first save)."""
        with self._session(write=False) as session:
            row = session.get(GuardStateRow, 1)
            if row is not None:
                session.expunge(row)
            return row

    def save_guard_state(self, state_json: str, reset_at: Any = None) -> bool:
        """Save the guard's evidence; False (nothing saved) when an operator reset it since the guard's `reset_at`."""
        with self._session(write=True) as session:
            row = session.exec(select(GuardStateRow).where(GuardStateRow.id == 1).with_for_update()).first()
            if row is not None and row.reset_at is not None and row.reset_at != reset_at:
                return False
            session.merge(GuardStateRow(id=1, state_json=state_json, reset_at=reset_at, updated_at=utcnow()))
            return True

    def record_read(self, actor: str, resource: str, record_id: int, surface: str) -> None:
        """Audit one read of stored texts (raises FlagStoreUnavailable: then the texts are not shown)."""
        with self._session(write=True) as session:
            add_read(session, utcnow(), actor, resource, record_id, surface)

    def reads(self, limit: int = 100) -> list[ReadEntry]:
        """Newest reads of stored texts first."""
        with self._session(write=False) as session:
            return newest_reads(session, limit)

    def audit(self, limit: int = 100, flag: str | None = None) -> list[AuditEntry]:
        """Newest audit rows first."""
        with self._session(write=False) as session:
            query = select(FlagAuditRow).order_by(col(FlagAuditRow.id).desc()).limit(limit)
            if flag is not None:
                query = query.where(FlagAuditRow.flag == flag)
            return [_audit_row_to_entry(row) for row in session.exec(query).all()]


def _diff(row: FlagStateRow, update: FlagUpdate) -> dict[str, tuple[Any, Any]]:
    """Old and new JSON values for each flag the update really changes."""
    changes: dict[str, tuple[Any, Any]] = {}
    for flag, value in update.changes().items():
        if flag == "category_overrides":
            old = json.loads(row.category_overrides_json)
            new = dict(old)
            for category, variant in value.items():  # type: ignore[union-attr]
                if variant is None:
                    new.pop(category, None)
                else:
                    new[category] = Variant(variant).value
            new = dict(sorted(new.items()))
        elif flag in ("rollout_percent", "shadow_percent"):
            old, new = getattr(row, flag), round(float(value), 2)  # type: ignore[arg-type]
        else:
            old, new = getattr(row, flag), value
        if old != new:
            changes[flag] = (old, new)
    return changes


def _set_flag(row: FlagStateRow, flag: str, value: Any) -> None:
    if flag == "category_overrides":
        row.category_overrides_json = json.dumps(value)
    else:
        setattr(row, flag, value)
