"""What the pool capability gives the bot (listed in handlers.capabilities)."""

from bot.core.registry import Capability
from handlers.pool import commands

capability = Capability(
    name="pool",
    router=commands.router,
    due_handlers=commands.DUE_HANDLERS,
    recurring=(commands.watch_positions,),
)
