"""read audit: who read stored answer texts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quantgate_read_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('resource', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('surface', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quantgate_read_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quantgate_read_audit_at'), ['at'], unique=False)


def downgrade() -> None:
    op.drop_table('quantgate_read_audit')
