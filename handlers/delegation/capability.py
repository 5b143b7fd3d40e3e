"""What the delegation capability gives the bot (listed in handlers.capabilities)."""

from bot.core.registry import Capability
from bot.core.routing import Router
from handlers.delegation import commands, reassign

capability = Capability(
    name="delegation",
    router=Router("delegation").include(commands.router, reassign.router),
    due_handlers=commands.DUE_HANDLERS,
)
