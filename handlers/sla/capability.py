"""What the sla capability gives the bot (listed in handlers.capabilities)."""

from bot.core.registry import Capability
from handlers.sla import reminders

capability = Capability(
    name="sla",
    due_handlers=reminders.DUE_HANDLERS,
    recurring=(reminders.ensure_daily_digest,),
)
