"""workflow cases: one generic case table for every workflow, its event log, org history;
due items may point at a case

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 15:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('subject_person_id', sa.Integer(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('acting_for_id', sa.Integer(), nullable=True),
    sa.Column('stage_due_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stage_entered_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('org_path', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['acting_for_id'], ['person.id'], name=op.f('fk_case_acting_for_id_person')),
    sa.ForeignKeyConstraint(['assignee_id'], ['person.id'], name=op.f('fk_case_assignee_id_person')),
    sa.ForeignKeyConstraint(['created_by'], ['person.id'], name=op.f('fk_case_created_by_person')),
    sa.ForeignKeyConstraint(['subject_person_id'], ['person.id'], name=op.f('fk_case_subject_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case'))
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_org_path'), ['org_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_subject'), ['subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_subject_person_id'), ['subject_person_id'], unique=False)
        batch_op.create_index('ix_case_workflow_state', ['workflow', 'state'], unique=False)

    op.create_table('case_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('from_version', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['person.id'], name=op.f('fk_case_event_actor_id_person')),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_event_case_id_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_event'))
    )
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_event_case_id'), ['case_id'], unique=False)

    op.create_table('org_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('org_path', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('starts_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_org_assignment_case_id_case')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_org_assignment_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_assignment'))
    )
    with op.batch_alter_table('org_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_assignment_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('due_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_due_item_case_id'), ['case_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_due_item_case_id_case'), 'case', ['case_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('due_item', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_due_item_case_id_case'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_due_item_case_id'))
        batch_op.drop_column('case_id')

    with op.batch_alter_table('org_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_assignment_person_id'))

    op.drop_table('org_assignment')
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_event_case_id'))

    op.drop_table('case_event')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_workflow_state')
        batch_op.drop_index(batch_op.f('ix_case_subject_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_subject'))
        batch_op.drop_index(batch_op.f('ix_case_org_path'))
        batch_op.drop_index(batch_op.f('ix_case_assignee_id'))

    op.drop_table('case')
