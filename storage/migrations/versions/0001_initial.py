"""initial

Revision ID: 0001
Revises:
Create Date: 2026-11-24 12:41:05.324885

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("education", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("work_history", sa.JSON(), nullable=False),
        sa.Column("achievements", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("wecom_external_userid", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("consent_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate")),
    )
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_candidate_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_candidate_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_candidate_phone"), ["phone"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_candidate_wecom_external_userid"),
            ["wecom_external_userid"],
            unique=False,
        )

    op.create_table(
        "card_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("platform_ref", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("response_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_instance")),
        sa.UniqueConstraint(
            "card_key",
            "platform",
            "recipient",
            name=op.f("uq_card_instance_card_key_platform_recipient"),
        ),
    )
    with op.batch_alter_table("card_instance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_instance_card_key"), ["card_key"], unique=False)

    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("platform", "event_id", name=op.f("uq_inbox_platform_event_id")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("target_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("group", sa.Boolean(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "sent", "failed", name="outboxstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("org_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("dingtalk_user_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("dingtalk_union_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("wecom_userid", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["person.id"], name=op.f("fk_person_lead_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_dingtalk_union_id"), ["dingtalk_union_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_dingtalk_user_id"), ["dingtalk_user_id"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_person_employee_no"), ["employee_no"], unique=True)
        batch_op.create_index(batch_op.f("ix_person_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_org_path"), ["org_path"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_wecom_userid"), ["wecom_userid"], unique=True)

    op.create_table(
        "pending_input",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_pending_input_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_input")),
        sa.UniqueConstraint("person_id", name=op.f("uq_pending_input_person_id")),
    )
    op.create_table(
        "position",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("org_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("sla_hours", sa.JSON(), nullable=False),
        sa.Column("hiring_manager_id", sa.Integer(), nullable=True),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("leader_approval", sa.Boolean(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hiring_manager_id"], ["person.id"], name=op.f("fk_position_hiring_manager_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["person.id"], name=op.f("fk_position_leader_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position")),
    )
    with op.batch_alter_table("position", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_position_code"), ["code"], unique=True)
        batch_op.create_index(batch_op.f("ix_position_org_path"), ["org_path"], unique=False)
        batch_op.create_index(batch_op.f("ix_position_title"), ["title"], unique=False)

    op.create_table(
        "referral_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_referral_draft_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_draft")),
        sa.UniqueConstraint("person_id", name=op.f("uq_referral_draft_person_id")),
    )
    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "submitted",
                "hr_review",
                "needs_info",
                "leader_approval",
                "interviewing",
                "offer",
                "hired",
                "rejected",
                "withdrawn",
                "no_show",
                name="referralstate",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("stage_due_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stage_entered_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("interview_round", sa.Integer(), nullable=False),
        sa.Column("no_show_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["person.id"], name=op.f("fk_referral_assignee_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidate.id"], name=op.f("fk_referral_candidate_id_candidate")
        ),
        sa.ForeignKeyConstraint(
            ["position_id"], ["position.id"], name=op.f("fk_referral_position_id_position")
        ),
        sa.ForeignKeyConstraint(
            ["referrer_id"], ["person.id"], name=op.f("fk_referral_referrer_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_referral_position_id"), ["position_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_referral_referrer_id"), ["referrer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_referral_state"), ["state"], unique=False)
        batch_op.create_index("ix_referral_state_assignee", ["state", "assignee_id"], unique=False)

    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_attachment_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attachment_referral_id"), ["referral_id"], unique=False
        )

    op.create_table(
        "due_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("claimed_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_due_item_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_due_item")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_due_item_dedupe_key")),
    )
    with op.batch_alter_table("due_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_due_item_open",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("done_at IS NULL"),
            sqlite_where=sa.text("done_at IS NULL"),
        )
        batch_op.create_index(batch_op.f("ix_due_item_referral_id"), ["referral_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_due_item_subject"), ["subject"], unique=False)

    op.create_table(
        "referral_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("from_state", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("to_state", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["person.id"], name=op.f("fk_referral_event_actor_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_event_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_event")),
    )
    with op.batch_alter_table("referral_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_event_referral_id"), ["referral_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("referral_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_event_referral_id"))

    op.drop_table("referral_event")
    with op.batch_alter_table("due_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_due_item_subject"))
        batch_op.drop_index(batch_op.f("ix_due_item_referral_id"))
        batch_op.drop_index(
            "ix_due_item_open",
            postgresql_where=sa.text("done_at IS NULL"),
            sqlite_where=sa.text("done_at IS NULL"),
        )

    op.drop_table("due_item")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_referral_id"))

    op.drop_table("attachment")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_state_assignee")
        batch_op.drop_index(batch_op.f("ix_referral_state"))
        batch_op.drop_index(batch_op.f("ix_referral_referrer_id"))
        batch_op.drop_index(batch_op.f("ix_referral_position_id"))
        batch_op.drop_index(batch_op.f("ix_referral_candidate_id"))

    op.drop_table("referral")
    op.drop_table("referral_draft")
    with op.batch_alter_table("position", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_position_title"))
        batch_op.drop_index(batch_op.f("ix_position_org_path"))
        batch_op.drop_index(batch_op.f("ix_position_code"))

    op.drop_table("position")
    op.drop_table("pending_input")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_wecom_userid"))
        batch_op.drop_index(batch_op.f("ix_person_org_path"))
        batch_op.drop_index(batch_op.f("ix_person_name"))
        batch_op.drop_index(batch_op.f("ix_person_employee_no"))
        batch_op.drop_index(batch_op.f("ix_person_dingtalk_user_id"))
        batch_op.drop_index(batch_op.f("ix_person_dingtalk_union_id"))

    op.drop_table("person")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next")

    op.drop_table("outbox")
    op.drop_table("inbox")
    with op.batch_alter_table("card_instance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_instance_card_key"))

    op.drop_table("card_instance")
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_candidate_wecom_external_userid"))
        batch_op.drop_index(batch_op.f("ix_candidate_phone"))
        batch_op.drop_index(batch_op.f("ix_candidate_name"))
        batch_op.drop_index(batch_op.f("ix_candidate_email"))

    op.drop_table("candidate")
