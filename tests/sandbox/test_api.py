"""The JSON API's contract (shapes and errors), the page, the clock and reset."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from sandbox import Group, build_sandbox_app, set_clock_hook
from sandbox.org import default_groups, load_people
from sandbox.wire import SETTINGS
from tests._support.paths import ROOT
from tests.sandbox.conftest import (
    PEOPLE_CSV,
    Sandbox,
    SandboxFactory,
    connect_stream,
    settings_for,
)


async def test_people_and_conversations(sandbox: Sandbox) -> None:
    status, data = await sandbox.api("GET", "people")
    assert status == 200
    zhang = next(p for p in data["people"] if p["id"] == "E020")
    assert zhang == {"id": "E020", "name": "张经理", "org_path": "总部/华东/上海一店",
                     "roles": ["referrer", "hiring_manager"], "dingtalk_user_id": "dt_zhang",
                     "dingtalk_union_id": "un_zhang", "wecom_userid": "zhangjl"}
    names = {g["name"] for g in data["groups"]}
    assert {"总部群", "华东群", "上海一店群", "华南群"} <= names
    assert "杭州店群" not in names  # one person is no group
    _, dt = await sandbox.api("GET", "conversations", person="E020", platform="dingtalk")
    assert [c["kind"] for c in dt["conversations"]] == ["dm", "group", "group", "group"]
    assert dt["conversations"][0] == {"id": "dm", "kind": "dm", "title": "hrbot",
                                      "members": 2, "count": 0, "last": ""}
    # WeCom app messages have the 1:1 chat only; any alias of the person works.
    _, wc = await sandbox.api("GET", "conversations", person="zhangjl", platform="wecom")
    assert [c["id"] for c in wc["conversations"]] == ["dm"]


@pytest.mark.parametrize(("method", "endpoint", "body", "params", "status", "error"), [
    ("GET", "inbox", None, {"person": "E020", "platform": "slack"}, 400, "platform"),
    ("GET", "inbox", None, {"person": "nobody", "platform": "wecom"}, 404, "未知人员"),
    ("GET", "inbox", None, {"platform": "wecom"}, 400, "person"),
    ("POST", "say", {"person": "E020", "platform": "dingtalk"}, {}, 400, "text"),
    ("POST", "say", {"person": "E020", "platform": "dingtalk", "text": "x",
                     "conversation": "cidnope"}, {}, 404, "未知群"),
    ("POST", "say", {"person": "E040", "platform": "dingtalk", "text": "x",
                     "conversation": "SHANGHAI"}, {}, 400, "不是"),
    ("POST", "say", {"person": "E020", "platform": "wecom", "text": "x",
                     "conversation": "SHANGHAI"}, {}, 400, "单聊"),
    ("POST", "tap", {"person": "E020", "platform": "dingtalk", "card_id": "nope",
                     "action": "x"}, {}, 404, "未知卡片"),
    ("POST", "confirm", {"person": "E020", "msgid": "msgnope"}, {}, 404, "群发任务"),
    ("GET", "candidate", None, {"external_userid": "wmnope"}, 404, "未知候选人"),
    ("POST", "clock/advance", {"days": "one"}, {}, 400, "数字"),
    ("POST", "clock/advance", {}, {}, 400, "seconds"),
    ("POST", "faults", {"path": "/x", "kind": "meteor"}, {}, 400, "kind"),
])
async def test_api_errors_say_what_is_wrong(
    sandbox: Sandbox, method: str, endpoint: str, body: object, params: dict[str, str],
    status: int, error: str,
) -> None:
    shanghai = next(g.id for g in sandbox.world.directory.groups if g.name == "上海一店群")
    if isinstance(body, dict) and body.get("conversation") == "SHANGHAI":
        body = {**body, "conversation": shanghai}
    got, data = await sandbox.api(method, endpoint, body, **params)
    assert got == status
    assert error in data["error"]


async def test_bad_json_body_is_a_400(sandbox: Sandbox) -> None:
    async with sandbox.http.post(f"{sandbox.url}/sandbox/api/say", data=b"not json") as resp:
        assert resp.status == 400
        assert "JSON" in (await resp.json())["error"]


async def test_page_renders_with_person_picker_and_chinese_ui(sandbox: Sandbox) -> None:
    async with sandbox.http.get(f"{sandbox.url}/sandbox/") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        html = await resp.text()
    assert 'id="person-picker"' in html and '<option value="E020">张经理' in html
    for text in ("钉钉", "企业微信", "+1 天", "重置", "候选人视图", "@hrbot 推荐"):
        assert text in html
    assert "http://" not in html.replace(sandbox.url, "") and "https://" not in html
    for asset in ("app.js", "app.css"):
        async with sandbox.http.get(f"{sandbox.url}/sandbox/static/{asset}") as resp:
            assert resp.status == 200 and len(await resp.read()) > 1000
    async with sandbox.http.get(f"{sandbox.url}/", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/sandbox/"


async def test_clock_advance_moves_the_clock_and_awaits_the_hook(sandbox: Sandbox) -> None:
    seen: list[tuple[float, float]] = []

    async def hook(delta: float, offset: float) -> None:
        await asyncio.sleep(0)
        seen.append((delta, offset))

    sandbox.settings.on_clock_advance = hook
    _, before = await sandbox.api("GET", "clock")
    status, after = await sandbox.api("POST", "clock/advance", {"days": 1})
    assert status == 200 and after["offset_seconds"] == 86400
    assert after["now_ms"] - before["now_ms"] >= 86_400_000
    _, later = await sandbox.api("POST", "clock/advance", {"hours": 1, "seconds": 30})
    assert later["offset_seconds"] == 86400 + 3630
    assert seen == [(86400, 86400), (3630, 86400 + 3630)]


async def test_failing_clock_hook_is_reported(sandbox: Sandbox) -> None:
    async def hook(delta: float, offset: float) -> None:
        raise RuntimeError("bot clock stuck")

    sandbox.settings.on_clock_advance = hook
    status, data = await sandbox.api("POST", "clock/advance", {"seconds": 5})
    assert status == 500 and "bot clock stuck" in data["error"]


def test_set_clock_hook_registers_on_the_app() -> None:
    app = build_sandbox_app(settings_for())

    async def hook(delta: float, offset: float) -> None:
        return None

    set_clock_hook(app, hook)
    assert app[SETTINGS].on_clock_advance is hook


async def test_reset_clears_the_world_but_keeps_people_clock_and_connections(
    sandbox: Sandbox,
) -> None:
    client = await connect_stream(sandbox)
    await sandbox.api("POST", "faults", {"path": "*", "kind": "busy", "count": None})
    await sandbox.api("POST", "clock/advance", {"days": 2})
    said = asyncio.create_task(sandbox.api("POST", "say", {
        "person": "E020", "platform": "dingtalk", "text": "帮助"}))
    await client.ack(await client.frame())
    await said
    _, before = await sandbox.api("GET", "inbox", person="E020", platform="dingtalk")
    status, _ = await sandbox.api("POST", "reset")
    assert status == 200
    _, inbox = await sandbox.api("GET", "inbox", person="E020", platform="dingtalk")
    assert inbox["messages"] == [] and inbox["revision"] > before["revision"]
    assert (await sandbox.api("GET", "faults"))[1]["faults"] == []
    # The bot's clock moved with the sandbox's and cannot go back: the offset stays.
    assert (await sandbox.api("GET", "clock"))[1]["offset_seconds"] == 2 * 86400
    assert (await sandbox.api("GET", "calls"))[1]["calls"] == []
    assert len((await sandbox.api("GET", "people"))[1]["people"]) == 10
    assert (await sandbox.api("GET", "status"))[1]["dingtalk"]["connected"] is True
    await client.ws.close()


async def test_inbox_since_revision_is_cheap_when_nothing_changed(sandbox: Sandbox) -> None:
    _, first = await sandbox.api("GET", "inbox", person="E020", platform="wecom")
    _, same = await sandbox.api("GET", "inbox", person="E020", platform="wecom",
                                since=str(first["revision"]))
    assert same == {"revision": first["revision"], "changed": False}


async def test_calls_filter_by_path_prefix_platform_and_since(sandbox: Sandbox) -> None:
    await sandbox.dingtalk_token()
    await sandbox.wecom_token()
    _, dingtalk = await sandbox.api("GET", "calls", platform="dingtalk")
    assert [c["path"] for c in dingtalk["calls"]] == ["/v1.0/oauth2/accessToken"]
    _, by_prefix = await sandbox.api("GET", "calls", path="/cgi-bin")
    assert [c["path"] for c in by_prefix["calls"]] == ["/cgi-bin/gettoken"]
    last = by_prefix["calls"][0]["seq"]
    _, newer = await sandbox.api("GET", "calls", since=str(last))
    assert newer["calls"] == []


async def test_launcher_groups_replace_the_default_ones(make_sandbox: SandboxFactory) -> None:
    box = await make_sandbox(groups=[Group("cidhr", "HR 群", ("E002", "E011", "E041"))])
    _, data = await box.api("GET", "people")
    assert data["groups"] == [{"id": "cidhr", "name": "HR 群",
                               "members": ["E002", "E011", "E041"]}]


def test_directory_csv_errors_are_reported(tmp_path: Path) -> None:
    broken = tmp_path / "people.csv"
    broken.write_text("name,org_path\n王总,总部\n", encoding="utf-8")
    with pytest.raises(ValueError, match="employee_no"):
        load_people(broken)
    people = load_people(PEOPLE_CSV)
    assert len(default_groups(people)) == 4


def test_sandbox_imports_nothing_of_the_bot() -> None:
    root = ROOT / "sandbox"
    forbidden = {"bot", "handlers", "cards", "storage"}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
