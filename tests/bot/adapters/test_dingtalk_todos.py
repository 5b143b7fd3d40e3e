"""DingTalk to-dos through the messenger: created once per source id, completed by id, and a
close that comes before its create waits for it instead of being lost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx

from bot.adapters.dingtalk.assemble import assemble
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.dingtalk.todos import DingTalkTodos
from bot.config.schema import DingTalkConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.serve.stores import DatabaseStores
from cards.models import Card
from storage.db import SessionFactory
from storage.repo.cards import get_card_instance
from tests._support.clock import FakeClock

API = "https://api.dingtalk.com"
TASKS = "/v1.0/todo/users/un_li/tasks"
URL = "https://hr.example.com/todo"
Api = tuple[DingTalkMessenger, respx.MockRouter]


@pytest.fixture
async def api(clock: FakeClock, session_factory: SessionFactory) -> AsyncIterator[Api]:
    config = DingTalkConfig(app_key="key", app_secret="secret", robot_code="robot",
                            card_template_id="tpl")
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.post("/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        router.post(TASKS).respond(json={"id": "task-1", "subject": "x"})
        router.put(f"{TASKS}/task-1").respond(json={"result": True})
        async with httpx.AsyncClient() as http:
            client = DingTalkClient(config, http, clock)
            todos = DingTalkTodos(client, DatabaseStores(session_factory), URL)
            yield DingTalkMessenger(client, "tpl", "robot", todos=todos), router


def task(kind: str, key: str = "todo-7-21", title: str = "推荐审核 · 张三 · 店长"
         ) -> OutboundMessage:
    return OutboundMessage(outbox_id=1, idempotency_key=f"k-{kind}", platform="dingtalk",
                           target_kind="task_owner", target="un_li", group=False, kind=kind,
                           card=Card(title=title, body="推荐人：张经理；编号 #7", key=key))


def calls(router: respx.MockRouter, method: str) -> list[httpx.Request]:
    return [c.request for c in router.calls
            if c.request.method == method and c.request.url.path.startswith(TASKS)]


def body(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


async def test_open_creates_one_todo_with_source_id_and_detail_url(
    api: Api, session_factory: SessionFactory
) -> None:
    messenger, router = api
    await messenger.deliver(task("task_open"))
    [created] = calls(router, "POST")
    sent = body(created)
    assert sent["sourceId"] == "todo-7-21"
    assert sent["subject"] == "推荐审核 · 张三 · 店长"
    assert sent["detailUrl"] == {"appUrl": URL, "pcUrl": URL}
    assert sent["executorIds"] == ["un_li"]
    assert created.url.params["operatorId"] == "un_li"
    async with session_factory() as session:
        row = await get_card_instance(session=session, card_key="todo-7-21",
                                      platform="dingtalk", recipient="un_li")
    assert row is not None and row.platform_ref == "task-1"
    # The outbox resends after a lost answer: no second to-do.
    await messenger.deliver(task("task_open"))
    assert len(calls(router, "POST")) == 1


async def test_done_completes_the_stored_todo(api: Api) -> None:
    messenger, router = api
    await messenger.deliver(task("task_open"))
    await messenger.deliver(task("task_done"))
    [put] = calls(router, "PUT")
    assert put.url.path == f"{TASKS}/task-1"
    assert body(put) == {"done": True}
    assert put.url.params["operatorId"] == "un_li"
    assert not calls(router, "GET")


async def test_done_finds_the_id_by_source_when_it_was_not_saved(api: Api) -> None:
    messenger, router = api
    lookup = router.get(f"{TASKS}/sources/todo-9-40").respond(json={"id": "task-1"})
    await messenger.deliver(task("task_done", key="todo-9-40"))
    assert lookup.called
    assert [r.url.path for r in calls(router, "PUT")] == [f"{TASKS}/task-1"]


async def test_done_before_its_todo_exists_is_retried_not_dropped(api: Api) -> None:
    messenger, router = api
    router.get(f"{TASKS}/sources/todo-9-41").respond(
        404, json={"code": "todo.task.notFound", "message": "not found"})
    with pytest.raises(TransientDeliveryError, match="not created yet"):
        await messenger.deliver(task("task_done", key="todo-9-41"))
    assert not calls(router, "PUT")


async def test_throttled_create_is_retried_later(api: Api) -> None:
    messenger, router = api
    router.post(TASKS).respond(
        403, json={"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", "message": "qps"})
    with pytest.raises(TransientDeliveryError):
        await messenger.deliver(task("task_open"))


async def test_without_a_detail_url_the_todo_fails_with_a_clear_error(
    clock: FakeClock, session_factory: SessionFactory
) -> None:
    config = DingTalkConfig(app_key="key", app_secret="secret", robot_code="robot",
                            card_template_id="tpl")
    async with httpx.AsyncClient() as http:
        client = DingTalkClient(config, http, clock)
        messenger = DingTalkMessenger(
            client, "tpl", "robot",
            todos=DingTalkTodos(client, DatabaseStores(session_factory), ""))
        with pytest.raises(PlatformError, match="todo_url"):
            await messenger.deliver(task("task_open"))
        bare = DingTalkMessenger(client, "tpl", "robot")
        with pytest.raises(PlatformError, match="not set up"):
            await bare.deliver(task("task_open"))


async def test_assembly_wires_todos_and_the_quota_meter_from_config(
    clock: FakeClock, session_factory: SessionFactory
) -> None:
    base = DingTalkConfig(app_key="key", app_secret="secret", robot_code="robot",
                          card_template_id="tpl")

    async def sink(event: object) -> None:
        return None

    async with httpx.AsyncClient() as http:
        full = assemble(replace(base, todo_url=URL), sink=sink, http=http, clock=clock,
                        stores=DatabaseStores(session_factory))
        assert full.messenger.todos is not None and full.messenger.todos.detail_url == URL
        assert full.client.meter is not None
        off = assemble(replace(base, monthly_quota=0), sink=sink, http=http, clock=clock,
                       stores=DatabaseStores(session_factory))
        assert off.messenger.todos is None and off.client.meter is None
