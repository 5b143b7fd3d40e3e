"""The contact reads of both platforms with respx: paging, leaders, partial pages, errors
mid-read, throttling retried, members gone between the list and the read, and pacing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from bot.adapters.dingtalk import contacts as dt
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.wecom import contacts as wx
from bot.adapters.wecom.client import WeComClient
from bot.config.schema import DingTalkConfig, WeComConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError
from tests._support.clock import FakeClock

API, OAPI, QY = "https://api.dingtalk.com", "https://oapi.dingtalk.com", "https://qyapi.weixin.qq.com"
AES_KEY = "c2FuZGJveC1hZXMta2V5LWZvci13ZWNvbS10ZXN0czA"


async def no_sleep(seconds: float) -> None:
    SLEPT.append(seconds)


SLEPT: list[float] = []


# Shapes from https://open.dingtalk.com/document/orgapp/query-department-details0-v2 and
# https://open.dingtalk.com/document/orgapp/obtain-the-department-list-v2
def dt_dept(dept_id: int, name: str, parent: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {"dept_id": dept_id, "name": name, "auto_add_user": True,
                           "create_dept_group": True}
    if parent is not None:
        row["parent_id"] = parent
    return row


# https://open.dingtalk.com/document/orgapp/queries-the-complete-information-of-a-department-user
def dt_user(userid: str, dept: int, *, leader: bool = False) -> dict[str, Any]:
    return {"userid": userid, "unionid": f"un_{userid}", "name": userid.upper(),
            "mobile": "13800000000", "job_number": f"E_{userid}", "title": "店长",
            "dept_id_list": [dept], "leader": leader, "active": True, "admin": False,
            "boss": False, "hide_mobile": False}


def ok(result: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", "result": result, "request_id": "r"}


@pytest.fixture
async def dingtalk(clock: FakeClock) -> AsyncIterator[tuple[DingTalkClient, respx.MockRouter]]:
    config = DingTalkConfig(app_key="k", app_secret="s", robot_code="r", card_template_id="t")
    SLEPT.clear()
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{API}/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        async with httpx.AsyncClient() as http:
            yield DingTalkClient(config, http, clock), router


def dt_routes(router: respx.MockRouter, users: dict[int, list[Any]]) -> None:
    router.post(f"{OAPI}{dt.DEPT_GET}").respond(json=ok(dt_dept(1, "总部", None)))

    def listsub(request: httpx.Request) -> httpx.Response:
        dept = json.loads(request.content)["dept_id"]
        children = {1: [dt_dept(2, "华东", 1)], 2: [dt_dept(3, "上海一店", 2)]}.get(dept, [])
        return httpx.Response(200, json=ok(children))

    def user_list(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        pages = users.get(body["dept_id"], [ok({"has_more": False, "list": []})])
        answer = pages[min(body["cursor"] // 100, len(pages) - 1)]
        return httpx.Response(200, json=answer) if isinstance(answer, dict) else answer

    router.post(f"{OAPI}{dt.DEPT_LISTSUB}").mock(side_effect=listsub)
    router.post(f"{OAPI}{dt.USER_LIST}").mock(side_effect=user_list)


async def test_dingtalk_reads_the_tree_pages_members_and_takes_leaders_from_the_listing(
    dingtalk: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = dingtalk
    store = [dt_user(f"u{n}", 3) for n in range(100)]
    dt_routes(router, {
        2: [ok({"has_more": False, "list": [dt_user("zhao", 2, leader=True)]})],
        3: [ok({"has_more": True, "next_cursor": 100, "list": store}),
            ok({"has_more": False, "list": [dt_user("last", 3)]})],
    })

    org = await dt.fetch_org(client, sleep=no_sleep)

    assert [(u.unit_id, u.name, u.parent_id) for u in org.units] == [
        ("1", "总部", None), ("2", "华东", "1"), ("3", "上海一店", "2")]
    assert len(org.members) == 102
    zhao = next(m for m in org.members if m.user_id == "zhao")
    assert zhao.leads_units == ("2",) and zhao.union_id == "un_zhao" and zhao.employee_no
    assert org.api_calls == {dt.DEPT_GET: 1, dt.DEPT_LISTSUB: 3, dt.USER_LIST: 4}
    cursors = [json.loads(c.request.content)["cursor"] for c in router.calls
               if c.request.url.path == dt.USER_LIST and b'"dept_id":3' in
               c.request.content.replace(b" ", b"")]
    assert cursors == [0, 100]
    assert all(c.request.url.params.get("access_token") == "tok" for c in router.calls
               if c.request.url.host == "oapi.dingtalk.com")


async def test_dingtalk_a_page_that_says_more_without_a_cursor_stops_the_read(
    dingtalk: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = dingtalk
    dt_routes(router, {3: [ok({"has_more": True, "list": [dt_user("a", 3)]})]})
    with pytest.raises(PlatformError, match="cursor"):
        await dt.fetch_org(client, sleep=no_sleep)


async def test_dingtalk_an_error_mid_read_stops_it_and_throttling_is_retried(
    dingtalk: tuple[DingTalkClient, respx.MockRouter],
) -> None:
    client, router = dingtalk
    throttled = httpx.Response(200, json={"errcode": 90018, "errmsg": "qps"})
    dt_routes(router, {2: [throttled], 3: [ok({"has_more": False, "list": []})]})
    with pytest.raises(TransientDeliveryError):
        await dt.fetch_org(client, sleep=no_sleep)
    assert SLEPT == [1.0] * dt.RETRIES  # DingTalk's advice: wait a second, try again

    dt_routes(router, {2: [{"errcode": 60011, "errmsg": "no permission"}]})
    with pytest.raises(PlatformError):
        await dt.fetch_org(client, sleep=no_sleep)


@pytest.fixture
async def wecom(clock: FakeClock) -> AsyncIterator[tuple[WeComClient, respx.MockRouter]]:
    config = WeComConfig(corp_id="ww1", agent_id=1, secret="s", token="t",
                         encoding_aes_key=AES_KEY)
    SLEPT.clear()
    with respx.mock(base_url=QY, assert_all_called=False) as router:
        router.get("/cgi-bin/gettoken").respond(
            json={"errcode": 0, "errmsg": "ok", "access_token": "wxtok", "expires_in": 7200})
        async with httpx.AsyncClient() as http:
            yield WeComClient(config, http, clock), router


# https://developer.work.weixin.qq.com/document/path/90196 (user/get)
def wx_user(userid: str, *, status: int = 1, leader: int = 0, direct: tuple[str, ...] = ()
            ) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", "userid": userid, "name": userid, "department": [2],
            "main_department": 2, "position": "店长", "mobile": "13800000001", "status": status,
            "is_leader_in_dept": [leader], "direct_leader": list(direct),
            "extattr": {"attrs": [{"type": 0, "name": "工号", "text": {"value": f"E_{userid}"}}]}}


def wx_routes(router: respx.MockRouter, users: dict[str, dict[str, Any]]) -> None:
    # https://developer.work.weixin.qq.com/document/path/95350 (department/simplelist)
    router.get("/cgi-bin/department/simplelist").respond(json={
        "errcode": 0, "errmsg": "ok",
        "department_id": [{"id": 1, "parentid": 0, "order": 1}, {"id": 2, "parentid": 1,
                                                                  "order": 2}]})

    # https://developer.work.weixin.qq.com/document/path/95351 (department/get)
    def dept(request: httpx.Request) -> httpx.Response:
        i = int(request.url.params["id"])
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "department": {
            "id": i, "name": {1: "总部", 2: "华东"}[i], "parentid": 0 if i == 1 else 1,
            "department_leader": ["boss"] if i == 1 else []}})

    # https://developer.work.weixin.qq.com/document/path/96067 (user/list_id)
    def list_id(request: httpx.Request) -> httpx.Response:
        cursor = json.loads(request.content).get("cursor", "")
        ids = list(users)
        half = ids[: len(ids) // 2] if not cursor else ids[len(ids) // 2:]
        return httpx.Response(200, json={
            "errcode": 0, "errmsg": "ok", "next_cursor": "" if cursor else "c2",
            "dept_user": [{"userid": u, "department": 2} for u in half]})

    def get(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=users[request.url.params["userid"]])

    router.get("/cgi-bin/department/get").mock(side_effect=dept)
    router.post("/cgi-bin/user/list_id").mock(side_effect=list_id)
    router.get("/cgi-bin/user/get").mock(side_effect=get)


async def test_wecom_reads_departments_pages_ids_and_reads_each_member(
    wecom: tuple[WeComClient, respx.MockRouter],
) -> None:
    client, router = wecom
    wx_routes(router, {
        "boss": wx_user("boss"), "zhang": wx_user("zhang", leader=1, direct=("boss",)),
        "quit": wx_user("quit", status=5),
        "gone": {"errcode": 60111, "errmsg": "userid not found"},
    })

    org = await wx.fetch_org(client, sleep=no_sleep)

    assert [(u.unit_id, u.parent_id, u.leader_ids) for u in org.units] == [
        ("1", None, ("boss",)), ("2", "1", ())]
    members = {m.user_id: m for m in org.members}
    assert set(members) == {"boss", "zhang", "quit"}
    assert members["zhang"].leads_units == ("2",)
    assert members["zhang"].direct_leaders == ("boss",)
    assert members["zhang"].employee_no == "E_zhang" and members["zhang"].title == "店长"
    assert members["quit"].active is False
    assert org.notes == ("member gone was removed while the org was being read",)
    assert org.api_calls[wx.LIST_ID] == 2 and org.api_calls[wx.USER_GET] == 4


async def test_wecom_no_permission_stops_the_read_and_rate_limits_are_retried(
    wecom: tuple[WeComClient, respx.MockRouter],
) -> None:
    client, router = wecom
    wx_routes(router, {"a": {"errcode": 45009, "errmsg": "api freq out of limit"}})
    with pytest.raises(TransientDeliveryError):
        await wx.fetch_org(client, sleep=no_sleep)
    assert SLEPT.count(1.0) == wx.RETRIES

    wx_routes(router, {"a": {"errcode": 48002, "errmsg": "api forbidden"}})
    with pytest.raises(PlatformError):
        await wx.fetch_org(client, sleep=no_sleep)


async def test_wecom_calls_of_one_api_are_spaced_to_the_per_minute_budget(
    wecom: tuple[WeComClient, respx.MockRouter],
) -> None:
    client, router = wecom
    wx_routes(router, {f"u{n}": wx_user(f"u{n}") for n in range(10)})
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    await wx.fetch_org(client, per_minute=600, sleep=sleep, clock=lambda: 0.0)

    # 600 a minute: 0.1 s apart; the clock stands still, so each waits one slot more.
    user_gets = sorted(w for w in waits)[-9:]
    assert user_gets == pytest.approx([0.1 * n for n in range(1, 10)])
