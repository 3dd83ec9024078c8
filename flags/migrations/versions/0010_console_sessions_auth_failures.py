"""console sessions kept server-side, failed logins per client address

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quantgate_console_session',
    sa.Column('id_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('token_fingerprint', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('revoked_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id_sha256')
    )
    with op.batch_alter_table('quantgate_console_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quantgate_console_session_expires_at'), ['expires_at'], unique=False)
    op.create_table('quantgate_auth_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('surface', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quantgate_auth_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quantgate_auth_failure_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_auth_failure_client'), ['client'], unique=False)


def downgrade() -> None:
    op.drop_table('quantgate_auth_failure')
    op.drop_table('quantgate_console_session')
