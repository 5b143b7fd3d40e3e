"""Monthly API quota: metered DingTalk calls are counted per month across replicas, HR leads
and admins are warned once per threshold, and ``用量`` shows the figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
import respx

from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.quota import MonthlyQuotaMeter
from bot.cli.local_chat import LocalChat
from bot.config.schema import DingTalkConfig
from bot.core.context import Settings
from bot.serve.stores import DatabaseStores
from storage.db import SessionFactory, session_scope
from storage.repo.usage import add_api_calls, api_calls, usage_period
from tests._support.clock import FakeClock

API = "https://api.dingtalk.com"


def test_the_month_turns_over_at_midnight_in_china() -> None:
    assert usage_period(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == "2026-11"
    assert usage_period(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == "2026-12"


async def test_concurrent_counts_are_all_kept(session_factory: SessionFactory) -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)

    async def one() -> int:
        async with session_scope(session_factory) as session:
            return await add_api_calls(
                session=session, platform="dingtalk", period="2026-11", calls=1, now=now)

    totals = await asyncio.gather(*(one() for _ in range(20)))
    assert sorted(totals) == list(range(1, 21))
    async with session_factory() as session:
        assert await api_calls(session=session, platform="dingtalk", period="2026-11") == 20
        assert await api_calls(session=session, platform="dingtalk", period="2026-10") == 0


async def test_client_counts_metered_calls_not_the_token(
    session_factory: SessionFactory, clock: FakeClock
) -> None:
    config = DingTalkConfig(app_key="k", app_secret="s", robot_code="r", card_template_id="t")
    meter = MonthlyQuotaMeter(DatabaseStores(session_factory), clock)
    with respx.mock(base_url=API) as router:
        router.post("/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        router.put("/v1.0/card/instances").respond(json={"success": True})
        router.post("/v1.0/robot/oToMessages/batchSend").respond(
            403, json={"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"})
        async with httpx.AsyncClient() as http:
            client = DingTalkClient(config, http, clock, meter=meter.count)
            await client.update_card({"outTrackId": "x", "cardData": {}})
            await client.update_card({"outTrackId": "y", "cardData": {}})
            with pytest.raises(Exception, match="QpsLimit"):
                await client.batch_send(["dt_li"], "sampleText", {"content": "hi"})
    async with session_factory() as session:
        period = usage_period(clock())
        # Two updates and the refused send reached DingTalk; the token call is exempt.
        assert await api_calls(session=session, platform="dingtalk", period=period) == 3


async def _count(factory: SessionFactory, clock: FakeClock, calls: int) -> None:
    async with session_scope(factory) as session:
        await add_api_calls(session=session, platform="dingtalk",
                            period=usage_period(clock()), calls=calls, now=clock())


def alerts(sent: list) -> list[tuple[str, str]]:
    return [(m.target, m.card.title) for m in sent if "接口额度" in m.card.title]


async def test_leads_and_admins_are_warned_once_per_threshold(
    demo: SessionFactory, clock: FakeClock
) -> None:
    chat = LocalChat(session_factory=demo, clock=clock,
                     settings=Settings(api_quotas={"dingtalk": 5000}))
    await _count(demo, clock, 3999)
    assert alerts(await chat.tick()) == []
    await _count(demo, clock, 1)  # 4000 = 80 %
    first = alerts(await chat.tick())
    assert first and {title for _, title in first} == {"⚠️ 钉钉接口额度已用 80%"}
    # E001 and E002 are the demo org's HR leads; nobody else hears of it.
    assert {target for target, _ in first} == {"E001", "E002"}
    assert alerts(await chat.tick()) == []  # once per threshold and month
    await _count(demo, clock, 1000)  # straight to 100 %: one warning, not two
    assert {t for _, t in alerts(await chat.tick())} == {"⚠️ 钉钉接口额度已用完"}
    clock.advance(days=10)  # next month starts from zero
    assert alerts(await chat.tick()) == []


async def test_usage_command_shows_figures_to_leads_only(
    demo: SessionFactory, clock: FakeClock
) -> None:
    chat = LocalChat(session_factory=demo, clock=clock,
                     settings=Settings(api_quotas={"dingtalk": 5000}))
    await _count(demo, clock, 1234)
    [card] = [m.card for m in await chat.say("E002", "用量")]
    assert card.title == "本月接口用量"
    assert f"{usage_period(clock())} 已用 1234 / 5000 次（24%）" in card.body
    [refused] = [m.card for m in await chat.say("E020", "用量")]
    assert refused.title == "没有权限"
