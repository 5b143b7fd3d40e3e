"""Delivering outbox messages on DingTalk: every card as an interactive card.

Why interactive cards even for cards without buttons: ``createAndDeliver`` is idempotent
through ``outTrackId`` (a resend after a timeout or crash meets ``param.cardAlreadyExist``
and is not shown twice), any keyed card can later be updated in place, and everything looks
the same. A markdown message (``batchSend``/sessionWebhook) has no idempotency key, so an
outbox retry after a lost answer would show it twice. ``plain_as_markdown=True`` still sends
cards that have neither buttons nor a key as markdown — through the sessionWebhook when it
answers the same chat and has not expired (it costs no API quota), else ``batchSend`` or
``groupMessages/send`` — for deployments where the monthly API quota matters more.

Source: https://open.dingtalk.com/document/development/create-and-deliver-cards
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.adapters.dingtalk.api_errors import PLATFORM
from bot.adapters.dingtalk.builtin_card import BUILTIN_TEMPLATE_ID, is_builtin, use_builtin
from bot.adapters.dingtalk.client import MAX_BATCH_USERS, CardNotDelivered, DingTalkClient
from bot.adapters.dingtalk.ids import card_key_of, keyless_out_track_id, out_track_id
from bot.adapters.dingtalk.media import DingTalkCardImages, reupload_received_file
from bot.adapters.dingtalk.todos import TASK_KINDS, DingTalkTodos
from bot.core.errors import PlatformError
from bot.pipeline.messenger import (
    OutboundMessage,
    Outcome,
    TransientDeliveryError,
    deliver_each,
)
from cards.markdown import md_text
from cards.models import Card
from cards.render_dingtalk import Space, create_and_deliver_body, update_body


def card_markdown(card: Card) -> tuple[str, str]:
    """(title, markdown text) of a card for robot markdown messages."""
    lines = [f"### {md_text(card.title)}"]
    if card.status:
        lines.append(f"**{md_text(card.status)}**")
    lines += [f"- **{f.label}**：{md_text(f.value)}" for f in card.fields]
    if card.body:
        lines += ["", card.body]
    if card.footer:
        lines += ["", f"> {card.footer}"]
    return card.title, "\n".join(lines)


def space_of(message: OutboundMessage) -> tuple[Space, str]:
    """Where a message goes: a person or 1:1 chat is ``IM_ROBOT.<userId>``, a group is
    ``IM_GROUP.<openConversationId>`` (our 1:1 conversation id is the sender's staffId)."""
    if message.target_kind == "conversation" and message.group:
        return "IM_GROUP", message.target
    return "IM_ROBOT", message.target


class DingTalkMessenger:
    """:class:`bot.pipeline.messenger.Messenger` for DingTalk."""

    def __init__(
        self,
        client: DingTalkClient,
        card_template_id: str,
        robot_code: str,
        *,
        plain_as_markdown: bool = False,
        callback_route_key: str | None = None,
        todos: DingTalkTodos | None = None,
        images: DingTalkCardImages | None = None,
    ) -> None:
        """Configure where and how cards go.

        Args:
            client: The OpenAPI client.
            card_template_id: A template of the tenant's own bound to ``card_param_map``'s
                variables; empty: DingTalk's published template
                (:mod:`bot.adapters.dingtalk.builtin_card`).
            robot_code: The robot (AppKey for internal apps).
            plain_as_markdown: Send cards without buttons and key as markdown messages.
            callback_route_key: HTTP mode: taps go to the URL registered under this key
                (:meth:`DingTalkClient.register_card_callback`) instead of the Stream.
            todos: Delivers to-do rows; without it they fail as not configured.
            images: Sends the picture a card refers to after it; without it cards go alone.
        """
        self.client = client
        # No template of the tenant's own: DingTalk's published one (see builtin_card).
        self.builtin = is_builtin(card_template_id)
        self.card_template_id = card_template_id or BUILTIN_TEMPLATE_ID
        self.robot_code = robot_code
        self.plain_as_markdown = plain_as_markdown
        self.callback_route_key = callback_route_key
        self.todos = todos
        self.images = images

    def out_track_id(self, message: OutboundMessage) -> str:
        """The card instance id: from the card key and recipient, else the outbox key.

        For an update answering a tap, the tapped instance's id (from the callback's
        reply handle) wins, so a card tapped in a group is updated in that group.
        """
        card_key = message.card.key
        tapped = str(message.reply_handle.get("outTrackId") or "")
        if message.kind == "card_update" and card_key and card_key_of(tapped) == card_key:
            return tapped
        space, target = space_of(message)
        if card_key:
            return out_track_id(card_key, space, target)
        return keyless_out_track_id(message.idempotency_key)

    async def deliver(self, message: OutboundMessage) -> None:
        """Send or update one card.

        Raises:
            TransientDeliveryError: DingTalk said "later"; the outbox retries.
            PlatformError: Permanent failure.
        """
        if message.platform != PLATFORM:
            raise PlatformError(PLATFORM, "wrong_platform", f"got {message.platform!r}")
        card = message.card
        if message.kind in TASK_KINDS:
            if self.todos is None:
                raise PlatformError(PLATFORM, "no_todos", "to-dos are not set up")
            await self.todos.deliver(message)
            return
        if message.kind == "file":
            await self._send_file(message)
            return
        if message.kind == "card_update":
            if not card.key:
                raise PlatformError(PLATFORM, "no_card_key", "a card update needs a card key")
            body = update_body(card=card, out_track_id=self.out_track_id(message))
            if self.builtin:
                use_builtin(body, card)
            await self.client.update_card(body)
            return
        if message.kind != "card":
            raise PlatformError(PLATFORM, "unknown_kind", message.kind)
        if self.plain_as_markdown and not card.buttons and not card.key:
            await self._send_markdown(message)
            await self._send_image(message)
            return
        space, target = space_of(message)
        body = create_and_deliver_body(
            card=card,
            template_id=self.card_template_id,
            out_track_id=self.out_track_id(message),
            robot_code=self.robot_code,
            space=space,
            target=target,
        )
        if self.builtin:
            use_builtin(body, card)
        if self.callback_route_key:
            body.update(callbackType="HTTP", callbackRouteKey=self.callback_route_key)
        try:
            answer = await self.client.create_and_deliver(body)
            # A retry of a row that failed before finds the instance made by that attempt:
            # whether its space got it is unknown, so it is delivered again.
            if answer.get("alreadyExisted") and message.attempts > 0:
                await self.client.deliver_card(body)
        except CardNotDelivered as err:
            # The instance exists; the outbox's retry re-delivers it (above) with backoff.
            raise TransientDeliveryError(f"dingtalk card not delivered: {err.errmsg}") from err
        await self._send_image(message)

    async def deliver_batch(self, messages: Sequence[OutboundMessage]) -> list[Outcome]:
        """One markdown message to many people, 20 per ``batchSend`` call.

        Only where cards without buttons go as markdown (``plain_as_markdown``); interactive
        cards are instances per recipient and go one by one.
        """
        if not self.plain_as_markdown or any(not _batchable(m) for m in messages):
            return await deliver_each(self, messages)
        title, text = card_markdown(messages[0].card)
        outcomes: list[Outcome] = []
        for start in range(0, len(messages), MAX_BATCH_USERS):
            chunk = messages[start : start + MAX_BATCH_USERS]
            try:
                answer = await self.client.batch_send_each(
                    [m.target for m in chunk], "sampleMarkdown", {"title": title, "text": text}
                )
            except Exception as err:
                outcomes.extend(err for _ in chunk)
                continue
            for message in chunk:
                if message.target in answer.throttled:
                    outcomes.append(TransientDeliveryError("dingtalk batchSend: flow-controlled"))
                elif message.target in answer.unreached:
                    outcomes.append(PlatformError(PLATFORM, "invalidStaffIdList", "not reached"))
                else:
                    outcomes.append(None)
        return outcomes

    async def _send_image(self, message: OutboundMessage) -> None:
        if message.card.image and self.images is not None:
            await self.images.send(message)

    async def _send_file(self, message: OutboundMessage) -> None:
        """A file someone sent the robot: its card as markdown, then the file itself.

        The file is uploaded anew before anything is sent, so a failed download or upload
        (retried by the outbox) never leaves the introduction sent twice.
        """
        file = message.file
        if file.get("platform") != PLATFORM or not file.get("ref"):
            raise PlatformError(PLATFORM, "foreign_file", "only DingTalk files can be sent here")
        msg_key, params = await reupload_received_file(
            self.client, file["ref"], str(file.get("filename") or ""), str(file.get("kind") or "")
        )
        title, text = card_markdown(message.card)
        await self._robot_markdown(message, title, text)
        space, target = space_of(message)
        if space == "IM_GROUP":
            await self.client.send_group(target, msg_key, params)
        else:
            await self.client.batch_send([target], msg_key, params)

    async def _send_markdown(self, message: OutboundMessage) -> None:
        title, text = card_markdown(message.card)
        handle: dict[str, Any] = message.reply_handle
        if _answers_same_chat(message, handle):
            sent = await self.client.reply_session(
                str(handle.get("sessionWebhook") or ""),
                int(handle.get("sessionWebhookExpiredTime") or 0),
                {"msgtype": "markdown", "markdown": {"title": title, "text": text}},
            )
            if sent:
                return
        await self._robot_markdown(message, title, text)

    async def _robot_markdown(self, message: OutboundMessage, title: str, text: str) -> None:
        """A markdown robot message to the message's person or group (OpenAPI, metered)."""
        params = {"title": title, "text": text}
        space, target = space_of(message)
        if space == "IM_GROUP":
            await self.client.send_group(target, "sampleMarkdown", params)
        else:
            await self.client.batch_send([target], "sampleMarkdown", params)


def _answers_same_chat(message: OutboundMessage, handle: dict[str, Any]) -> bool:
    """True when the message goes to the chat the reply handle's message came from."""
    if message.target_kind != "conversation" or not handle.get("sessionWebhook"):
        return False
    if handle.get("conversationType") == "2":
        return message.group and handle.get("conversationId") == message.target
    return not message.group and handle.get("senderStaffId") == message.target


def _batchable(message: OutboundMessage) -> bool:
    card = message.card
    return (message.platform == PLATFORM and message.kind == "card"
            and message.target_kind == "person" and not message.group
            and not card.buttons and not card.key and not card.image)
