"""outbox rows name the card they send, so every copy of a task's card can be closed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 16:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows already queued get "" (they were never looked up by key); the default then goes,
    # as the model has none.
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column(
                "card_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("card_key", server_default=None)
    op.create_index(op.f("ix_outbox_card_key"), "outbox", ["card_key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_card_key"), table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("card_key")
