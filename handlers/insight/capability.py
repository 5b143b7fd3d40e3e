"""What the insight capability gives the bot (listed in handlers.capabilities)."""

from bot.core.registry import Capability
from bot.core.routing import Router
from handlers.insight import bonus, stats, sync, weekly

capability = Capability(
    name="insight",
    router=Router("insight").include(stats.router, weekly.router, bonus.router),
    due_handlers=weekly.DUE_HANDLERS,
    # The sync first, so what the same beat schedules sees current facts.
    recurring=(sync.sync_insight, weekly.ensure_weekly_report),
)
