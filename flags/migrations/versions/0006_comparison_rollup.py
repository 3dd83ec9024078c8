"""comparison rollup: per-hour, per-category counts kept by triggers, so long windows read hours, not rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_TABLE = "quantgate_shadow_comparison"
_ROLLUP = "quantgate_comparison_rollup"
_COMPARED = "{r}censored_arm IS NULL"
# (column, condition on one row): every count the rate tests need, independent of any policy.
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
    ("censored", "{r}censored_arm IS NOT NULL"),
)
_NAMES = ", ".join(name for name, _ in COUNTS)


def _hour(dialect: str, column: str) -> str:
    if dialect == "postgresql":
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text: the hour, in the same format.
    return f"strftime('%Y-%m-%d %H:00:00.000000', {column})"


def _sums(prefix: str) -> str:
    return ", ".join(f"SUM(CASE WHEN {condition.format(r=prefix)} THEN 1 ELSE 0 END)" for _, condition in COUNTS)


def _postgres_trigger(event: str) -> list[str]:
    grouped = (f"SELECT {_hour('postgresql', 'created_at')} AS hour, category, {_sums('')} "
               "FROM changed_rows GROUP BY 1, 2")
    if event == "INSERT":
        updates = ", ".join(f"{name} = r.{name} + EXCLUDED.{name}" for name, _ in COUNTS)
        body = (f"INSERT INTO {_ROLLUP} AS r (hour, category, {_NAMES}) {grouped} "
                f"ON CONFLICT (hour, category) DO UPDATE SET {updates};")
    else:  # a purge: subtract what the deleted rows had added
        sums = ", ".join(f"{name} = r.{name} - d.c{i}" for i, (name, _) in enumerate(COUNTS))
        columns = ", ".join(f"c{i}" for i in range(len(COUNTS)))
        body = (f"UPDATE {_ROLLUP} AS r SET {sums} FROM ({grouped}) AS d (hour, category, {columns}) "
                f"WHERE r.hour = d.hour AND r.category = d.category;")
    name = f"quantgate_rollup_{event.lower()}"
    transition = "NEW TABLE" if event == "INSERT" else "OLD TABLE"
    return [f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body} RETURN NULL; END $$ "
            "LANGUAGE plpgsql",
            f"CREATE TRIGGER {name} AFTER {event} ON {_TABLE} REFERENCING {transition} AS changed_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"]


def _sqlite_trigger(event: str) -> str:
    if event == "INSERT":
        # CASE, not the bare condition: a NULL (no TTFT) must count as 0, not poison the sum.
        values = ", ".join(f"CASE WHEN {condition.format(r='NEW.')} THEN 1 ELSE 0 END" for _, condition in COUNTS)
        updates = ", ".join(f"{name} = {name} + excluded.{name}" for name, _ in COUNTS)
        body = (f"INSERT INTO {_ROLLUP} (hour, category, {_NAMES}) VALUES "
                f"({_hour('sqlite', 'NEW.created_at')}, NEW.category, {values}) "
                f"ON CONFLICT (hour, category) DO UPDATE SET {updates};")
    else:
        updates = ", ".join(f"{name} = {name} - CASE WHEN {condition.format(r='OLD.')} THEN 1 ELSE 0 END"
                            for name, condition in COUNTS)
        body = (f"UPDATE {_ROLLUP} SET {updates} WHERE hour = {_hour('sqlite', 'OLD.created_at')} "
                "AND category = OLD.category;")
    return f"CREATE TRIGGER quantgate_rollup_{event.lower()} AFTER {event} ON {_TABLE} BEGIN {body} END"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(_ROLLUP,
                    sa.Column('hour', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name, _ in COUNTS),
                    sa.PrimaryKeyConstraint('hour', 'category'))
    # Rows stored before this version.
    op.execute(f"INSERT INTO {_ROLLUP} (hour, category, {_NAMES}) SELECT {_hour(dialect, 'created_at')}, category, "
               f"{_sums('')} FROM {_TABLE} GROUP BY 1, 2")
    if dialect == "postgresql":
        for statement in (*_postgres_trigger("INSERT"), *_postgres_trigger("DELETE")):
            op.execute(statement)
    else:
        op.execute(_sqlite_trigger("INSERT"))
        op.execute(_sqlite_trigger("DELETE"))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for event in ("insert", "delete"):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS quantgate_rollup_{event} ON {_TABLE}")
            op.execute(f"DROP FUNCTION IF EXISTS quantgate_rollup_{event}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS quantgate_rollup_{event}")
    op.drop_table(_ROLLUP)
