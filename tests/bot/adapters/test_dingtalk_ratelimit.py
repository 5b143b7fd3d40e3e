"""Per-API sliding windows for the DingTalk OpenAPI, on virtual time (no real sleeps)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
import respx

from bot.adapters.dingtalk.client import TOKEN_PATH, DingTalkClient
from bot.adapters.dingtalk.ratelimit import RateLimiter
from bot.config.schema import DingTalkConfig
from bot.serve.send_windows import DatabaseSendWindow
from storage.db import SessionFactory
from tests._support.clock import FakeClock

T = TypeVar("T")
API = "https://api.dingtalk.com"
BATCH = "/v1.0/robot/oToMessages/batchSend"
GROUP = "/v1.0/robot/groupMessages/send"
EPS = 1e-9


class VirtualTime:
    """A clock that only moves when every task is waiting in :meth:`sleep`.

    :meth:`run` drives a coroutine: it lets ready tasks run, then jumps to the earliest
    sleeper's deadline and wakes everyone due by then, so concurrent sleeps overlap the way
    real ones do and a test of seconds of waiting takes milliseconds.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []  # every delay asked for
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._order), future))
        await future

    async def _settle(self) -> None:
        for _ in range(50):  # enough loop turns for woken tasks to reach their next wait
            await asyncio.sleep(0)

    async def run(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        while True:
            await self._settle()
            if task.done():
                return task.result()
            while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
                heapq.heappop(self._sleepers)
            assert self._sleepers, "nothing is sleeping and the work is not done: stuck"
            self.now = max(self.now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self.now:
                future = heapq.heappop(self._sleepers)[2]
                if not future.done():
                    future.set_result(None)


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


def limiter_on(vt: VirtualTime, **kw: Any) -> RateLimiter:
    return RateLimiter(clock=vt.clock, sleep=vt.sleep, **kw)


async def start_times(vt: VirtualTime, limiter: RateLimiter, key: str, n: int) -> list[float]:
    """``n`` concurrent callers on ``key``; the virtual time at which each one may start."""

    async def one() -> float:
        await limiter.acquire(key)
        return vt.now

    return sorted(await asyncio.gather(*(one() for _ in range(n))))


def most_in_any_window(times: list[float], span: float) -> int:
    """The largest number of starts inside any closed window of ``span`` seconds."""
    return max(sum(1 for t in times if start <= t <= start + span + EPS) for start in times)


def most_in_any_second(times: list[float]) -> int:
    """The largest number of starts inside any half-open second [t, t+1)."""
    return max(sum(1 for t in times if start <= t < start + 1.0 - EPS) for start in times)


# The documented limit: 20 calls per second per app per API (standard edition), answered
# with Forbidden.AccessDenied.QpsLimitForAppkeyAndApi above it (tests/data/platforms/
# dingtalk_rate_limits.json, from the throttling page in the module docstring).
async def test_sixty_calls_to_one_api_never_exceed_twenty_in_any_second(
    vt: VirtualTime,
) -> None:
    limiter = limiter_on(vt)
    times = await vt.run(start_times(vt, limiter, BATCH, 60))
    assert times[:20] == [0.0] * 20  # twenty at once
    assert times[20:40] == [pytest.approx(1.05)] * 20  # the next twenty a window later
    assert times[-1] == pytest.approx(2.1)
    assert most_in_any_window(times, 1.0) == 20  # closed windows too: never 21 or 40
    assert limiter.delayed == 40


async def test_idle_time_does_not_allow_a_double_burst(vt: VirtualTime) -> None:
    limiter = limiter_on(vt)

    async def trickle_then_burst() -> list[float]:
        times = []
        for _ in range(10):  # a steady trickle, then everyone at once
            await limiter.acquire(BATCH)
            times.append(vt.now)
            await vt.sleep(0.09)
        return times + await start_times(vt, limiter, BATCH, 40)

    times = await vt.run(trickle_then_burst())
    assert len(times) == 50 and most_in_any_second(times) <= 20
    assert most_in_any_window(times, 1.0) <= 20


async def test_different_apis_do_not_slow_each_other(vt: VirtualTime) -> None:
    limiter = limiter_on(vt)

    async def both() -> tuple[list[float], list[float]]:
        busy = asyncio.ensure_future(start_times(vt, limiter, BATCH, 60))
        while limiter.delayed < 40:  # BATCH's window is full and 40 callers queue
            await asyncio.sleep(0)
        other = await start_times(vt, limiter, GROUP, 20)
        return await busy, other

    busy, other = await vt.run(both())
    assert other == [0.0] * 20  # a full window on the other API, while BATCH is queued
    assert busy[-1] == pytest.approx(2.1)  # and BATCH is no slower for it


async def test_gathered_callers_never_start_early(vt: VirtualTime) -> None:
    limiter = limiter_on(vt, limit=3, window=0.5)

    async def waves() -> list[float]:
        first = asyncio.ensure_future(start_times(vt, limiter, BATCH, 25))
        await vt.sleep(0.7)  # a second wave arrives while the first is still queued
        second = await start_times(vt, limiter, BATCH, 25)
        return sorted(await first + second)

    times = await vt.run(waves())
    assert len(times) == 50
    assert times[-1] == pytest.approx(16 * 0.5)  # every caller got its own slot
    for start in times:
        assert sum(1 for t in times if start <= t < start + 0.5 - EPS) <= 3


async def test_a_window_after_idle_time_is_free_again(vt: VirtualTime) -> None:
    limiter = limiter_on(vt)
    await vt.run(start_times(vt, limiter, BATCH, 20))  # window full
    assert limiter.reserve(BATCH) == pytest.approx(1.05)
    vt.now += 60.0  # long idle: twenty at once again, not 1,200
    for _ in range(20):
        assert limiter.reserve(BATCH) == 0.0
    assert limiter.reserve(BATCH) == pytest.approx(1.05)


async def test_a_cancelled_waiter_gives_its_slot_back(vt: VirtualTime) -> None:
    limiter = limiter_on(vt, limit=1, window=1.0)

    async def scenario() -> float:
        await limiter.acquire(BATCH)
        waiter = asyncio.ensure_future(limiter.acquire(BATCH))  # due at t=1
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert waiter.cancelled()
        await limiter.acquire(BATCH)  # takes the freed slot at t=1, not t=2
        return vt.now

    assert await vt.run(scenario()) == pytest.approx(1.0)


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(limit=0)
    with pytest.raises(ValueError):
        RateLimiter(window=0)


@pytest.fixture
async def api(
    clock: FakeClock, vt: VirtualTime
) -> AsyncIterator[tuple[DingTalkClient, respx.MockRouter]]:
    config = DingTalkConfig(app_key="dingkey", app_secret="secret", robot_code="dingrobot",
                            card_template_id="tpl")
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.post("/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200}
        )
        async with httpx.AsyncClient() as http:
            yield DingTalkClient(config, http, clock, limiter=limiter_on(vt)), router


def request_times(vt: VirtualTime, route: respx.Route, answer: dict[str, Any]) -> list[float]:
    """Make ``route`` answer ``answer`` and note the virtual time of each request."""
    times: list[float] = []

    def respond(request: httpx.Request) -> httpx.Response:
        times.append(vt.now)
        return httpx.Response(200, json=answer)

    route.side_effect = respond
    return times


async def test_client_spreads_openapi_calls_per_api(
    api: tuple[DingTalkClient, respx.MockRouter], vt: VirtualTime
) -> None:
    client, router = api
    batch = request_times(vt, router.post(BATCH), {"processQueryKey": "q"})
    group = request_times(vt, router.post(GROUP), {"processQueryKey": "q"})

    async def burst() -> None:
        await asyncio.gather(
            *(client.batch_send([f"u{n}"], "sampleText", {"content": "x"}) for n in range(30)),
            *(client.send_group(f"cid{n}", "sampleText", {"content": "x"}) for n in range(20)),
        )

    await vt.run(burst())
    assert len(batch) == 30 and len(group) == 20
    assert max(batch) == pytest.approx(1.05)  # 10 over the limit wait one window
    assert most_in_any_window(sorted(batch), 1.0) <= 20
    assert group == [0.0] * 20  # its own window: no wait
    assert router.routes[0].call_count == 1  # one token, fetched once under its own key


async def test_todo_calls_share_one_limit_whoever_they_are_for(
    api: tuple[DingTalkClient, respx.MockRouter], vt: VirtualTime
) -> None:
    client, router = api
    todo = request_times(vt, router.post(url__regex=r"/v1\.0/todo/users/[^/]+/tasks"),
                         {"id": "task"})

    async def burst() -> None:
        await asyncio.gather(*(
            client.create_todo(union_id=f"un{n}", subject="s", source_id=f"s{n}",
                               app_url="https://example.invalid/x")
            for n in range(25)
        ))

    await vt.run(burst())
    assert len(todo) == 25
    assert max(todo) == pytest.approx(1.05)  # one window for the API, not one per user


async def test_session_webhook_replies_are_not_throttled(
    api: tuple[DingTalkClient, respx.MockRouter], vt: VirtualTime, clock: FakeClock
) -> None:
    client, _ = api
    webhook = "https://oapi.dingtalk.com/robot/sendBySession?session=abc"
    expires_ms = int(clock().timestamp() * 1000) + 60_000
    with respx.mock(assert_all_called=True) as oapi:
        route = oapi.post(webhook).respond(json={"errcode": 0, "errmsg": "ok"})
        body = {"msgtype": "text", "text": {"content": "hi"}}
        sent = await vt.run(asyncio.gather(
            *(client.reply_session(webhook, expires_ms, body) for _ in range(40))
        ))
    assert sent == [True] * 40 and route.call_count == 40
    assert vt.sleeps == [] and vt.now == 0.0
    assert json.loads(route.calls[0].request.content) == body


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
async def test_two_replicas_share_the_twenty_calls_a_second(
    session_factory: SessionFactory,
) -> None:
    # Each replica's own limiter allows a burst of 20; only the shared window keeps the two
    # together at DingTalk's 20 per second per API. Real time: the test waits about 1 s.
    # What is checked is the time each send was counted at (the stamps the replicas write):
    # when a request then reaches the network depends on the event loop of a busy machine,
    # which no window can promise to a few milliseconds.
    def real_clock() -> datetime:
        return datetime.now(UTC)

    counted: dict[str, list[float]] = {}
    sent: list[float] = []

    class CountingWindow:
        """The shared database window, noting the time each granted send was counted at."""

        async def try_acquire(self, key: str, limits: Any) -> float | None:
            reads: list[datetime] = []

            def clock() -> datetime:
                reads.append(datetime.now(UTC))
                return reads[-1]

            wait = await DatabaseSendWindow(session_factory, clock).try_acquire(key, limits)
            if wait is None:  # the last clock read, once the key's lock was held, is the stamp
                counted.setdefault(key, []).append(reads[-1].timestamp())
            return wait

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return httpx.Response(200, json={"processQueryKey": "k"})

    config = DingTalkConfig(app_key="k", app_secret="s", robot_code="r", api_base=API,
                            card_template_id="tpl")
    with respx.mock(base_url=API, assert_all_called=False) as router:
        token = {"accessToken": "t", "expireIn": 7200}
        router.post("/v1.0/oauth2/accessToken").respond(json=token)
        router.post(BATCH).mock(side_effect=record)
        async with httpx.AsyncClient() as http:
            replicas = [DingTalkClient(config, http, real_clock, window=CountingWindow())
                        for _ in range(2)]
            await asyncio.gather(*(
                replicas[n % 2].batch_send([f"u{n}"], "sampleText", {"content": "x"})
                for n in range(30)
            ))
    batch_sends = counted.pop(f"dingtalk:api:{BATCH}")
    assert len(sent) == 30 and len(batch_sends) == 30
    assert most_in_any_window(sorted(batch_sends), 1.0) <= 20
    # The ten beyond the first twenty waited for the window: the sends span over a second.
    assert max(batch_sends) - min(batch_sends) >= 1.0
    # Each replica fetched its own token once, counted under the token API, not batchSend.
    assert {key: len(times) for key, times in counted.items()} == {f"dingtalk:api:{TOKEN_PATH}": 2}
