"""judgement columns: each arm's detector flags as plain columns, so verdicts aggregate in SQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# (column, judgement JSON column, key): the rate metrics' per-arm flags. `format_checked` is true only when both
# arms' answers were checked, the pairs a format-break rate is computed over.
_FLAGS = (("baseline_refused", "baseline_judgement_json", "refused"),
          ("candidate_refused", "candidate_judgement_json", "refused"),
          ("baseline_repetitive", "baseline_judgement_json", "repetitive"),
          ("candidate_repetitive", "candidate_judgement_json", "repetitive"),
          ("baseline_format_broken", "baseline_judgement_json", "format_broken"),
          ("candidate_format_broken", "candidate_judgement_json", "format_broken"))


def _extract(dialect: str, source: str, key: str) -> str:
    # JSON text written by json.dumps: true/false literals.
    if dialect == "postgresql":
        return f"coalesce(({source}::json ->> '{key}')::boolean, false)"
    return f"coalesce(json_extract({source}, '$.{key}') = 1, 0)"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('quantgate_shadow_comparison', schema=None) as batch_op:
        for name, _, _ in _FLAGS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('format_checked', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Rows written by earlier versions: copy their flags out of the stored judgements.
    assignments = [f"{name} = {_extract(dialect, source, key)}" for name, source, key in _FLAGS]
    both_checked = (f"{_extract(dialect, 'baseline_judgement_json', 'format_checked')} AND "
                    f"{_extract(dialect, 'candidate_judgement_json', 'format_checked')}")
    assignments.append(f"format_checked = ({both_checked})")
    op.execute(f"UPDATE quantgate_shadow_comparison SET {', '.join(assignments)}")


def downgrade() -> None:
    with op.batch_alter_table('quantgate_shadow_comparison', schema=None) as batch_op:
        for name in ('format_checked', *(name for name, _, _ in reversed(_FLAGS))):
            batch_op.drop_column(name)
