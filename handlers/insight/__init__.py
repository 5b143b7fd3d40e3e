"""Insight: referral statistics, the weekly report and referral bonuses (the talent pool is
handlers.pool). Everything reads the facts handlers.insight.sync derives from the audit trail."""

from handlers.insight import bonus, stats, sync, weekly

ROUTERS = (stats.router, weekly.router, bonus.router)
DUE_HANDLERS = {**weekly.DUE_HANDLERS}
# The sync first, so what the same beat schedules sees current facts.
RECURRING = (sync.sync_insight, weekly.ensure_weekly_report)

__all__ = ["DUE_HANDLERS", "RECURRING", "ROUTERS"]
