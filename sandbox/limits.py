"""The platforms' documented send limits, enforced the way the real servers enforce them.

DingTalk: 20 calls a second per app and per API; the next call in that second is refused with
``Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`` (HTTP 403).
Source: https://open.dingtalk.com/document/development/how-to-process-api-throttling-on-the-dingtalk-server

WeCom: 30 app messages a minute and 1,000 an hour to one member; the excess is answered
``errcode 0`` and never delivered. The fake counts what it dropped, so a test can assert that
nothing was lost this way (a real tenant would never tell).
Source: https://developer.work.weixin.qq.com/document/path/90312 (频率限制)
"""

from __future__ import annotations

import re
from collections import deque

DINGTALK_QPS = 20
WECOM_MEMBER_LIMITS = ((30, 60.0), (1000, 3600.0))
# Token and Stream set-up calls are the platform's own plumbing, not metered APIs.
_UNTHROTTLED = ("/v1.0/oauth2/accessToken", "/v1.0/gateway/connections/open")
_PER_USER = re.compile(r"/users/[^/]+")


class PlatformLimits:
    """Sliding windows per DingTalk API and per WeCom member, on the sandbox clock."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._member_sends: dict[str, deque[float]] = {}
        self.throttled = 0  # DingTalk calls refused for QPS
        self.dropped = 0  # WeCom messages answered ok and never delivered

    def dingtalk_call_allowed(self, api: str, now: float) -> bool:
        calls = self._calls.setdefault(api, deque())
        while calls and calls[0] <= now - 1.0:
            calls.popleft()
        if len(calls) >= DINGTALK_QPS:
            self.throttled += 1
            return False
        calls.append(now)
        return True

    def wecom_admit(self, userids: list[str], now: float) -> list[str]:
        """The members a message really reaches; the others are dropped, as WeCom does."""
        admitted = []
        for userid in userids:
            sends = self._member_sends.setdefault(userid, deque())
            while sends and sends[0] <= now - 3600.0:
                sends.popleft()
            if any(sum(1 for t in sends if t > now - seconds) >= count
                   for count, seconds in WECOM_MEMBER_LIMITS):
                self.dropped += 1
                continue
            sends.append(now)
            admitted.append(userid)
        return admitted

    def counts(self) -> dict[str, int]:
        return {"dingtalk_throttled": self.throttled, "wecom_dropped": self.dropped}


def dingtalk_api_of(path: str) -> str | None:
    """The API a DingTalk OpenAPI path belongs to (user ids folded), or None if unmetered."""
    if not path.startswith("/v1.0/") or path.startswith(_UNTHROTTLED):
        return None
    return _PER_USER.sub("/users/*", path)
