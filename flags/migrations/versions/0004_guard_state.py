"""guard state: the rollout guard's counts per test survive restarts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quantgate_guard_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state_json', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('reset_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('quantgate_guard_state')
