"""directory sync: a person's mobile blind index and the roles the last sync granted by rule

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 16:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mobile_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(sa.Column("synced_roles", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_person_mobile_hash"), ["mobile_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_mobile_hash"))
        batch_op.drop_column("synced_roles")
        batch_op.drop_column("mobile_hash")
