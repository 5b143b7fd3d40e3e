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
DUE_HANDLERS = {**reminders.DUE_HANDLERS, **usage.DUE_HANDLERS, **delivery.DUE_HANDLERS}
RECURRING = (reminders.ensure_daily_digest, usage.check_api_usage, delivery.check_failed_sends)

__all__ = [
    "DUE_HANDLERS", "KIND_HANDLERS", "RECURRING", "ROUTERS", "answer_pending", "not_understood",
]
