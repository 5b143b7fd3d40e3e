"""insight: referral facts, requirement checks, SLA breaches, talent pool and tags,
position watch, referral bonuses, settings and charts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 17:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Children before parents, so dropping follows the foreign keys.
_TABLES = (
    "sla_breach", "referral_fact", "referral_check", "referral_bonus", "position_watch",
    "talent_pool", "pool_tag", "insight_setting", "insight_chart",
)


def upgrade() -> None:
    op.create_table('insight_chart',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('png', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insight_chart')),
    sa.UniqueConstraint('digest', name=op.f('uq_insight_chart_digest'))
    )
    op.create_index(op.f('ix_insight_chart_created_at'), 'insight_chart', ['created_at'], unique=False)
    op.create_table('insight_setting',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by'], ['person.id'], name=op.f('fk_insight_setting_updated_by_person')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_insight_setting'))
    )
    op.create_table('pool_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('tag', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('org_key', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidate.id'], name=op.f('fk_pool_tag_candidate_id_candidate')),
    sa.ForeignKeyConstraint(['created_by'], ['person.id'], name=op.f('fk_pool_tag_created_by_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pool_tag')),
    sa.UniqueConstraint('candidate_id', 'tag', name=op.f('uq_pool_tag_candidate_id_tag'))
    )
    op.create_index('ix_pool_tag_scope', 'pool_tag', ['tag', 'org_key'], unique=False, postgresql_ops={'org_key': 'text_pattern_ops'}, postgresql_include=['candidate_id', 'source', 'updated_at'])
    op.create_table('talent_pool',
    sa.Column('candidate_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('org_key', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('position_id', sa.Integer(), nullable=True),
    sa.Column('referrer_id', sa.Integer(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('search', sa.Text(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidate.id'], name=op.f('fk_talent_pool_candidate_id_candidate')),
    sa.PrimaryKeyConstraint('candidate_id', name=op.f('pk_talent_pool'))
    )
    op.create_index('ix_talent_pool_scope', 'talent_pool', ['org_key', 'updated_at'], unique=False, postgresql_ops={'org_key': 'text_pattern_ops'}, postgresql_include=['candidate_id', 'search'])
    op.create_table('position_watch',
    sa.Column('position_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['position_id'], ['position.id'], name=op.f('fk_position_watch_position_id_position')),
    sa.PrimaryKeyConstraint('position_id', name=op.f('pk_position_watch'))
    )
    op.create_table('referral_bonus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('referrer_id', sa.Integer(), nullable=False),
    sa.Column('first_referral_id', sa.Integer(), nullable=True),
    sa.Column('org_key', sa.Text(), nullable=False),
    sa.Column('hired_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('eligible_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidate.id'], name=op.f('fk_referral_bonus_candidate_id_candidate')),
    sa.ForeignKeyConstraint(['decided_by'], ['person.id'], name=op.f('fk_referral_bonus_decided_by_person')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_referral_bonus_referral_id_referral')),
    sa.ForeignKeyConstraint(['referrer_id'], ['person.id'], name=op.f('fk_referral_bonus_referrer_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_bonus')),
    sa.UniqueConstraint('referral_id', name=op.f('uq_referral_bonus_referral_id'))
    )
    op.create_index(op.f('ix_referral_bonus_referrer_id'), 'referral_bonus', ['referrer_id'], unique=False)
    op.create_index('ix_referral_bonus_scope', 'referral_bonus', ['org_key', 'eligible_at'], unique=False, postgresql_ops={'org_key': 'text_pattern_ops'})
    op.create_table('referral_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('org_key', sa.Text(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('hired', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_referral_check_referral_id_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_check')),
    sa.UniqueConstraint('referral_id', 'label', name=op.f('uq_referral_check_referral_id_label'))
    )
    op.create_index('ix_referral_check_scope', 'referral_check', ['org_key', 'created_at'], unique=False, postgresql_ops={'org_key': 'text_pattern_ops'}, postgresql_include=['label', 'outcome', 'hired'])
    op.create_table('referral_fact',
    sa.Column('referral_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('org_key', sa.Text(), nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=False),
    sa.Column('referrer_id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reached', sa.Integer(), nullable=False),
    sa.Column('hr_review_s', sa.Integer(), nullable=True),
    sa.Column('needs_info_s', sa.Integer(), nullable=True),
    sa.Column('leader_approval_s', sa.Integer(), nullable=True),
    sa.Column('interviewing_s', sa.Integer(), nullable=True),
    sa.Column('feedback_s', sa.Integer(), nullable=True),
    sa.Column('offer_s', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('synced_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_referral_fact_referral_id_referral')),
    sa.PrimaryKeyConstraint('referral_id', name=op.f('pk_referral_fact'))
    )
    op.create_index('ix_referral_fact_scope', 'referral_fact', ['org_key', 'created_at'], unique=False, postgresql_ops={'org_key': 'text_pattern_ops'}, postgresql_include=['state', 'reached', 'referrer_id', 'position_id', 'source', 'score', 'hr_review_s', 'needs_info_s', 'leader_approval_s', 'interviewing_s', 'feedback_s', 'offer_s'])
    op.create_table('sla_breach',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('org_key', sa.Text(), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sla_s', sa.Integer(), nullable=False),
    sa.Column('took_s', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_sla_breach_referral_id_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_breach')),
    sa.UniqueConstraint('referral_id', 'stage', 'entered_at', name=op.f('uq_sla_breach_referral_id_stage_entered_at'))
    )
    op.create_index(op.f('ix_sla_breach_referral_id'), 'sla_breach', ['referral_id'], unique=False)
    op.create_index('ix_sla_breach_scope', 'sla_breach', ['org_key', 'entered_at'], unique=False, postgresql_ops={'org_key': 'text_pattern_ops'})
    op.create_index('ix_referral_updated_at', 'referral', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index("ix_referral_updated_at", table_name="referral")
    for table in _TABLES:
        op.drop_table(table)
