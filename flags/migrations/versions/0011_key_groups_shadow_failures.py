"""key groups and shadow failures: the rollup counted per (hour, category, key group), failed shadows stored

Pairs of one routing key (one user) are not independent, so the verdicts need each group of keys' own counts to
estimate how much the clustering widens an interval; random groups of keys are independent of each other. A shadow
that errors, meets an open circuit or times out is now a stored row (`shadow_failure` says which), counted against
the arm that failed; only timeouts stay in the latency quantiles as censored values.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 08:10:00
"""

from __future__ import annotations

import hashlib
import importlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_TABLE = "quantgate_shadow_comparison"
_ROLLUP = "quantgate_comparison_rollup"
KEY_GROUPS = 128  # flags.comparisons.KEY_GROUPS at this version
_COMPARED = "{r}censored_arm IS NULL"
# Older censored rows (no `shadow_failure`) were all timeouts.
_TIMED_OUT = ("{r}censored_arm IS NOT NULL "
              "AND ({r}shadow_failure IS NULL OR {r}shadow_failure IN ('timeout', 'abandoned'))")
COUNTS = (
    ("pairs", _COMPARED),
    ("refused_worse", f"{_COMPARED} AND {{r}}candidate_refused AND NOT {{r}}baseline_refused"),
    ("refused_better", f"{_COMPARED} AND {{r}}baseline_refused AND NOT {{r}}candidate_refused"),
    ("refused_both", f"{_COMPARED} AND {{r}}baseline_refused AND {{r}}candidate_refused"),
    ("format_checked", f"{_COMPARED} AND {{r}}format_checked"),
    ("format_worse", f"{_COMPARED} AND {{r}}format_checked AND {{r}}candidate_format_broken "
                     f"AND NOT {{r}}baseline_format_broken"),
    ("format_better", f"{_COMPARED} AND {{r}}format_checked AND {{r}}baseline_format_broken "
                      f"AND NOT {{r}}candidate_format_broken"),
    ("format_both", f"{_COMPARED} AND {{r}}format_checked AND {{r}}baseline_format_broken "
                    f"AND {{r}}candidate_format_broken"),
    ("repetitive_worse", f"{_COMPARED} AND {{r}}candidate_repetitive AND NOT {{r}}baseline_repetitive"),
    ("repetitive_better", f"{_COMPARED} AND {{r}}baseline_repetitive AND NOT {{r}}candidate_repetitive"),
    ("repetitive_both", f"{_COMPARED} AND {{r}}baseline_repetitive AND {{r}}candidate_repetitive"),
    ("length_pairs", f"{_COMPARED} AND {{r}}length_ratio IS NOT NULL"),
    ("timed_pairs", f"{_COMPARED} AND {{r}}baseline_ttft_s > 0 AND {{r}}candidate_ttft_s > 0"),
    ("censored", _TIMED_OUT),
    # Every shadow that ended either way, and those that failed, by the arm that failed (always the shadow).
    ("attempts", "1 = 1"),
    ("failed_worse", "{r}censored_arm = 'candidate'"),
    ("failed_better", "{r}censored_arm = 'baseline'"),
)
_NAMES = ", ".join(name for name, _ in COUNTS)
_KEYS = ("hour", "category", "key_group")


def key_group(routing_key_hash: str) -> int:
    """The key's group (flags.comparisons.key_group at this version)."""
    return int.from_bytes(hashlib.blake2b(routing_key_hash.encode(), digest_size=4).digest(), "big") % KEY_GROUPS


def _hour(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"strftime('%Y-%m-%d %H:00:00.000000', {column})"


def _sums(prefix: str) -> str:
    return ", ".join(f"SUM(CASE WHEN {condition.format(r=prefix)} THEN 1 ELSE 0 END)" for _, condition in COUNTS)


def _postgres_trigger(event: str) -> list[str]:
    grouped = (f"SELECT {_hour('postgresql', 'created_at')} AS hour, category, key_group, {_sums('')} "
               "FROM changed_rows GROUP BY 1, 2, 3")
    if event == "INSERT":
        updates = ", ".join(f"{name} = r.{name} + EXCLUDED.{name}" for name, _ in COUNTS)
        body = (f"INSERT INTO {_ROLLUP} AS r (hour, category, key_group, {_NAMES}) {grouped} "
                f"ON CONFLICT (hour, category, key_group) DO UPDATE SET {updates};")
    else:
        sums = ", ".join(f"{name} = r.{name} - d.c{i}" for i, (name, _) in enumerate(COUNTS))
        columns = ", ".join(f"c{i}" for i in range(len(COUNTS)))
        body = (f"UPDATE {_ROLLUP} AS r SET {sums} FROM ({grouped}) AS d (hour, category, key_group, {columns}) "
                f"WHERE r.hour = d.hour AND r.category = d.category AND r.key_group = d.key_group;")
    name = f"quantgate_rollup_{event.lower()}"
    transition = "NEW TABLE" if event == "INSERT" else "OLD TABLE"
    return [f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body} RETURN NULL; END $$ "
            "LANGUAGE plpgsql",
            f"CREATE TRIGGER {name} AFTER {event} ON {_TABLE} REFERENCING {transition} AS changed_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"]


def _sqlite_trigger(event: str) -> str:
    if event == "INSERT":
        values = ", ".join(f"CASE WHEN {condition.format(r='NEW.')} THEN 1 ELSE 0 END" for _, condition in COUNTS)
        updates = ", ".join(f"{name} = {name} + excluded.{name}" for name, _ in COUNTS)
        body = (f"INSERT INTO {_ROLLUP} (hour, category, key_group, {_NAMES}) VALUES "
                f"({_hour('sqlite', 'NEW.created_at')}, NEW.category, NEW.key_group, {values}) "
                f"ON CONFLICT (hour, category, key_group) DO UPDATE SET {updates};")
    else:
        updates = ", ".join(f"{name} = {name} - CASE WHEN {condition.format(r='OLD.')} THEN 1 ELSE 0 END"
                            for name, condition in COUNTS)
        body = (f"UPDATE {_ROLLUP} SET {updates} WHERE hour = {_hour('sqlite', 'OLD.created_at')} "
                "AND category = OLD.category AND key_group = OLD.key_group;")
    return f"CREATE TRIGGER quantgate_rollup_{event.lower()} AFTER {event} ON {_TABLE} BEGIN {body} END"


def _drop_triggers(dialect: str) -> None:
    for event in ("insert", "delete"):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS quantgate_rollup_{event} ON {_TABLE}")
            op.execute(f"DROP FUNCTION IF EXISTS quantgate_rollup_{event}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS quantgate_rollup_{event}")


def _backfill_key_groups() -> None:
    """Each stored row's key group, from its key hash (one UPDATE per distinct key)."""
    bind = op.get_bind()
    hashes = [row[0] for row in bind.execute(sa.text(f"SELECT DISTINCT routing_key_hash FROM {_TABLE}"))]
    by_group: dict[int, list[str]] = {}
    for value in hashes:
        by_group.setdefault(key_group(value), []).append(value)
    statement = sa.text(f"UPDATE {_TABLE} SET key_group = :group WHERE routing_key_hash IN :hashes").bindparams(
        sa.bindparam("hashes", expanding=True))
    for group, members in by_group.items():
        for start in range(0, len(members), 500):
            bind.execute(statement, {"group": group, "hashes": members[start:start + 500]})


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    with op.batch_alter_table(_TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_group', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('shadow_failure', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    _backfill_key_groups()
    op.drop_table(_ROLLUP)
    op.create_table(_ROLLUP,
                    sa.Column('hour', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column('key_group', sa.Integer(), nullable=False),
                    *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name, _ in COUNTS),
                    sa.PrimaryKeyConstraint(*_KEYS))
    op.execute(f"INSERT INTO {_ROLLUP} (hour, category, key_group, {_NAMES}) SELECT {_hour(dialect, 'created_at')}, "
               f"category, key_group, {_sums('')} FROM {_TABLE} GROUP BY 1, 2, 3")
    if dialect == "postgresql":
        for statement in (*_postgres_trigger("INSERT"), *_postgres_trigger("DELETE")):
            op.execute(statement)
    else:
        op.execute(_sqlite_trigger("INSERT"))
        op.execute(_sqlite_trigger("DELETE"))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    op.drop_table(_ROLLUP)
    # Failed shadows other than timeouts did not exist before this version.
    op.execute(f"DELETE FROM {_TABLE} WHERE shadow_failure IS NOT NULL AND shadow_failure NOT IN "
               "('timeout', 'abandoned')")
    with op.batch_alter_table(_TABLE, schema=None) as batch_op:
        batch_op.drop_column('shadow_failure')
        batch_op.drop_column('key_group')
    # The per-(hour, category) rollup and its triggers, rebuilt as 0006 made them.
    importlib.import_module("flags.migrations.versions.0006_comparison_rollup").upgrade()
