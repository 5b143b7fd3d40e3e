"""callback signatures: DingTalk HTTP-mode signatures seen, so a replayed pair is refused

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 15:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callback_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("body_digest", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_signature")),
        sa.UniqueConstraint("platform", "signature",
                            name=op.f("uq_callback_signature_platform_signature")),
    )
    op.create_index(
        op.f("ix_callback_signature_expires_at"), "callback_signature", ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_callback_signature_expires_at"), table_name="callback_signature")
    op.drop_table("callback_signature")
