"""send lanes and shared send windows: outbox.lane, send_window, send_stamp

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 16:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lane", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "send_window",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("touched_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_window")),
    )
    op.create_table(
        "send_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sent_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_stamp")),
    )
    op.create_index("ix_send_stamp_key_sent", "send_stamp", ["key", "sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_send_stamp_key_sent", table_name="send_stamp")
    op.drop_table("send_stamp")
    op.drop_table("send_window")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lane")
