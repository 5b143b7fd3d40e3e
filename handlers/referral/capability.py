"""What the referral capability gives the bot (listed in handlers.capabilities)."""

from bot.core.registry import Capability
from bot.core.routing import Router
from handlers.referral import attachments, info, progress, submit, tasks

capability = Capability(
    name="referral",
    router=Router("referral").include(
        submit.router, tasks.router, progress.router, attachments.router, info.router
    ),
    default_input=tasks.answer_pending,
    fallback=info.not_understood,
)
