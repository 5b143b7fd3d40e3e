"""Every table, one module per area; ``from storage.models import X`` works for all of them.

Importing this package registers every table on ``SQLModel.metadata`` (create_all, Alembic).
``base`` sorts first, so the constraint naming convention is set before any table exists.
"""

from storage.models.base import utcnow
from storage.models.calendar import CALENDAR_DAY_KINDS, CalendarDay
from storage.models.case import Case, CaseEvent, OrgAssignment
from storage.models.delegation import AwayPeriod
from storage.models.insight import (
    InsightChart,
    InsightSetting,
    PoolEntry,
    PoolTag,
    PositionWatch,
    ReferralBonus,
    ReferralCheck,
    ReferralFact,
    SlaBreach,
)
from storage.models.people import Person
from storage.models.pipeline import (
    DueItem,
    Inbox,
    Outbox,
    OutboxStatus,
    PendingInput,
    SendLane,
    SendStamp,
    SendWindow,
)
from storage.models.platform_facts import (
    ApiUsage,
    CallbackSignature,
    CardInstance,
    ContactLookup,
)
from storage.models.privacy import AuditRecord
from storage.models.recall import (
    RecallCampaign,
    RecallContact,
    RecallDelivery,
    RecallStatus,
    TalentProfile,
)
from storage.models.referral import (
    TERMINAL_STATES,
    Attachment,
    Candidate,
    Position,
    Referral,
    ReferralDraft,
    ReferralEvent,
    ReferralState,
)

__all__ = [
    "CALENDAR_DAY_KINDS",
    "TERMINAL_STATES",
    "ApiUsage",
    "Attachment",
    "AuditRecord",
    "AwayPeriod",
    "CalendarDay",
    "CallbackSignature",
    "Candidate",
    "CardInstance",
    "Case",
    "CaseEvent",
    "ContactLookup",
    "DueItem",
    "Inbox",
    "InsightChart",
    "InsightSetting",
    "OrgAssignment",
    "Outbox",
    "OutboxStatus",
    "PendingInput",
    "Person",
    "PoolEntry",
    "PoolTag",
    "Position",
    "PositionWatch",
    "RecallCampaign",
    "RecallContact",
    "RecallDelivery",
    "RecallStatus",
    "Referral",
    "ReferralBonus",
    "ReferralCheck",
    "ReferralDraft",
    "ReferralEvent",
    "ReferralFact",
    "ReferralState",
    "SendLane",
    "SendStamp",
    "SendWindow",
    "SlaBreach",
    "TalentProfile",
    "utcnow",
]
