"""Recall messages to candidates as WeCom mass-send tasks, and polling for their result.

A ``recall`` outbox row creates the task with ``add_msg_template`` in the sender's name; the
message reaches the candidate only once the sender confirms it in their WeCom client. A
``recall_poll`` row asks ``get_groupmsg_send_result`` until the candidate's status is known:
while WeCom is still dispatching (41063) or the sender has not confirmed yet, it raises
:class:`~bot.pipeline.messenger.TransientDeliveryError` with ``retry_after``, so the outbox's retry
loop is the poll. What WeCom said is recorded in ``recall_delivery`` for the recall job.

Sources:
    https://developer.work.weixin.qq.com/document/path/92135 (add_msg_template)
    https://developer.work.weixin.qq.com/document/path/93338 (get_groupmsg_send_result)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack

from bot.adapters.wecom.client import WeComClient
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.pipeline.ports import RecallDeliveryStore

log = logging.getLogger("hrbot.adapter.wecom")

PLATFORM = "wecom"
# get_groupmsg_send_result status per customer.
SEND_STATUS = {1: "sent", 2: "not_friend", 3: "limited"}
DISPATCHING_RETRY = 60.0  # seconds; WeCom is still fanning the task out (41063)
UNCONFIRMED_RETRY = 600.0  # the sender has not confirmed in the client yet
# A task nobody confirms within this is reported as unconfirmed; the poll stops.
GIVE_UP_AFTER = timedelta(days=7)
# Refusals that mean this candidate cannot get the message from this sender.
REFUSED = {84061: "not_friend", 40096: "not_friend", 81013: "not_friend"}


class _DeliveryFacts(TypedDict, total=False):
    msgid: str | None
    sender: str | None
    send_time: datetime | None
    error: str


def _queued_at(message: OutboundMessage) -> datetime:
    raw = message.reply_handle.get("queued_at")
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


class RecallDelivery:
    """Creates and polls recall tasks for :class:`~bot.adapters.wecom.WeComMessenger`."""

    def __init__(
        self,
        client: WeComClient,
        deliveries: RecallDeliveryStore,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.deliveries = deliveries
        self.clock = clock or (lambda: datetime.now(UTC))

    @staticmethod
    def _handle(message: OutboundMessage) -> tuple[int, str]:
        handle = message.reply_handle
        try:
            return int(handle["recall_id"]), str(handle["external_userid"])
        except (KeyError, TypeError, ValueError):
            raise PlatformError(PLATFORM, "bad_recall", "recall row without its handle") from None

    async def send(self, message: OutboundMessage) -> None:
        """Create the mass-send task for one candidate in the sender's name."""
        contact_id, external = self._handle(message)
        done = await self.deliveries.get_recall_delivery(contact_id=contact_id, platform=PLATFORM)
        if done is not None:
            return  # a retried row: the task exists, a second one would ask the sender twice
        text = str(message.reply_handle.get("text") or "")
        status, msgid, error = "created", "", ""
        try:
            task = await self.client.add_msg_template(
                sender=message.target, external_userids=[external], text=text
            )
        except PlatformError as err:
            refused = REFUSED.get(err.errcode) if isinstance(err.errcode, int) else None
            if refused is None:
                # Recorded so the recall shows as failed; raised so the outbox reports it too.
                await self._record(contact_id, "failed", sender=message.target,
                                   error=f"errcode {err.errcode}")
                raise
            status, error = refused, f"errcode {err.errcode}"
        except ValueError as err:
            status, error = "failed", str(err)
        else:
            msgid = task.msgid
            if external in task.fail_list or not msgid:
                status, error = "not_friend", "in fail_list"
        await self._record(contact_id, status, msgid=msgid, sender=message.target, error=error)

    async def poll(self, message: OutboundMessage) -> None:
        """Ask WeCom whether the candidate got the message; retry later while nobody knows."""
        contact_id, external = self._handle(message)
        row = await self.deliveries.get_recall_delivery(contact_id=contact_id, platform=PLATFORM)
        if row is None:
            if self.clock() - _queued_at(message) >= GIVE_UP_AFTER:
                # The task was never made (its row failed for good): stop asking.
                await self._record(contact_id, "failed", error="task never created")
                return
            # The task is not made yet (its row is queued before this one): look again soon.
            raise TransientDeliveryError("recall task not created yet",
                                         retry_after=DISPATCHING_RETRY)
        if row.status != "created":
            return
        results = await self.client.get_groupmsg_send_result(row.msgid, row.sender)
        if results is None:
            raise TransientDeliveryError("recall task still dispatching",
                                         retry_after=DISPATCHING_RETRY)
        mine = next((r for r in results if r.get("external_userid") == external), None)
        status = SEND_STATUS.get(mine.get("status", 0)) if mine else None
        if status is None:
            if self.clock() - row.created_at >= GIVE_UP_AFTER:
                await self._record(contact_id, "unconfirmed")
                return
            raise TransientDeliveryError("recall not confirmed by the sender yet",
                                         retry_after=UNCONFIRMED_RETRY)
        sent_at = None
        if mine and isinstance(mine.get("send_time"), int) and mine["send_time"] > 0:
            sent_at = datetime.fromtimestamp(mine["send_time"], UTC)
        await self._record(contact_id, status, send_time=sent_at)

    async def _record(
        self, contact_id: int, status: str, **facts: Unpack[_DeliveryFacts]
    ) -> None:
        await self.deliveries.record_recall_delivery(
            contact_id=contact_id, platform=PLATFORM, status=status, now=self.clock(), **facts,
        )
        log.info("recall contact=%s: %s", contact_id, status)
