"""Counting the OpenAPI calls that DingTalk meters against an org's monthly quota.

Standard-edition orgs get 5,000 metered calls a month (``ApiCountLimitForOrg`` after that);
token, auth and contacts calls are exempt. Every metered request that reached DingTalk is
added to the month's row in ``api_usage``, shared by all replicas; the clock warns HR before
the quota runs out (handlers.ops.usage).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.adapters.dingtalk.api_errors import PLATFORM
from storage.db import SessionFactory, session_scope
from storage.repo.usage import add_api_calls, usage_period

log = logging.getLogger("hrbot.adapter.dingtalk")

EXEMPT_APIS = frozenset({"/v1.0/oauth2/accessToken"})


class MonthlyQuotaMeter:
    """Adds one to the month's count for each metered call."""

    def __init__(self, session_factory: SessionFactory, clock: Callable[[], datetime]) -> None:
        self.session_factory = session_factory
        self.clock = clock

    async def count(self, api: str) -> None:
        """Count a call of ``api`` (a path template). Never raises: a send that went out
        must not be retried because it could not be counted."""
        if api in EXEMPT_APIS:
            return
        now = self.clock()
        try:
            async with session_scope(self.session_factory) as session:
                await add_api_calls(
                    session=session, platform=PLATFORM, period=usage_period(now), calls=1, now=now
                )
        except Exception:
            log.warning("could not count a call of %s against the quota", api, exc_info=True)
