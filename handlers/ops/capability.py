"""What the ops capability gives the bot (listed in handlers.capabilities)."""

from bot.core.registry import Capability
from bot.core.routing import Router
from handlers.ops import delivery, usage

capability = Capability(
    name="ops",
    router=Router("ops").include(usage.router),
    due_handlers={**usage.DUE_HANDLERS, **delivery.DUE_HANDLERS},
    recurring=(usage.check_api_usage, delivery.check_failed_sends),
)
