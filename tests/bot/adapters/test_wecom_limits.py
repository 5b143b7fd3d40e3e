"""WeCom send limits and setup errors: per-member window, one clear line for 60020/48002."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx

from bot.adapters.wecom import client as client_module
from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.limits import MemberRateLimiter
from bot.adapters.wecom.messenger import WeComMessenger
from bot.config.schema import WeComConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.serve.send_windows import DatabaseSendWindow
from bot.serve.stores import DatabaseStores
from cards.models import Card
from storage.db import SessionFactory, session_scope
from storage.repo.cards import save_card_instance
from tests._support.clock import FakeClock
from tests._support.paths import PLATFORM_DATA

API = "https://qyapi.weixin.qq.com"
DATA = PLATFORM_DATA
GETTOKEN = json.loads((DATA / "wecom_gettoken.json").read_text(encoding="utf-8"))
TOKEN = GETTOKEN["response"]["access_token"]
SEND_OK = {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "m1"}
SECRET = "app-secret-do-not-log"
CONFIG = WeComConfig(corp_id="ww1436e0e65a779aee", agent_id=1000002, secret=SECRET,
                     token="t", encoding_aes_key="6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt")
NOTE = Card(title="提醒", body="有新的推荐待审核")
KEYED = Card(title="推荐审核 · 张三", status="已通过", key="r1v1-review_task")


@dataclass
class Api:
    client: WeComClient
    router: respx.MockRouter
    send: respx.Route


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[Api]:
    # Unmatched routes raise: nothing here can reach the network.
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.get("/cgi-bin/gettoken").respond(json=GETTOKEN["response"])
        send = router.post("/cgi-bin/message/send").respond(json=SEND_OK)
        async with httpx.AsyncClient() as http:
            yield Api(WeComClient(CONFIG, http, clock), router, send)


@pytest.fixture
def fresh_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Setup errors are reported once per process; start each test as a new process."""
    monkeypatch.setattr(client_module, "_setup_errors_reported", set())


def message(card: Card = NOTE, *, target: str = "lihr", n: int = 1,
            kind: str = "card") -> OutboundMessage:
    return OutboundMessage(outbox_id=n, idempotency_key=f"wecom:msg:{n}:0", platform="wecom",
                           target_kind="person", target=target, group=False, kind=kind, card=card)


def messenger_for(api: Api, factory: SessionFactory, clock: FakeClock) -> WeComMessenger:
    return WeComMessenger(api.client, DatabaseStores(factory), CONFIG.agent_id, clock=clock)


# --- per-member limit --------------------------------------------------------------------


async def test_31st_message_to_a_member_in_a_minute_goes_back_to_the_outbox(
    api: Api, session_factory: SessionFactory, clock: FakeClock
) -> None:
    messenger = messenger_for(api, session_factory, clock)
    for n in range(30):
        await messenger.deliver(message(n=n))
    assert api.send.call_count == 30

    with pytest.raises(TransientDeliveryError, match=r"per-member limit: retry in 60s"):
        await messenger.deliver(message(n=30))
    assert api.send.call_count == 30  # WeCom never saw it (it would have dropped it)

    await messenger.deliver(message(target="wanghr", n=31))  # another member is unaffected
    assert api.send.call_count == 31
    assert json.loads(api.send.calls[-1].request.content)["touser"] == "wanghr"

    clock.advance(seconds=59)
    with pytest.raises(TransientDeliveryError, match=r"retry in 1s"):
        await messenger.deliver(message(n=30))
    clock.advance(seconds=1)  # a full minute after the first 30
    await messenger.deliver(message(n=30))
    assert api.send.call_count == 32
    assert json.loads(api.send.calls[-1].request.content)["touser"] == "lihr"


async def test_card_update_in_place_is_not_a_new_message(
    api: Api, session_factory: SessionFactory, clock: FakeClock
) -> None:
    messenger = messenger_for(api, session_factory, clock)
    for n in range(30):
        await messenger.deliver(message(n=n))
    async with session_scope(session_factory) as session:
        await save_card_instance(session=session, card_key=KEYED.key or "", platform="wecom",
                                 recipient="lihr", platform_ref="k-x@1", response_code="CODE",
                                 now=clock())
    update = api.router.post("/cgi-bin/message/update_template_card").respond(
        json={"errcode": 0, "errmsg": "ok", "invaliduser": []}
    )
    await messenger.deliver(message(KEYED, kind="card_update", n=40))
    assert update.call_count == 1 and api.send.call_count == 30
    # Without a code left the update would be a new message: that one is limited.
    with pytest.raises(TransientDeliveryError, match="per-member limit"):
        await messenger.deliver(message(KEYED, kind="card_update", n=41))
    assert update.call_count == 1 and api.send.call_count == 30


def test_limiter_keeps_every_window_and_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = MemberRateLimiter(limits=((2, 60.0), (3, 3600.0)), clock=lambda: now[0])
    assert limiter.try_acquire("a") is None
    now[0] = 10.0
    assert limiter.try_acquire("a") is None
    assert limiter.try_acquire("a") == pytest.approx(50.0)  # the send at 0 leaves at 60
    assert limiter.try_acquire("b") is None
    now[0] = 60.0
    assert limiter.try_acquire("a") is None  # third in the hour
    now[0] = 200.0  # the minute is free, the hour is not: the send at 0 leaves at 3600
    assert limiter.try_acquire("a") == pytest.approx(3400.0)
    now[0] = 3600.0
    assert limiter.try_acquire("a") is None
    with pytest.raises(ValueError):
        MemberRateLimiter(limits=((0, 60.0),))


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "fix"),
    [(60020, "企业可信IP"), (48002, "可见范围")],
)
async def test_setup_errors_are_permanent_and_explained_once(
    api: Api, session_factory: SessionFactory, clock: FakeClock,
    caplog: pytest.LogCaptureFixture, fresh_reports: None, errcode: int, fix: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    api.send.respond(json={"errcode": errcode,
                           "errmsg": "not allow to access from your ip, from ip: 203.0.113.7"})
    messenger = messenger_for(api, session_factory, clock)
    for n in range(2):
        with pytest.raises(PlatformError) as caught:
            await messenger.deliver(message(n=n))
        assert caught.value.errcode == errcode
    assert api.send.call_count == 2  # no retry inside the client either

    ours = [r for r in caplog.records if r.name == "hrbot.adapter.wecom"
            and f"errcode {errcode}" in r.getMessage()]
    errors = [r for r in ours if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert fix in errors[0].getMessage() and "203.0.113.7" in errors[0].getMessage()
    assert [r.levelno for r in ours] == [logging.ERROR, logging.DEBUG]
    for secret in (SECRET, TOKEN):
        assert secret not in caplog.text


async def test_each_setup_error_code_is_reported_on_its_own(
    api: Api, caplog: pytest.LogCaptureFixture, fresh_reports: None
) -> None:
    api.send.mock(side_effect=[
        httpx.Response(200, json={"errcode": 60020, "errmsg": "ip"}),
        httpx.Response(200, json={"errcode": 48002, "errmsg": "api forbidden"}),
    ])
    for _ in range(2):
        with pytest.raises(PlatformError):
            await api.client.send_text(["lihr"], "hi")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "errcode 60020" in errors[0] and "errcode 48002" in errors[1]


@pytest.mark.parametrize(
    "response",
    [httpx.Response(200, json={"errcode": -1, "errmsg": "system busy"}),
     httpx.Response(200, json={"errcode": 45009, "errmsg": "api freq out of limit"}),
     httpx.Response(500, text="internal error")],
)
async def test_busy_throttled_and_5xx_are_still_retried_later(
    api: Api, session_factory: SessionFactory, clock: FakeClock,
    caplog: pytest.LogCaptureFixture, fresh_reports: None, response: Any,
) -> None:
    api.send.mock(side_effect=[response])
    with pytest.raises(TransientDeliveryError) as caught:
        await messenger_for(api, session_factory, clock).deliver(message())
    assert "per-member" not in str(caught.value)  # WeCom's answer, not our limit
    assert api.send.call_count == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
async def test_the_member_limit_survives_a_restart_and_holds_across_two_replicas(
    api: Api, session_factory: SessionFactory, clock: FakeClock
) -> None:
    # Each messenger is a process of its own (its in-memory limiter starts empty); the
    # window in the database is what they share.
    def replica() -> WeComMessenger:
        return WeComMessenger(api.client, DatabaseStores(session_factory), CONFIG.agent_id,
                              clock=clock, window=DatabaseSendWindow(session_factory, clock))

    first, second = replica(), replica()
    for n in range(20):
        await first.deliver(message(n=n))
    for n in range(20, 30):
        await second.deliver(message(n=n))
    restarted = replica()
    with pytest.raises(TransientDeliveryError) as refused:
        await restarted.deliver(message(n=30))
    assert refused.value.retry_after is not None and refused.value.retry_after > 0
    assert api.send.call_count == 30
    clock.advance(seconds=61)
    await restarted.deliver(message(n=31))
    assert api.send.call_count == 31
