"""censored shadows: a shadow that timed out is stored, its latency censored at the time waited

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('quantgate_shadow_comparison', schema=None) as batch_op:
        # The arm whose answer never completed (the shadow's variant); NULL for a compared pair.
        batch_op.add_column(sa.Column('censored_arm', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        # Whether that arm's TTFT is censored too (no first token before the timeout) or was seen.
        batch_op.add_column(sa.Column('ttft_censored', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('quantgate_shadow_comparison', schema=None) as batch_op:
        batch_op.drop_column('ttft_censored')
        batch_op.drop_column('censored_arm')
