"""What the privacy capability gives the bot (listed in handlers.capabilities)."""

from bot.core.registry import Capability
from handlers.privacy import gdpr, retention

capability = Capability(
    name="privacy",
    router=gdpr.router,
    due_handlers=retention.DUE_HANDLERS,
    recurring=(retention.schedule_retention,),
)
