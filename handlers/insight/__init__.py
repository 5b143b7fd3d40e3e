"""Insight: referral statistics, the weekly report and referral bonuses (the talent pool is
handlers.pool). Everything reads the facts handlers.insight.sync derives from the audit trail."""
