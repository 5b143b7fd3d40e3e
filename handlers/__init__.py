"""Capabilities, one router each; ``ROUTERS`` is the order the dispatcher includes them."""

from bot.events import EventKind
from handlers import contacts, info, progress, referral, tasks

ROUTERS = (referral.router, tasks.router, progress.router, info.router)
answer_pending = tasks.answer_pending
not_understood = info.not_understood
# Event kinds handled as a whole rather than by command word or action id.
KIND_HANDLERS = {EventKind.CONTACT_ADDED: contacts.link_contact}

__all__ = ["KIND_HANDLERS", "ROUTERS", "answer_pending", "not_understood"]
