"""trust: candidate contact data encrypted at rest with blind indexes, anonymisation mark,
audit trail of reads, consent, exports, erasures and retention

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types
from storage.crypto import blind_index, encrypt, is_encrypted

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_hash", sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=True))
        batch_op.add_column(sa.Column("email_hash", sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=True))
        batch_op.add_column(sa.Column("anonymized_at", storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
        # Ciphertext differs on every write: an index on it finds nothing.
        batch_op.drop_index("ix_candidate_phone")
        batch_op.drop_index("ix_candidate_email")
        batch_op.create_index(batch_op.f("ix_candidate_phone_hash"), ["phone_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_candidate_email_hash"), ["email_hash"], unique=False)
    _seal_existing_rows()
    op.create_table(
        "audit_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["person.id"], name=op.f("fk_audit_record_actor_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_record")),
    )
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_record_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_record_candidate_id"), ["candidate_id"], unique=False
        )


def _seal_existing_rows() -> None:
    """Index every existing contact and, when HRBOT_DATA_KEY is set, encrypt it in place."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, phone, email FROM candidate")).all()
    for cid, phone, email in rows:
        values = {"id": cid, "phone": phone, "email": email, "ph": None, "eh": None}
        if phone and not is_encrypted(phone):
            values.update(phone=encrypt(phone), ph=blind_index(phone))
        if email and not is_encrypted(email):
            values.update(email=encrypt(email), eh=blind_index(email))
        bind.execute(
            sa.text("UPDATE candidate SET phone = :phone, email = :email, phone_hash = :ph, "
                    "email_hash = :eh WHERE id = :id"),
            values,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_record_candidate_id"))
        batch_op.drop_index(batch_op.f("ix_audit_record_at"))
    op.drop_table("audit_record")
    # Encrypted contacts stay encrypted: decrypt them first with `hrbot gdpr rekey --plaintext`.
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_candidate_email_hash"))
        batch_op.drop_index(batch_op.f("ix_candidate_phone_hash"))
        batch_op.create_index("ix_candidate_email", ["email"], unique=False)
        batch_op.create_index("ix_candidate_phone", ["phone"], unique=False)
        batch_op.drop_column("anonymized_at")
        batch_op.drop_column("email_hash")
        batch_op.drop_column("phone_hash")
