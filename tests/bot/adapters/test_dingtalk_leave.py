"""DingTalk leave status (``topapi/attendance/getleavestatus``) and the sync that records it
as time away: paging, batching, errcodes, idempotent repeats, withdrawn leave."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.leave import LEAVE_STATUS_PATH, fetch_leave_status
from bot.config.schema import DingTalkConfig
from bot.core.context import JobContext, Settings
from bot.core.errors import PlatformError
from bot.pipeline.directory import LeaveSpan
from bot.pipeline.messenger import TransientDeliveryError
from handlers.delegation.leave_sync import PlatformLeaveSync
from handlers.delegation.rules import is_away
from storage.db import SessionFactory, session_scope
from storage.models import AwayPeriod
from storage.repo.people import get_person_by_employee_no
from tests._support import db
from tests._support.clock import FakeClock

API = "https://api.dingtalk.com"
OAPI = "https://oapi.dingtalk.com"
START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 03-04 00:00 in Shanghai
END = START + timedelta(days=2)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def page(rows: list[tuple[str, datetime, datetime]], more: bool) -> dict[str, object]:
    return {"errcode": 0, "success": True, "request_id": "r1", "result": {
        "has_more": more,
        "leave_status": [{"userid": u, "start_time": ms(s), "end_time": ms(e),
                          "duration_unit": "percent_day", "duration_percent": 100}
                         for u, s, e in rows]}}


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[tuple[DingTalkClient, respx.MockRouter]]:
    config = DingTalkConfig(app_key="key", app_secret="secret", robot_code="robot",
                            card_template_id="tpl")
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{API}/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        async with httpx.AsyncClient() as http:
            yield DingTalkClient(config, http, clock), router


def bodies(router: respx.MockRouter) -> list[dict[str, object]]:
    return [json.loads(c.request.content) for c in router.calls
            if c.request.url.path == LEAVE_STATUS_PATH]


async def test_pages_through_every_leave(client: tuple[DingTalkClient, respx.MockRouter]) -> None:
    dingtalk, router = client
    route = router.post(f"{OAPI}{LEAVE_STATUS_PATH}")
    route.side_effect = [
        httpx.Response(200, json=page([("dt_zhao", START, END)] * 20, more=True)),
        httpx.Response(200, json=page([("dt_chen", START, END + timedelta(days=1))], False)),
    ]
    spans = await fetch_leave_status(dingtalk, ["dt_zhao", "dt_chen"], START, START
                                     + timedelta(days=30))
    assert len(spans) == 21
    assert spans[-1] == LeaveSpan("dt_chen", START, END + timedelta(days=1))
    assert [c.request.url.params["access_token"] for c in route.calls] == ["tok", "tok"]
    sent = bodies(router)
    assert [(b["offset"], b["size"]) for b in sent] == [(0, 20), (20, 20)]
    assert sent[0]["userid_list"] == "dt_zhao,dt_chen"
    assert (sent[0]["start_time"], sent[0]["end_time"]) == (ms(START),
                                                            ms(START + timedelta(days=30)))


async def test_asks_at_most_a_hundred_users_at_a_time(
    client: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    dingtalk, router = client
    router.post(f"{OAPI}{LEAVE_STATUS_PATH}").respond(json=page([], more=False))
    users = [f"u{n}" for n in range(150)]
    assert await fetch_leave_status(dingtalk, users, START, END) == []
    assert [len(str(b["userid_list"]).split(",")) for b in bodies(router)] == [100, 50]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"errcode": 60011, "errmsg": "no permission"}, PlatformError),
        ({"errcode": 90018, "errmsg": "too fast"}, TransientDeliveryError),
        ({"errcode": 0}, PlatformError),
    ],
)
async def test_errors_are_mapped(
    answer: dict[str, object], error: type[Exception],
    client: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    dingtalk, router = client
    router.post(f"{OAPI}{LEAVE_STATUS_PATH}").respond(json=answer)
    with pytest.raises(error):
        await fetch_leave_status(dingtalk, ["dt_zhao"], START, END)


async def test_sync_records_leave_once_and_forgets_withdrawn_leave(
    demo: SessionFactory, clock: FakeClock, client: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    dingtalk, router = client
    route = router.post(f"{OAPI}{LEAVE_STATUS_PATH}")
    later = (START + timedelta(days=7), START + timedelta(days=8))
    route.respond(json=page([("dt_chen", START - timedelta(days=1), END),
                             ("dt_zhao", *later), ("dt_nobody", START, END)], more=False))
    sync = PlatformLeaveSync(
        platform="dingtalk",
        fetch=lambda users, start, end: fetch_leave_status(dingtalk, users, start, end),
    )

    async def run() -> int:
        async with session_scope(demo) as session:
            return await sync(JobContext(session=session, now=clock.now, settings=Settings()))

    assert await run() == 2
    assert "dt_chen" in str(bodies(router)[0]["userid_list"])
    assert await run() == 0 and route.call_count == 1  # not again before `every`
    clock.advance(minutes=31)
    assert await run() == 0 and route.call_count == 2  # the same leaves: nothing new
    periods = await db.all_rows(demo, AwayPeriod)
    assert sorted((p.source, p.leave, p.delegate_id) for p in periods) == [
        ("dingtalk", True, None)] * 2
    async with demo() as session:
        chen = await get_person_by_employee_no(session=session, employee_no="E002")
        assert chen is not None and await is_away(session, chen.id or 0, clock.now)

    route.respond(json=page([("dt_chen", START - timedelta(days=1), END)], more=False))
    clock.advance(minutes=31)
    assert await run() == 0
    live = [p for p in await db.all_rows(demo, AwayPeriod) if p.cancelled_at is None]
    assert len(live) == 1  # 赵总's future leave was withdrawn on DingTalk


async def test_a_platform_failure_is_retried_next_time(
    demo: SessionFactory, clock: FakeClock, client: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    dingtalk, router = client
    router.post(f"{OAPI}{LEAVE_STATUS_PATH}").respond(json={"errcode": 60011, "errmsg": "x"})
    sync = PlatformLeaveSync(
        platform="dingtalk",
        fetch=lambda users, start, end: fetch_leave_status(dingtalk, users, start, end),
    )
    async with session_scope(demo) as session:
        job = JobContext(session=session, now=clock.now, settings=Settings())
        assert await sync(job) == 0
    assert await db.all_rows(demo, AwayPeriod) == []


# Old-style oapi errcodes for a token that is no longer valid: 40014 不合法的access_token,
# 42001 access_token 超时 (https://open.dingtalk.com/document/orgapp/server-api-error-codes-1),
# 88 不合法的access_token as some oapi endpoints say it
# (https://github.com/007gzs/dingtalk-sdk/issues/52).
@pytest.mark.parametrize("errcode", [40014, 42001, 88])
async def test_invalid_token_errcodes_refresh_the_token_and_retry_once(
    client: tuple[DingTalkClient, respx.MockRouter], errcode: int
) -> None:
    dingtalk, router = client
    token_route = router.routes[0]
    token_route.side_effect = [
        httpx.Response(200, json={"accessToken": "old", "expireIn": 7200}),
        httpx.Response(200, json={"accessToken": "new", "expireIn": 7200}),
    ]
    route = router.post(f"{OAPI}{LEAVE_STATUS_PATH}").mock(side_effect=[
        httpx.Response(200, json={"errcode": errcode, "errmsg": "不合法的access_token"}),
        httpx.Response(200, json=page([("u1", START, END)], more=False)),
    ])
    spans = await fetch_leave_status(dingtalk, ["u1"], START, END)
    assert spans == [LeaveSpan("u1", START, END)]
    assert [c.request.url.params["access_token"] for c in route.calls] == ["old", "new"]
    assert token_route.call_count == 2
