"""validations: pre-ship validation records that gate raising the rollout

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quantgate_validations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('baseline_stamp_sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('candidate_stamp_sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('policy', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('suite', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('suite_sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('failing_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('inconclusive_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('identity_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('result_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('wall_s', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quantgate_validations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quantgate_validations_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_validations_baseline_stamp_sha256'),
                              ['baseline_stamp_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_validations_candidate_stamp_sha256'),
                              ['candidate_stamp_sha256'], unique=False)


def downgrade() -> None:
    op.drop_table('quantgate_validations')
