"""Capabilities, one router each; ``ROUTERS`` is the order the dispatcher includes them."""

from handlers import info, progress, referral, tasks

ROUTERS = (referral.router, tasks.router, progress.router, info.router)
answer_pending = tasks.answer_pending
not_understood = info.not_understood

__all__ = ["ROUTERS", "answer_pending", "not_understood"]
