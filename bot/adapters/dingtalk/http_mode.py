"""DingTalk HTTP-callback mode (``mode = "http"``): signed robot messages and card taps.

Robot messages (``POST <http_callback_path>``) carry headers ``timestamp`` (ms) and
``sign = base64(HMAC-SHA256(key=appSecret, msg=timestamp + "\\n" + appSecret))``; requests
more than an hour off our clock are refused. Card callbacks (``POST <path>/card``) carry
``x-ddpaas-signature-timestamp`` and ``x-ddpaas-signature = base64(HMAC-SHA256(key=apiSecret,
msg=str(timestamp)))``: this is what the card-callback page documents; DingTalk publishes no
test vector for it, so the tests use one computed here. The ``apiSecret`` is whatever we
registered with ``POST /v1.0/card/callbacks/register``; we register the app secret unless
told otherwise, and apply the same one-hour window.

Both signatures cover the timestamp only, not the body, so a captured pair would pass with
any body for an hour. With a ``replay_guard`` (shared by every replica: a database table)
each pair is remembered with a digest of its body: DingTalk's retry (same body) passes, the
pair with another body is refused.

Answers: 401 missing/unreadable signature headers, 403 wrong signature, stale timestamp or
a replayed pair, 400 unusable JSON, 413 oversized, 405 other methods; 200 ``{}`` once
decoded (a card callback gets no immediate card change; the update follows through the
outbox).

Sources:
    https://open.dingtalk.com/document/orgapp/receive-message
    https://open.dingtalk.com/document/development/event-callback-card
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.adapters.base import Inbound, RawRequest, RawResponse
from bot.adapters.dingtalk.parse import parse_card_event, parse_robot_message
from bot.config.schema import DingTalkConfig
from bot.core.events import Event

log = logging.getLogger("hrbot.adapter.dingtalk")

MAX_SKEW_MS = 3_600_000
MAX_BODY_BYTES = 256 * 1024

# (signature key, body digest, expires at) -> True when first seen or seen with this body.
ReplayGuard = Callable[[str, str, datetime], Awaitable[bool]]


def robot_sign(timestamp: str, app_secret: str) -> str:
    """``sign`` of a robot callback: HMAC-SHA256 of ``timestamp\\nappSecret``, base64."""
    digest = hmac.new(
        app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def card_sign(timestamp: str, api_secret: str) -> str:
    """``x-ddpaas-signature`` of a card callback: HMAC-SHA256 of the timestamp, base64."""
    digest = hmac.new(api_secret.encode(), timestamp.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _answer(status: int, text: str) -> Inbound:
    return Inbound(RawResponse(status, text.encode()))


class DingTalkHttpAdapter:
    """:class:`bot.adapters.base.HttpAdapter` for DingTalk's HTTP callbacks."""

    platform = "dingtalk"

    def __init__(
        self,
        config: DingTalkConfig,
        clock: Callable[[], datetime],
        *,
        card_api_secret: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        replay_guard: ReplayGuard | None = None,
    ) -> None:
        self.config = config
        self.replay_guard = replay_guard
        self.clock = clock
        self.card_api_secret = card_api_secret or config.app_secret
        self.max_body_bytes = max_body_bytes
        self.robot_path = config.http_callback_path
        self.card_path = config.http_callback_path.rstrip("/") + "/card"

    def routes(self) -> list[tuple[str, str]]:
        """(method, path) pairs this adapter serves."""
        return [("POST", self.robot_path), ("POST", self.card_path)]

    async def handle_http(self, request: RawRequest) -> Inbound:
        """Verify and decode one callback; never raises (bad input gets a 4xx)."""
        try:
            inbound = self._handle(request)
        except Exception:  # a bug must not turn into a 500 and a retry storm
            log.exception("dingtalk callback could not be handled")
            return _answer(400, "bad request")
        if inbound.response.status != 200 or self.replay_guard is None:
            return inbound
        first = await self._first_use(request)
        if first is None:  # as when the event cannot be stored: DingTalk retries
            return _answer(503, "retry later")
        return inbound if first else _answer(403, "replayed signature")

    async def _first_use(self, request: RawRequest) -> bool | None:
        """The verified pair is new, or comes again with the same body (a retry); None when
        that cannot be known now (database unreachable)."""
        headers = request.headers
        if request.path == self.card_path:
            stamp = headers.get("x-ddpaas-signature-timestamp", "")
            sign = headers.get("x-ddpaas-signature", "")
        else:
            stamp, sign = headers.get("timestamp", ""), headers.get("sign", "")
        key = hashlib.sha256(f"{request.path}\n{stamp}\n{sign}".encode()).hexdigest()
        digest = hashlib.sha256(request.body).hexdigest()
        expires = datetime.fromtimestamp((int(stamp) + MAX_SKEW_MS) / 1000, UTC)
        assert self.replay_guard is not None
        try:
            first = await self.replay_guard(key, digest, expires)
        except Exception:  # the database is down: the event could not be stored either
            log.exception("dingtalk callback signature could not be recorded")
            return None
        if not first:
            log.warning("dingtalk callback on %s refused: its signature came with another body",
                        request.path)
        return first

    def _handle(self, request: RawRequest) -> Inbound:
        if request.method.upper() != "POST":
            return _answer(405, "method not allowed")
        if len(request.body) > self.max_body_bytes:
            return _answer(413, "too large")
        headers = request.headers
        if request.path == self.card_path:
            timestamp = headers.get("x-ddpaas-signature-timestamp", "")
            refused = self._verify(
                timestamp, headers.get("x-ddpaas-signature", ""), self.card_api_secret, card_sign
            )
        elif request.path == self.robot_path:
            timestamp = headers.get("timestamp", "")
            refused = self._verify(
                timestamp, headers.get("sign", ""), self.config.app_secret, robot_sign
            )
        else:
            return _answer(404, "not found")
        if refused is not None:
            return refused
        try:
            payload = json.loads(request.body)
            event: Event
            if request.path == self.card_path:
                event = parse_card_event(payload, discriminator=timestamp)
            else:
                event = parse_robot_message(payload)
        # JSON errors are ValueErrors too; hostile nesting is a RecursionError.
        except (ValueError, TypeError, RecursionError) as exc:
            log.warning("unusable dingtalk callback on %s: %s", request.path, exc)
            return _answer(400, "bad payload")
        response = RawResponse(200, b"{}", "application/json")
        return Inbound(response, (event,))

    def _verify(
        self, timestamp: str, signature: str, secret: str, sign: Callable[[str, str], str]
    ) -> Inbound | None:
        """None when the request is authentic and fresh, else the refusal."""
        if not (timestamp and signature and secret) or not timestamp.isascii():
            return _answer(401, "missing signature")
        if not timestamp.isdigit() or len(timestamp) > 16:
            return _answer(401, "bad timestamp")
        now_ms = int(self.clock().timestamp() * 1000)
        if abs(now_ms - int(timestamp)) > MAX_SKEW_MS:
            return _answer(403, "stale timestamp")
        expected = sign(timestamp, secret).encode()
        if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
            return _answer(403, "bad signature")
        return None
