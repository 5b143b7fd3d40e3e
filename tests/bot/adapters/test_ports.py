"""Adapters persist only through their ports (bot.pipeline.ports): an in-memory stand-in is all
they need, and the database-backed stores (bot.serve.stores) keep the ports' promises.

Wire payloads come from the fixtures of test_wecom_client / test_wecom_callback, whose sources
are cited there (WeCom 发送应用消息 90236, 更新模版卡片消息 94888, 模板卡片事件 90240).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest
import respx

from bot.adapters.base import RawRequest
from bot.adapters.dingtalk.quota import EXEMPT_APIS, MonthlyQuotaMeter
from bot.adapters.wecom.adapter import WeComAdapter
from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.pipeline.messenger import OutboundMessage
from bot.pipeline.ports import CardRecord, PlatformStores, RecallDeliveryRecord
from bot.serve.stores import DatabaseStores
from cards.models import Button, Card
from cards.render_wecom import encode_button_key
from storage.db import SessionFactory
from storage.models import ApiUsage, CardInstance
from tests._support import db
from tests._support.clock import FakeClock
from tests.bot.adapters.test_wecom_callback import CONFIG as CALLBACK_CONFIG
from tests.bot.adapters.test_wecom_callback import PATH, click_xml, encrypt
from tests.bot.adapters.test_wecom_client import API, GETTOKEN, SEND_OK
from tests.bot.adapters.test_wecom_client import CONFIG as CLIENT_CONFIG

# Too long to embed in a WeCom task_id: a click names it only through the stored handle.
LONG_KEY = "r1v1-review_task-" + "x" * 200


class MemoryStores:
    """Every adapter port kept in dicts: no database anywhere."""

    def __init__(self) -> None:
        self.cards: dict[tuple[str, str, str], CardRecord] = {}
        self.calls: Counter[tuple[str, str]] = Counter()
        self.lookups: list[tuple[str, str, tuple[str, ...]]] = []
        self.charts: dict[str, bytes] = {}
        self.deliveries: dict[tuple[int, str], RecallDeliveryRecord] = {}

    async def get_card_instance(
        self, *, card_key: str, platform: str, recipient: str
    ) -> CardRecord | None:
        return self.cards.get((card_key, platform, recipient))

    async def save_card_instance(
        self, *, card_key: str, platform: str, recipient: str, platform_ref: str,
        response_code: str, now: datetime | None = None,
    ) -> None:
        self.cards[(card_key, platform, recipient)] = CardRecord(
            platform_ref, response_code, now or datetime.now(UTC))

    async def clear_response_code(
        self, *, card_key: str, platform: str, recipient: str, response_code: str
    ) -> bool:
        row = self.cards.get((card_key, platform, recipient))
        if row is None or not response_code or row.response_code != response_code:
            return False
        self.cards[(card_key, platform, recipient)] = CardRecord(
            row.platform_ref, "", row.updated_at)
        return True

    async def remember_response_code(
        self, *, platform: str, recipient: str, card_key: str | None, platform_ref: str,
        response_code: str, now: datetime,
    ) -> str | None:
        if card_key is None:
            card_key = next((key for (key, p, r), row in self.cards.items()
                             if (p, r) == (platform, recipient)
                             and platform_ref and row.platform_ref == platform_ref), None)
        if card_key is not None and response_code:
            await self.save_card_instance(
                card_key=card_key, platform=platform, recipient=recipient,
                platform_ref=platform_ref, response_code=response_code, now=now)
        return card_key

    async def count_api_call(self, *, platform: str, now: datetime) -> None:
        self.calls[(platform, now.strftime("%Y-%m"))] += 1

    async def record_contact_lookup(
        self, *, external_userid: str, employee_userid: str, mobiles: Sequence[str],
        now: datetime,
    ) -> None:
        self.lookups.append((external_userid, employee_userid, tuple(mobiles)))

    async def load_chart(self, ref: str) -> bytes | None:
        return self.charts.get(ref)

    async def get_recall_delivery(
        self, *, contact_id: int, platform: str
    ) -> RecallDeliveryRecord | None:
        return self.deliveries.get((contact_id, platform))

    async def record_recall_delivery(
        self, *, contact_id: int, platform: str, status: str, now: datetime,
        msgid: str | None = None, sender: str | None = None,
        send_time: datetime | None = None, error: str = "",
    ) -> None:
        old = self.deliveries.get((contact_id, platform))
        self.deliveries[(contact_id, platform)] = RecallDeliveryRecord(
            status, msgid or (old.msgid if old else ""), sender or (old.sender if old else ""),
            old.created_at if old else now)


def outbound(card: Card, kind: str, n: int) -> OutboundMessage:
    return OutboundMessage(outbox_id=n, idempotency_key=f"wecom:msg:{n}:0", platform="wecom",
                           target_kind="person", target="lihr", group=False, kind=kind, card=card)


async def test_wecom_click_code_reaches_the_next_update_through_the_port_alone(
    clock: FakeClock,
) -> None:
    stores: PlatformStores = MemoryStores()
    card = Card(title="推荐审核 · 张三", status="待HR审核", key=LONG_KEY,
                buttons=(Button(label="通过", action="review.pass", params={"rid": "1"}),))
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.get("/cgi-bin/gettoken").respond(json=GETTOKEN["response"])
        router.post("/cgi-bin/message/send").respond(json={**SEND_OK, "invaliduser": ""})
        update = router.post("/cgi-bin/message/update_template_card").respond(
            json={"errcode": 0, "errmsg": "ok", "invaliduser": []})
        async with httpx.AsyncClient() as http:
            messenger = WeComMessenger(WeComClient(CLIENT_CONFIG, http, clock), stores,
                                       CLIENT_CONFIG.agent_id, clock=clock)
            await messenger.deliver(outbound(card, "card", 1))
            sent = await stores.get_card_instance(
                card_key=LONG_KEY, platform="wecom", recipient="lihr")
            assert sent is not None and sent.response_code == SEND_OK["response_code"]

            # The tap carries the task_id only (the key is hashed): the port resolves it.
            adapter = WeComAdapter(CALLBACK_CONFIG, clock=clock, cards=stores)
            signed = encrypt(click_xml("lihr", encode_button_key("review.pass", {"rid": "1"}),
                                       sent.platform_ref, "RC-CLICK"),
                             ts=int(clock().timestamp()))
            inbound = await adapter.handle_http(
                RawRequest("POST", PATH, signed.query, {}, signed.body))
            assert inbound.response.status == 200
            assert inbound.events[0].action is not None
            assert inbound.events[0].action.card_key == LONG_KEY

            await messenger.deliver(outbound(Card(title="推荐审核 · 张三", status="已通过",
                                                  key=LONG_KEY), "card_update", 2))
    assert json.loads(update.calls[0].request.content)["response_code"] == "RC-CLICK"
    spent = await stores.get_card_instance(card_key=LONG_KEY, platform="wecom", recipient="lihr")
    assert spent is not None and spent.response_code == ""  # single use


async def test_quota_meter_counts_through_its_port_and_never_raises(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    stores = MemoryStores()
    meter = MonthlyQuotaMeter(stores, clock)
    await meter.count("/v1.0/robot/oToMessages/batchSend")
    await meter.count(next(iter(EXEMPT_APIS)))
    assert stores.calls == Counter({("dingtalk", clock().strftime("%Y-%m")): 1})

    class Down(MemoryStores):
        async def count_api_call(self, *, platform: str, now: datetime) -> None:
            raise ConnectionRefusedError("database unreachable")

    with caplog.at_level(logging.WARNING, "hrbot.adapter.dingtalk"):
        await MonthlyQuotaMeter(Down(), clock).count("/v1.0/card/instances")
    assert "could not count a call" in caplog.text


async def test_database_stores_resolve_a_click_by_its_handle_and_need_a_code(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    stores = DatabaseStores(session_factory)
    await stores.save_card_instance(card_key="k1", platform="wecom", recipient="lihr",
                                    platform_ref="h-abc@1", response_code="", now=clock())
    assert await stores.remember_response_code(
        platform="wecom", recipient="lihr", card_key=None, platform_ref="h-abc@1",
        response_code="RC-1", now=clock()) == "k1"
    # Someone else's tap on the same handle, or an unknown handle, finds nothing.
    assert await stores.remember_response_code(
        platform="wecom", recipient="other", card_key=None, platform_ref="h-abc@1",
        response_code="RC-2", now=clock()) is None
    # A key without a code is returned but nothing is written.
    assert await stores.remember_response_code(
        platform="wecom", recipient="lihr", card_key="k2", platform_ref="", response_code="",
        now=clock()) == "k2"
    rows = await db.all_rows(session_factory, CardInstance)
    assert [(r.card_key, r.recipient, r.response_code) for r in rows] == [("k1", "lihr", "RC-1")]
    record = await stores.get_card_instance(card_key="k1", platform="wecom", recipient="lihr")
    assert record == CardRecord("h-abc@1", "RC-1", clock())
    assert await stores.clear_response_code(card_key="k1", platform="wecom", recipient="lihr",
                                            response_code="RC-OLD") is False
    assert await stores.clear_response_code(card_key="k1", platform="wecom", recipient="lihr",
                                            response_code="RC-1") is True


async def test_database_stores_count_calls_in_the_month_of_china(
    session_factory: SessionFactory,
) -> None:
    stores = DatabaseStores(session_factory)
    # 2026-11-30 16:00 UTC is already December 1st in Shanghai.
    await stores.count_api_call(platform="dingtalk", now=datetime(2026, 11, 30, 15, tzinfo=UTC))
    await stores.count_api_call(platform="dingtalk", now=datetime(2026, 11, 30, 16, tzinfo=UTC))
    await stores.count_api_call(platform="dingtalk", now=datetime(2026, 11, 30, 17, tzinfo=UTC))
    rows = await db.all_rows(session_factory, ApiUsage)
    assert sorted((r.period, r.calls) for r in rows) == [("2026-11", 1), ("2026-12", 2)]
    assert await stores.load_chart("chart:999") is None and await stores.load_chart("x") is None
