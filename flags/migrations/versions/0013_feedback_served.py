"""feedback_served: answers that carried a feedback token, per hour, arm, category, routing stratum and key group

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quantgate_feedback_served',
    sa.Column('hour', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('variant', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('candidate_share', sa.Float(), nullable=False),
    sa.Column('key_group', sa.Integer(), nullable=False),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('hour', 'variant', 'category', 'candidate_share', 'key_group'),
    )


def downgrade() -> None:
    op.drop_table('quantgate_feedback_served')
