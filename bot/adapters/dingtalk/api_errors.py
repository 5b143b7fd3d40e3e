"""How DingTalk says "no": new-API HTTP errors, old-API errcodes, throttling, the IP ban page.

Throttling (per-app/global QPS), 429, 5xx (``system.busy``, 504 timeouts), network errors and
the anti-bot page mean "later" (:class:`TransientDeliveryError`, the outbox retries with
backoff); everything else is a :class:`PlatformError`, including the monthly quota
(``ApiCountLimitForOrg``), which no retry within the outbox's horizon would cure.

Source: https://open.dingtalk.com/document/development/how-to-process-api-throttling-on-the-dingtalk-server
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError

PLATFORM = "dingtalk"
# Per-app and global QPS limits (new codes start like this; old errcodes 90018 / 90002).
THROTTLED_PREFIX = "Forbidden.AccessDenied.QpsLimit"
THROTTLED_OLD = frozenset({"90018", "90002"})


def is_anti_bot(body: Any, text: str = "") -> bool:
    """The per-IP ban page: ``{"status":1111,"punish":"deny","source":"x5",...}`` or HTML."""
    if isinstance(body, Mapping):
        return body.get("punish") is not None or body.get("status") == 1111
    return "punish" in text or "x5sec" in text


def error_for(response: httpx.Response) -> Exception:
    """Map a failed new-API answer (HTTP 4xx/5xx, JSON ``code``/``message``) to an error."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code = str(body.get("code", "")) if isinstance(body, Mapping) else ""
    message = str(body.get("message", "")) if isinstance(body, Mapping) else ""
    if (
        response.status_code >= 500
        or response.status_code == 429
        or code.startswith(THROTTLED_PREFIX)
        or code in THROTTLED_OLD
        or is_anti_bot(body, response.text[:2000])
    ):
        label = f"HTTP {response.status_code} {code}".strip()
        return TransientDeliveryError(f"dingtalk {label}: {message}")
    return PlatformError(PLATFORM, code or response.status_code, message or "request failed")


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer; anything else (the HTML ban page) is transient."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or is_anti_bot(data):
        raise TransientDeliveryError(f"dingtalk {what}: unexpected answer body")
    return data


def check_errcode(data: Mapping[str, Any], what: str) -> None:
    """Old-API answers (HTTP 200, ``errcode``): throttling is transient, other codes fail.

    Raises:
        TransientDeliveryError: errcode 90018 / 90002.
        PlatformError: Any other non-zero errcode.
    """
    errcode = str(data.get("errcode", 0))
    if errcode in THROTTLED_OLD:
        raise TransientDeliveryError(f"dingtalk {what} errcode {errcode}")
    if errcode != "0":
        raise PlatformError(PLATFORM, errcode, str(data.get("errmsg", "")))
