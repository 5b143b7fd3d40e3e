"""A recall confirmed on WeCom, end to end: the tap queues a mass-send task in HR's name, the
outbox polls WeCom until the candidate got it, and the clock records the delivery and tells
HR. Nothing goes to WeCom's customer API before the tap."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx
import pytest
import respx
from sqlalchemy import update

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.cli.local_chat import LocalChat
from bot.core.context import Settings
from bot.core.dispatch import Dispatcher
from bot.core.events import CardAction, Conversation, Event, EventKind, Platform
from bot.pipeline.clock import DueRunner
from bot.pipeline.messenger import PlatformMessengers
from bot.pipeline.outbox import OutboxWorker
from bot.pipeline.runtime import Runtime
from bot.serve.stores import DatabaseStores
from cards.models import Card
from handlers.capabilities import REGISTRY
from handlers.recall import sending
from storage.db import SessionFactory
from storage.models import Candidate, Outbox, RecallContact, RecallStatus
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.recall import (
    CONCERN,
    NEWS,
    candidate_of,
    contacts,
    profile_of,
    recorded_no_show,
    refer_text,
)
from tests._support.referrals import only_card
from tests.bot.adapters.test_wecom_client import ADD_TEMPLATE, API, CONFIG, GETTOKEN, GROUPMSG

EXTERNAL = "wmCandidate01"
SEND_LIST = GROUPMSG["get_groupmsg_send_result"]["response"]["send_list"][0]


@dataclass
class Bot:
    shell: LocalChat
    dispatcher: Dispatcher
    worker: OutboxWorker
    runtime: Runtime
    router: respx.MockRouter

    def calls(self, path: str) -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(c.request.content) for c in self.router.calls
                if c.request.url.path.endswith(path)]


SETTINGS = Settings(platforms=("wecom", "shell"), recall_news=NEWS, quiet_weekends=False)


@pytest.fixture
async def bot(demo: SessionFactory, clock: FakeClock) -> AsyncIterator[Bot]:
    shell = LocalChat(session_factory=demo, clock=clock,
                      settings=replace(SETTINGS, platforms=("shell",)))
    settings = SETTINGS
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.get("/cgi-bin/gettoken").respond(json=GETTOKEN["response"])
        router.post("/cgi-bin/message/send").respond(
            json={"errcode": 0, "errmsg": "ok", "msgid": "m1", "response_code": "rc1"})
        router.post("/cgi-bin/externalcontact/add_msg_template").respond(
            json={**ADD_TEMPLATE["response"], "fail_list": []})
        async with httpx.AsyncClient() as http:
            wecom = WeComMessenger(WeComClient(CONFIG, http, clock), DatabaseStores(demo),
                                   CONFIG.agent_id, clock=clock)
            messengers = PlatformMessengers({"wecom": wecom, "shell": shell.messenger})
            dispatcher = Dispatcher(
                session_factory=demo, routers=REGISTRY.routers, settings=settings, clock=clock,
                pending_input=REGISTRY.answer_pending, kind_handlers=REGISTRY.kind_handlers)
            worker = OutboxWorker(session_factory=demo, messenger=messengers, clock=clock)
            runtime = Runtime(
                runner=DueRunner(session_factory=demo, handlers=REGISTRY.due_handlers,
                                 settings=settings, clock=clock, owner="wecom-test"),
                outbox=worker, recurring=REGISTRY.recurring)
            yield Bot(shell, dispatcher, worker, runtime, router)


def tap_on_wecom(card: Card, label: str, n: int) -> Event:
    button = next(b for b in card.buttons if b.label == label)
    return Event(platform=Platform.WECOM, event_id=f"wx-{n}", kind=EventKind.CARD_ACTION,
                 actor_id="lihr", conversation=Conversation(id="lihr"),
                 action=CardAction(button.action, dict(button.params), card_key=card.key))


def send_result(status: int) -> httpx.Response:
    row = {**SEND_LIST, "external_userid": EXTERNAL, "userid": "lihr", "status": status}
    return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "next_cursor": "",
                                     "send_list": [row]})


async def test_a_recall_confirmed_on_wecom_is_polled_until_delivered(
    bot: Bot, demo: SessionFactory, clock: FakeClock
) -> None:
    rid = await recorded_no_show(bot.shell, demo, refer_text(1))
    async with demo() as session:
        candidate = await session.get(Candidate, (await candidate_of(demo, rid)).id)
        assert candidate is not None
        candidate.wecom_external_userid = EXTERNAL  # linked when they added 李HR on WeCom
        session.add(candidate)
        await session.commit()
    clock.now = (await profile_of(demo, rid)).since + timedelta(days=90)
    preview = only_card(await bot.shell.tick(), "召回预览 · 候选人01")
    await bot.runtime.tick()
    assert bot.calls("add_msg_template") == []  # the clock prompts; it never sends

    await bot.dispatcher.feed(tap_on_wecom(preview, "发送", 1))
    await bot.worker.drain()
    [task] = bot.calls("add_msg_template")
    contact = (await contacts(demo))[0]
    assert task == {"chat_type": "single", "external_userid": [EXTERNAL], "sender": "lihr",
                    "text": {"content": contact.text}}
    assert f"“{CONCERN}”" in contact.text
    assert (contact.status, contact.channel, contact.confirmed_at) == (
        RecallStatus.QUEUED, "wecom", clock.now)
    # The tapped card now says who still has to confirm (no buttons: sent as markdown).
    waiting = bot.calls("message/send")[-1]
    assert waiting["touser"] == "lihr"
    assert waiting["markdown"]["content"].startswith("**召回 · 候选人01**")
    assert "等待 李HR 在客户端确认发送" in waiting["markdown"]["content"]

    result = bot.router.post("/cgi-bin/externalcontact/get_groupmsg_send_result")
    result.side_effect = [
        httpx.Response(200, json={"errcode": 41063, "errmsg": "dispatching"}),
        send_result(0),
        send_result(1),
    ]
    for seconds in (61, 61, 601):
        clock.advance(seconds=seconds)
        await bot.worker.drain()
    assert result.call_count == 3
    polls = [r for r in await db.all_rows(demo, Outbox) if r.kind == "recall_poll"]
    assert [p.status for p in polls] == ["sent"] and polls[0].attempts == 0

    before = len(bot.calls("message/send"))
    await bot.runtime.tick()
    contact = (await contacts(demo))[0]
    assert contact.status == RecallStatus.SENT
    assert contact.sent_at == contact.delivered_at is not None
    [told] = bot.calls("message/send")[before:]
    card = told["template_card"]
    assert told["touser"] == "lihr" and card["main_title"]["title"] == "召回 · 候选人01"
    assert [b["text"] for b in card["button_list"]] == ["已回复", "有意向", "已返岗", "不再联系"]
    assert "已送达" in card["sub_title_text"]


async def test_a_tap_that_loses_a_race_queues_no_second_task(
    bot: Bot, demo: SessionFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = await recorded_no_show(bot.shell, demo, refer_text(2))
    async with demo() as session:
        candidate = await session.get(Candidate, (await candidate_of(demo, rid)).id)
        assert candidate is not None
        candidate.wecom_external_userid = EXTERNAL
        session.add(candidate)
        await session.commit()
    clock.now = (await profile_of(demo, rid)).since + timedelta(days=30)
    preview = only_card(await bot.shell.tick(), "召回预览 · 候选人02")

    real_block = sending.contact_block

    async def other_tap_first(session, profile, **kw):  # type: ignore[no-untyped-def]
        # Another replica's tap commits between this tap's read and its write.
        await session.exec(update(RecallContact).values(version=RecallContact.version + 1)
                           .execution_options(synchronize_session=False))
        return await real_block(session, profile, **kw)

    monkeypatch.setattr(sending, "contact_block", other_tap_first)
    await bot.dispatcher.feed(tap_on_wecom(preview, "发送", 2))
    await bot.worker.drain()
    kinds = [r.kind for r in await db.all_rows(demo, Outbox)]
    assert "recall" not in kinds and "recall_poll" not in kinds
    assert bot.calls("add_msg_template") == []
    assert (await contacts(demo))[0].status == RecallStatus.DRAFTED
    assert "这张卡片已过期" in bot.calls("message/send")[-1]["markdown"]["content"]
