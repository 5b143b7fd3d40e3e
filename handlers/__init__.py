"""Capabilities, one router each; ``ROUTERS`` is the order the dispatcher includes them."""

from bot.events import EventKind
from handlers import (
    attachments,
    contacts,
    delivery,
    info,
    progress,
    referral,
    reminders,
    tasks,
    usage,
)

ROUTERS = (
    referral.router, tasks.router, progress.router, attachments.router, usage.router, info.router,
)
answer_pending = tasks.answer_pending
not_understood = info.not_understood
# Event kinds handled as a whole rather than by command word or action id.
KIND_HANDLERS = {EventKind.CONTACT_ADDED: contacts.link_contact}
# Clock jobs by due item kind, and what each clock beat schedules.
DUE_HANDLERS = {
    **reminders.DUE_HANDLERS, **usage.DUE_HANDLERS, **delivery.DUE_HANDLERS,
    **contacts.DUE_HANDLERS,
}
RECURRING = (
    reminders.ensure_daily_digest, usage.check_api_usage, delivery.check_failed_sends,
    contacts.check_contact_lookups,
)

__all__ = [
    "DUE_HANDLERS", "KIND_HANDLERS", "RECURRING", "ROUTERS", "answer_pending", "not_understood",
]

# Insight: statistics, talent pool, weekly report and referral bonuses.
from handlers import insight, pool  # noqa: E402

ROUTERS = (*ROUTERS, *insight.ROUTERS, pool.router)
DUE_HANDLERS = {**DUE_HANDLERS, **insight.DUE_HANDLERS, **pool.DUE_HANDLERS}
RECURRING = (*RECURRING, *insight.RECURRING, pool.watch_positions)

# Recall of no-show candidates: profiles, cadence prompts, campaigns, confirmed sends.
from handlers import recall  # noqa: E402

ROUTERS = (*ROUTERS, recall.router)
DUE_HANDLERS = {**DUE_HANDLERS, **recall.DUE_HANDLERS}
RECURRING = (*RECURRING, *recall.RECURRING)
answer_pending = recall.with_recall_input(answer_pending)

# Approvers away: delegation and leave, reassignment / 加签 / 征询 from the card.
from handlers import delegation, delegation_reassign  # noqa: E402

ROUTERS = (*ROUTERS, delegation.router, delegation_reassign.router)
DUE_HANDLERS = {**DUE_HANDLERS, **delegation.DUE_HANDLERS}

# Personal data: consent, erasure requests, retention.
from handlers import gdpr, retention  # noqa: E402

ROUTERS = (*ROUTERS, gdpr.router)
DUE_HANDLERS = {**DUE_HANDLERS, **retention.DUE_HANDLERS}
RECURRING = (*RECURRING, retention.schedule_retention)
