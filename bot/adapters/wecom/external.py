"""WeCom 客户联系 calls: 1:1 recall messages to candidates and their contact details.

Mixed into :class:`~bot.adapters.wecom.client.WeComClient`, which supplies ``call``.

Sources:
    https://developer.work.weixin.qq.com/document/path/92135 (add_msg_template)
    https://developer.work.weixin.qq.com/document/path/93338 (get_groupmsg_send_result)
    https://developer.work.weixin.qq.com/document/path/92114 (externalcontact/get)
    https://developer.work.weixin.qq.com/document/path/92137 (send_welcome_msg)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

NOT_READY = 41063  # the mass-send task is still being dispatched
MAX_PAGES = 50


@dataclass(frozen=True)
class MessageTask:
    """add_msg_template result: nothing is sent until the sender confirms in the client."""

    msgid: str
    fail_list: tuple[str, ...] = ()


class ExternalContactApi:
    """External-contact endpoints on top of an authenticated ``call``.

    A mixin: ``WeComClient`` provides ``call`` (token, errcode mapping); this class only
    declares its type.
    """

    call: Callable[..., Awaitable[dict[str, Any]]]

    async def add_msg_template(
        self,
        *,
        sender: str,
        external_userids: Sequence[str],
        text: str,
        attachments: Sequence[dict[str, Any]] = (),
    ) -> MessageTask:
        """Create a 1:1 mass-send task to customers; the sender confirms it in the client.

        Raises:
            ValueError: No or more than 10 000 customers, text over 4000 bytes, or more
                than 9 attachments.
        """
        if not 1 <= len(external_userids) <= 10_000:
            raise ValueError("external_userids must name 1..10000 customers")
        if len(text.encode()) > 4000 or len(attachments) > 9:
            raise ValueError("text must be ≤4000 bytes and attachments ≤9")
        body: dict[str, Any] = {
            "chat_type": "single",
            "external_userid": list(external_userids),
            "sender": sender,
            "text": {"content": text},
        }
        if attachments:
            body["attachments"] = list(attachments)
        data = await self.call("POST", "/cgi-bin/externalcontact/add_msg_template", json=body)
        return MessageTask(
            msgid=str(data.get("msgid", "")),
            fail_list=tuple(str(u) for u in data.get("fail_list") or ()),
        )

    async def get_groupmsg_send_result(
        self, msgid: str, userid: str
    ) -> list[dict[str, Any]] | None:
        """Per-customer status of a mass-send task for one sender; None while still dispatching.

        Status: 0 not sent, 1 sent, 2 not a friend, 3 already got another mass message.
        """
        rows: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            body = {"msgid": msgid, "userid": userid, "limit": 1000, "cursor": cursor}
            data = await self.call(
                "POST", "/cgi-bin/externalcontact/get_groupmsg_send_result", json=body,
                accept=frozenset({NOT_READY}),
            )
            if data.get("errcode") == NOT_READY:
                return None
            rows += [r for r in data.get("send_list") or () if isinstance(r, dict)]
            next_cursor = str(data.get("next_cursor") or "")
            if not next_cursor or next_cursor == cursor:
                break
            cursor = next_cursor
        return rows

    async def get_external_contact(self, external_userid: str) -> dict[str, Any]:
        """``external_contact`` plus every page of ``follow_user`` (remark_mobiles, state)."""
        follow: list[dict[str, Any]] = []
        contact: dict[str, Any] = {}
        cursor = ""
        for _ in range(MAX_PAGES):
            params = {"external_userid": external_userid}
            if cursor:
                params["cursor"] = cursor
            data = await self.call("GET", "/cgi-bin/externalcontact/get", params=params)
            contact = data.get("external_contact") or contact
            follow += [f for f in data.get("follow_user") or () if isinstance(f, dict)]
            next_cursor = str(data.get("next_cursor") or "")
            if not next_cursor or next_cursor == cursor:
                break
            cursor = next_cursor
        return {"external_contact": contact, "follow_user": follow}

    async def send_welcome_msg(self, welcome_code: str, text: str) -> None:
        """Greet a contact who just added an employee; the code is single use, for 20 s."""
        if not welcome_code:
            raise ValueError("welcome_code is required")
        body = {"welcome_code": welcome_code, "text": {"content": text[:4000]}}
        await self.call("POST", "/cgi-bin/externalcontact/send_welcome_msg", json=body)
