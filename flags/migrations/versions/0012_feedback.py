"""feedback: one row per signal about one answer, unique per (token, signal) and per idempotency key

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quantgate_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('variant', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('candidate_share', sa.Float(), nullable=False),
    sa.Column('key_group', sa.Integer(), nullable=False),
    sa.Column('signal', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('token_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256', 'signal', name='uq_quantgate_feedback_token_signal'),
    sa.UniqueConstraint('idempotency_key', name='uq_quantgate_feedback_idempotency_key'),
    )
    with op.batch_alter_table('quantgate_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quantgate_feedback_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_feedback_category'), ['category'], unique=False)


def downgrade() -> None:
    op.drop_table('quantgate_feedback')
