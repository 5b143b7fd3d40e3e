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
from bot.pipeline.ports import ApiCallCounter

log = logging.getLogger("hrbot.adapter.dingtalk")

EXEMPT_APIS = frozenset({"/v1.0/oauth2/accessToken"})


class MonthlyQuotaMeter:
    """Adds one to the month's count for each metered call."""

    def __init__(self, counter: ApiCallCounter, clock: Callable[[], datetime]) -> None:
        self.counter = counter
        self.clock = clock

    async def count(self, api: str) -> None:
        """Count a call of ``api`` (a path template). Never raises: a send that went out
        must not be retried because it could not be counted."""
        if api in EXEMPT_APIS:
            return
        now = self.clock()
        try:
            await self.counter.count_api_call(platform=PLATFORM, now=now)
        except Exception:
            log.warning("could not count a call of %s against the quota", api, exc_info=True)
