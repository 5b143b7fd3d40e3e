"""WeCom callback endpoint: URL verification (GET) and encrypted events (POST).

GET answers the decrypted ``echostr`` as plain text (WeCom wants it within 1 s). POST is
verified, decrypted and parsed, then acked with an empty 200; the server stores the events
before that ack goes out. Refusals are 4xx with one log line naming the reason, never the
token, key, signature or decrypted body. WeCom retries any non-200 (3 times), so a 4xx
for a forged or broken request costs nothing.

Click callbacks carry a fresh single-use ``ResponseCode``. It is saved here, before the ack,
into the card's ``CardInstance`` (one small upsert) rather than travelling in the event's
``reply_handle``: the update that needs it may come from a later event or a job (someone
else approves, a reminder), and the handler of the click may not update the card at all.
The messenger then always reads the newest code from one place.

Sources:
    https://developer.work.weixin.qq.com/document/path/90930 (回调配置: GET/POST, 1 s, 5 s)
    https://developer.work.weixin.qq.com/document/path/90238 (接收消息概述: retries, dedupe)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.adapters.base import Inbound, RawRequest, RawResponse
from bot.adapters.wecom.crypto import CallbackCrypto, CallbackRejected
from bot.adapters.wecom.parse import MalformedCallback, envelope_encrypt, parse_message
from bot.config.schema import WeComConfig
from bot.core.events import CardAction, Event, EventKind, Platform
from bot.pipeline.ports import CardInstanceStore

log = logging.getLogger("hrbot.adapter.wecom")

MAX_BODY_BYTES = 64 * 1024  # real callbacks are a few KiB; aiohttp's own cap is larger
MAX_SKEW = timedelta(minutes=5)  # older or newer timestamps are refused as replays
_POST_PARAMS = ("msg_signature", "timestamp", "nonce")


def _reject(status: int, reason: str) -> Inbound:
    log.warning("wecom callback refused: status=%d reason=%s", status, reason)
    return Inbound(RawResponse(status, reason.encode()))


class WeComAdapter:
    """HTTP adapter for one WeCom self-built app's callback URL.

    Args:
        config: App settings (token, EncodingAESKey, corp id, callback path).
        clock: Current UTC time, for the replay window.
        cards: Where click ``ResponseCode``s are saved; None skips saving
            (tests of parsing only).
        max_body_bytes: Bodies above this are refused with 413.
    """

    platform = Platform.WECOM.value

    def __init__(
        self,
        config: WeComConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        cards: CardInstanceStore | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.config = config
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cards = cards
        self.max_body_bytes = max_body_bytes
        self._crypto = CallbackCrypto(config.token, config.encoding_aes_key, config.corp_id)

    def routes(self) -> list[tuple[str, str]]:
        return [("GET", self.config.callback_path), ("POST", self.config.callback_path)]

    async def handle_http(self, request: RawRequest) -> Inbound:
        """Answer one callback request; never raises (4xx for bad input, 500 for our bugs)."""
        try:
            return await self._handle(request)
        except CallbackRejected as err:
            return _reject(err.status, err.reason)
        except MalformedCallback as err:
            return _reject(400, f"malformed: {err}")
        except Exception:
            log.exception("wecom callback failed unexpectedly")
            return Inbound(RawResponse(500, b"internal error"))

    async def _handle(self, request: RawRequest) -> Inbound:
        if request.path != self.config.callback_path:
            return _reject(404, "unknown_path")
        if len(request.body) > self.max_body_bytes:
            return _reject(413, "body_too_large")
        query = request.query
        if request.method == "GET":
            return self._verify_url(query)
        if request.method != "POST":
            return _reject(405, "method")
        refused = self._check_query(query, _POST_PARAMS)
        if refused is not None:
            return refused
        encrypted = envelope_encrypt(request.body)
        plain = self._crypto.decrypt(
            query["msg_signature"], query["timestamp"], query["nonce"], encrypted
        )
        event = parse_message(plain)
        if event is None:
            return Inbound(RawResponse(200, b""))  # a kind we do not handle: ack, drop
        if event.kind == EventKind.CARD_ACTION:
            event = await self._remember_response_code(event)
        return Inbound(RawResponse(200, b""), (event,))

    def _verify_url(self, query: dict[str, str]) -> Inbound:
        refused = self._check_query(query, (*_POST_PARAMS, "echostr"))
        if refused is not None:
            return refused
        echo = self._crypto.verify_url(
            query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]
        )
        # Exactly the plaintext: no quotes, BOM or newline.
        return Inbound(RawResponse(200, echo.encode(), "text/plain"))

    def _check_query(self, query: dict[str, str], names: tuple[str, ...]) -> Inbound | None:
        missing = [name for name in names if not query.get(name)]
        if missing:
            return _reject(400, f"missing_{'_'.join(missing)}")
        stamp = query["timestamp"]
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
            return _reject(400, "bad_timestamp")
        if abs(self.clock().timestamp() - int(stamp)) > MAX_SKEW.total_seconds():
            return _reject(403, "stale_timestamp")
        return None

    async def _remember_response_code(self, event: Event) -> Event:
        """Save the click's ResponseCode for (card, user); fill in the card key if hashed.

        A failure is logged, not refused: the click is still handled, and the reply then
        goes as a new card instead of an in-place update.
        """
        code = str(event.reply_handle.get("response_code", ""))
        task_id = str(event.reply_handle.get("task_id", ""))
        action = event.action
        if self.cards is None or action is None or not (code or task_id):
            return event
        try:
            card_key = await self.cards.remember_response_code(
                platform=self.platform, recipient=event.actor_id, card_key=action.card_key,
                platform_ref=task_id, response_code=code, now=self.clock(),
            )
        except Exception as err:
            # No traceback: database errors quote their parameters, the code among them.
            log.error("could not save a wecom response code for event %s: %s",
                      event.event_id, type(err).__name__)
            return event
        if card_key is None or card_key == action.card_key:
            return event
        return replace(event, action=CardAction(action.action_id, action.params, card_key))
