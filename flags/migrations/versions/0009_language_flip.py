"""language flip: the comparison row says when only one answer is in another language than asked

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (both SQLite and PostgreSQL do it in place): a batch copy of the table would drop the
    # rollup triggers of migration 0006.
    op.add_column('quantgate_shadow_comparison',
                  sa.Column('language_flip', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    op.drop_column('quantgate_shadow_comparison', 'language_flip')
