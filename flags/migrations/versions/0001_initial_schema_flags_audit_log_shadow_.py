"""initial schema: flags, audit log, shadow comparisons

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 18:42:27.756052
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quantgate_flag_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('flag', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('old_value_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('new_value_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quantgate_flag_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quantgate_flag_audit_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_flag_audit_flag'), ['flag'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_flag_audit_version'), ['version'], unique=False)

    op.create_table('quantgate_flag_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('rollout_percent', sa.Float(), nullable=False),
    sa.Column('shadow_percent', sa.Float(), nullable=False),
    sa.Column('rollback', sa.Boolean(), nullable=False),
    sa.Column('salt', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('category_overrides_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('quantgate_shadow_comparison',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('routing_key_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('primary_variant', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('baseline_stamp_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('candidate_stamp_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('baseline_judgement_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('candidate_judgement_json', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('exact_match', sa.Boolean(), nullable=False),
    sa.Column('similarity', sa.Float(), nullable=False),
    sa.Column('similarity_head', sa.Float(), nullable=False),
    sa.Column('similarity_tail', sa.Float(), nullable=True),
    sa.Column('first_divergence', sa.Float(), nullable=True),
    sa.Column('length_ratio', sa.Float(), nullable=True),
    sa.Column('refusal_flip', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('format_flip', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('repetition_flip', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('any_flip', sa.Boolean(), nullable=False),
    sa.Column('baseline_ttft_s', sa.Float(), nullable=True),
    sa.Column('candidate_ttft_s', sa.Float(), nullable=True),
    sa.Column('baseline_total_s', sa.Float(), nullable=False),
    sa.Column('candidate_total_s', sa.Float(), nullable=False),
    sa.Column('baseline_output_tokens', sa.Integer(), nullable=True),
    sa.Column('candidate_output_tokens', sa.Integer(), nullable=True),
    sa.Column('prompt_text', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('baseline_text', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('candidate_text', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quantgate_shadow_comparison', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quantgate_shadow_comparison_any_flip'), ['any_flip'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_shadow_comparison_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_shadow_comparison_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_quantgate_shadow_comparison_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('quantgate_shadow_comparison', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quantgate_shadow_comparison_request_id'))
        batch_op.drop_index(batch_op.f('ix_quantgate_shadow_comparison_created_at'))
        batch_op.drop_index(batch_op.f('ix_quantgate_shadow_comparison_category'))
        batch_op.drop_index(batch_op.f('ix_quantgate_shadow_comparison_any_flip'))

    op.drop_table('quantgate_shadow_comparison')
    op.drop_table('quantgate_flag_state')
    with op.batch_alter_table('quantgate_flag_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quantgate_flag_audit_version'))
        batch_op.drop_index(batch_op.f('ix_quantgate_flag_audit_flag'))
        batch_op.drop_index(batch_op.f('ix_quantgate_flag_audit_at'))

    op.drop_table('quantgate_flag_audit')
