"""recall of no-show candidates: talent profiles, campaigns, contacts, platform deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def _str(name: str) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "recall_campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        _str("stage"),
        sa.Column("profile_ids", sa.JSON(), nullable=False),
        _str("state"),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["person.id"], name=op.f("fk_recall_campaign_created_by_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_campaign")),
    )
    op.create_table(
        "talent_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("position_id", sa.Integer(), nullable=True),
        _str("org_path"),
        _str("source"),
        _str("category"),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        _str("interest"),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("evaluations", sa.JSON(), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        _ts("consent_at", nullable=True),
        _ts("opted_out_at", nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        _ts("since"),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidate.id"], name=op.f("fk_talent_profile_candidate_id_candidate")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["person.id"], name=op.f("fk_talent_profile_owner_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["position_id"], ["position.id"], name=op.f("fk_talent_profile_position_id_position")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_talent_profile_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_profile")),
        sa.UniqueConstraint("candidate_id", name=op.f("uq_talent_profile_candidate_id")),
    )
    with op.batch_alter_table("talent_profile", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_profile_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_profile_org_path"), ["org_path"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_talent_profile_referral_id"), ["referral_id"], unique=False
        )

    op.create_table(
        "recall_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        _str("stage"),
        sa.Column("day", sa.Integer(), nullable=True),
        _str("category"),
        _str("template"),
        sa.Column("text", sa.Text(), nullable=False),
        _str("error"),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "drafted",
                "handed",
                "queued",
                "sent",
                "failed",
                "skipped",
                "cancelled",
                name="recallstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("prepared_by", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        _str("channel"),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        _ts("confirmed_at", nullable=True),
        _ts("sent_at", nullable=True),
        _ts("delivered_at", nullable=True),
        _ts("replied_at", nullable=True),
        _ts("interested_at", nullable=True),
        _ts("rehired_at", nullable=True),
        _ts("opted_out_at", nullable=True),
        _str("failure"),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["recall_campaign.id"],
            name=op.f("fk_recall_contact_campaign_id_recall_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["person.id"], name=op.f("fk_recall_contact_decided_by_person")
        ),
        sa.ForeignKeyConstraint(
            ["prepared_by"], ["person.id"], name=op.f("fk_recall_contact_prepared_by_person")
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profile.id"],
            name=op.f("fk_recall_contact_profile_id_talent_profile"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["person.id"], name=op.f("fk_recall_contact_sender_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_contact")),
    )
    with op.batch_alter_table("recall_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recall_contact_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recall_contact_profile_id"), ["profile_id"], unique=False
        )

    op.create_table(
        "recall_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        _str("platform"),
        _str("msgid"),
        _str("sender"),
        _str("status"),
        _ts("send_time", nullable=True),
        _str("error"),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("applied_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["recall_contact.id"],
            name=op.f("fk_recall_delivery_contact_id_recall_contact"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_delivery")),
        sa.UniqueConstraint(
            "contact_id", "platform", name=op.f("uq_recall_delivery_contact_id_platform")
        ),
    )


def downgrade() -> None:
    op.drop_table("recall_delivery")
    with op.batch_alter_table("recall_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recall_contact_profile_id"))
        batch_op.drop_index(batch_op.f("ix_recall_contact_campaign_id"))
    op.drop_table("recall_contact")
    with op.batch_alter_table("talent_profile", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_profile_referral_id"))
        batch_op.drop_index(batch_op.f("ix_talent_profile_org_path"))
        batch_op.drop_index(batch_op.f("ix_talent_profile_category"))
    op.drop_table("talent_profile")
    op.drop_table("recall_campaign")
