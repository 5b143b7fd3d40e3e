"""Delivering outbox messages as WeCom app messages, and updating cards in place.

A card with buttons goes as a ``button_interaction`` template card; one without buttons as
markdown (a ``text_notice`` would cut the body at 112 characters and needs a link). Where
a keyed card went is kept in ``CardInstance`` with its newest ``response_code``; an update
spends that code on ``update_template_card``.

A new message to a member counts against WeCom's per-member limit (30 a minute), which
WeCom enforces by dropping the excess silently; past it the message goes back to the
outbox (:class:`~bot.pipeline.messenger.TransientDeliveryError`) to be sent later. Card updates are
not new messages and are not counted.

Sources:
    https://developer.work.weixin.qq.com/document/path/90236 (发送应用消息)
    https://developer.work.weixin.qq.com/document/path/94888 (更新模版卡片消息)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.ids import make_task_id
from bot.adapters.wecom.limits import MemberRateLimiter
from bot.adapters.wecom.media import WeComCardImages
from bot.adapters.wecom.recall import RecallDelivery
from bot.core.errors import PlatformError
from bot.core.events import Platform
from bot.pipeline.messenger import (
    OutboundMessage,
    Outcome,
    TransientDeliveryError,
    deliver_each,
)
from bot.pipeline.ports import PlatformStores
from bot.pipeline.send_window import SendWindow
from cards.markdown import md_text
from cards.models import Card

log = logging.getLogger("hrbot.adapter.wecom")

PLATFORM = Platform.WECOM.value
CODE_LIFETIME = timedelta(hours=72)
# The code is spent/expired or the card is gone: the update cannot happen in place.
UNUSABLE_CODE_ERRORS = frozenset({60140, 42014, 42016})
MAX_MARKDOWN_BYTES = 2048
MEDIA_KINDS = frozenset({"file", "image", "voice", "video"})
# message/send takes at most 1,000 members in touser
# (https://developer.work.weixin.qq.com/document/path/90236).
MAX_TOUSER = 1000


def welcome_text(card: Card) -> str:
    """A card as the plain text a welcome message allows (no markdown in WeChat)."""
    parts = [card.title, card.body, card.footer]
    return "\n\n".join(p for p in parts if p)


def card_markdown(card: Card) -> str:
    """A buttonless card as WeCom markdown, cut to 2048 bytes."""
    lines = [f"**{md_text(card.title)}**"]
    if card.status:
        lines.append(f'<font color="warning">{md_text(card.status)}</font>')
    lines += [f"{f.label}：{md_text(f.value)}" for f in card.fields]
    if card.body:
        lines += ["", card.body]
    if card.footer:
        lines += ["", f'<font color="comment">{card.footer}</font>']
    text = "\n".join(lines)
    raw = text.encode()
    if len(raw) <= MAX_MARKDOWN_BYTES:
        return text
    return raw[: MAX_MARKDOWN_BYTES - 3].decode("utf-8", "ignore") + "…"


# What HR reads in the failed-delivery report for each way WeCom refuses a recipient.
REFUSALS = {
    "invaliduser": "not delivered: outside the app's visible range (可见范围)",
    "unlicenseduser": "not delivered: no WeCom interface licence (接口许可)",
}


class WeComMessenger:
    """:class:`~bot.pipeline.messenger.Messenger` for WeCom app messages to members.

    Args:
        client: API client of the app.
        stores: Where card instances and response codes live, contact lookups and recall
            deliveries are recorded, and card pictures are read.
        agent_id: The app's agentid (must be the client's).
        clock: Current UTC time, to skip response codes older than 72 h.
        card_url: Where tapping a card leads (optional).
        limiter: Per-member send limits (default: WeCom's, on ``clock``), counted in this
            process when no ``window`` is given.
        window: Send windows shared by every replica (the deployment's database); when
            given, the member limit is counted there instead.
    """

    def __init__(
        self,
        client: WeComClient,
        stores: PlatformStores,
        agent_id: int,
        *,
        clock: Callable[[], datetime] | None = None,
        card_url: str | None = None,
        limiter: MemberRateLimiter | None = None,
        window: SendWindow | None = None,
    ) -> None:
        if agent_id != client.config.agent_id:
            raise ValueError("agent_id differs from the client's app")
        self.client = client
        self.stores = stores
        self.agent_id = agent_id
        self.clock = clock or (lambda: datetime.now(UTC))
        self.card_url = card_url
        self.limiter = limiter or MemberRateLimiter(clock=lambda: self.clock().timestamp())
        self.window = window
        self.images = WeComCardImages(client, stores)
        # Recall messages to candidates: mass-send tasks the sender confirms, and their result.
        self.recall = RecallDelivery(client, stores, clock=lambda: self.clock())

    async def deliver(self, message: OutboundMessage) -> None:
        """Send or update one card; raises TransientDeliveryError to be retried later.

        Raises:
            PlatformError: Permanent refusal (unknown user, group target, bad request).
        """
        if message.kind == "welcome":
            code = str(message.reply_handle.get("welcome_code") or "")
            if not code:
                raise PlatformError(PLATFORM, "no_welcome_code", "the contact event had none")
            await self.client.send_welcome_msg(code, welcome_text(message.card))
            return
        if message.kind == "file":
            await self._send_file(message)
            return
        if message.kind == "contact_lookup":
            await self._look_up_contact(message)
            return
        if message.kind == "recall":
            await self.recall.send(message)
            return
        if message.kind == "recall_poll":
            await self.recall.poll(message)
            return
        if message.group:
            # The app chat is 1:1; WeCom events never name a group conversation.
            raise PlatformError(PLATFORM, "group", "app messages reach members only")
        key = message.card.key
        if (
            message.kind == "card_update"
            and key
            and await self._update(message.card, key, message.target)
        ):
            return
        await self._send(message)

    async def _look_up_contact(self, message: OutboundMessage) -> None:
        """Record the mobiles the employee noted for a new external contact (no message)."""
        external = str(message.reply_handle.get("external_userid") or "")
        if not external:
            raise PlatformError(PLATFORM, "no_external_userid", "nothing to look up")
        contact = await self.client.get_external_contact(external)
        mobiles = list(dict.fromkeys(  # pages may repeat a follow_user entry
            str(m) for f in contact["follow_user"] if f.get("userid") == message.target
            for m in f.get("remark_mobiles") or ()
        ))
        await self.stores.record_contact_lookup(
            external_userid=external, employee_userid=message.target,
            mobiles=mobiles, now=self.clock(),
        )

    async def _send_file(self, message: OutboundMessage) -> None:
        """The introducing card as markdown, then the file itself by its media id."""
        file = message.file
        if file.get("platform") != PLATFORM or not file.get("ref"):
            raise PlatformError(PLATFORM, "foreign_file", "only WeCom media can be sent here")
        kind = file.get("kind", "file")
        for _ in range(2):  # two messages to one member: both must fit the member's limit
            wait = await self._member_wait(message.target)
            if wait is not None:
                raise TransientDeliveryError(
                    f"per-member limit: retry in {math.ceil(wait)}s", retry_after=wait
                )
        await self.client.send_markdown([message.target], card_markdown(message.card))
        await self.client.send_media(
            [message.target], kind if kind in MEDIA_KINDS else "file", file["ref"]
        )

    async def deliver_batch(self, messages: Sequence[OutboundMessage]) -> list[Outcome]:
        """One markdown message to many members (``touser`` lists of up to 1,000).

        Each member's own limit is still checked first: a member over it is held back alone.
        ``invaliduser`` in the answer fails only those members' rows.
        """
        if any(not _batchable(m) for m in messages):
            return await deliver_each(self, messages)
        outcomes: dict[int, Outcome] = {}
        admitted: list[OutboundMessage] = []
        for message in messages:
            wait = await self._member_wait(message.target)
            if wait is None:
                admitted.append(message)
            else:
                outcomes[message.outbox_id] = TransientDeliveryError(
                    f"per-member limit: retry in {math.ceil(wait)}s", retry_after=wait
                )
        for start in range(0, len(admitted), MAX_TOUSER):
            chunk = admitted[start : start + MAX_TOUSER]
            try:
                sent = await self.client.send_markdown(
                    [m.target for m in chunk], card_markdown(chunk[0].card)
                )
            except Exception as err:
                outcomes.update((m.outbox_id, err) for m in chunk)
                continue
            invalid = {u.lower() for u in sent.invalid_users}
            for message in chunk:
                outcomes[message.outbox_id] = (
                    PlatformError(PLATFORM, "invaliduser", "message reached nobody")
                    if message.target.lower() in invalid else None
                )
        return [outcomes[m.outbox_id] for m in messages]

    async def _member_wait(self, userid: str) -> float | None:
        """Seconds until ``userid`` may get another message, or None (the send is counted)."""
        if self.window is not None:
            return await self.window.try_acquire(f"wecom:member:{userid}", self.limiter.limits)
        return self.limiter.try_acquire(userid)

    async def _update(self, card: Card, key: str, target: str) -> bool:
        """Update in place; False when no usable response code is left (send anew then)."""
        row = await self.stores.get_card_instance(
            card_key=key, platform=PLATFORM, recipient=target
        )
        code = row.response_code if row is not None else ""
        if row is None or not code or self.clock() - row.updated_at >= CODE_LIFETIME:
            # WeCom cannot touch a card without a live code (each is single use, 72 h). The
            # new state still has to reach the person, so it goes as a new message.
            log.info("no response code for card %s of %s; sending it anew", key, target)
            return False
        try:
            invalid = await self.client.update_template_card(code, [target], card)
        except PlatformError as err:
            if err.errcode not in UNUSABLE_CODE_ERRORS:
                raise
            log.info("response code for card %s unusable (%s); sending anew", key, err.errcode)
            await self._spend(key, target, code)
            return False
        await self._spend(key, target, code)
        if target.lower() in invalid:
            raise PlatformError(PLATFORM, "invaliduser", "card update reached nobody")
        return True

    async def _send(self, message: OutboundMessage) -> None:
        card, target = message.card, message.target
        wait = await self._member_wait(target)
        if wait is not None:
            # Sent now, WeCom would answer ok and drop it; the outbox tries again later.
            raise TransientDeliveryError(
                f"per-member limit: retry in {math.ceil(wait)}s", retry_after=wait
            )
        if card.buttons:
            task_id = make_task_id(card.key, target, message.idempotency_key)
            sent = await self.client.send_template_card(
                touser=[target], card=card, task_id=task_id, card_url=self.card_url
            )
        else:
            task_id = ""
            sent = await self.client.send_markdown([target], card_markdown(card))
        refusal = sent.refusal(target)
        if refusal is not None:
            raise PlatformError(PLATFORM, refusal, REFUSALS[refusal])
        if card.key:
            await self._record(card.key, target, task_id, sent.response_code)
        # The picture is a message of its own and counts against the member's limit too;
        # when that is spent it is skipped: the card already says the same in words.
        if card.image and await self._member_wait(target) is None:
            await self.images.send(target, card.image)

    async def _record(self, key: str, target: str, task_id: str, code: str) -> None:
        # The message is out; failing here must not make the outbox send it again.
        try:
            await self.stores.save_card_instance(
                card_key=key,
                platform=PLATFORM,
                recipient=target,
                platform_ref=task_id,
                response_code=code,
                now=self.clock(),
            )
        except Exception:
            log.exception("sent card %s to %s but could not record it", key, target)

    async def _spend(self, key: str, target: str, code: str) -> None:
        try:
            await self.stores.clear_response_code(
                card_key=key,
                platform=PLATFORM,
                recipient=target,
                response_code=code,
            )
        except Exception:
            log.exception("could not clear the used response code of card %s", key)


def _batchable(message: OutboundMessage) -> bool:
    card = message.card
    return (message.platform == PLATFORM and message.kind == "card"
            and message.target_kind == "person" and not message.group
            and not card.buttons and not card.key and not card.image)
