"""`hrbot doctor` against the sandbox's fake DingTalk and WeCom, each failure injected the way
the real platform answers it: wrong secret, missing permission (HTTP 403
Forbidden.AccessDenied.AccessTokenPermissionDenied with requiredScopes, as in
https://github.com/casdoor/casdoor/pull/4469), unknown card template
(param.templateNotExist, create-and-deliver-cards), untrusted IP (WeCom errcode 60020,
https://developer.work.weixin.qq.com/document/path/90313), an old database schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.adapters.wecom.adapter import WeComAdapter
from bot.cli.doctor import diagnose, doctor, render
from bot.cli.doctor_dingtalk import Check
from bot.cli.doctor_table import DINGTALK_PERMISSIONS, guide
from bot.config.schema import Config, DatabaseConfig, DingTalkConfig, WeComConfig
from storage.migrate import upgrade_database
from tests.sandbox.conftest import (
    AES_KEY,
    AGENT_ID,
    APP_KEY,
    APP_SECRET,
    CORP_ID,
    ROBOT,
    TOKEN,
    WECOM_SECRET,
    Sandbox,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "setup.md"


@pytest.fixture
async def config(sandbox: Sandbox, tmp_path: Path) -> Config:
    url = f"sqlite+aiosqlite:///{tmp_path / 'doctor.db'}"
    await upgrade_database(url)
    return Config(
        database=DatabaseConfig(url=url),
        dingtalk=DingTalkConfig(app_key=APP_KEY, app_secret=APP_SECRET, robot_code=ROBOT,
                                api_base=sandbox.url, oapi_base=sandbox.url),
        wecom=WeComConfig(corp_id=CORP_ID, agent_id=AGENT_ID, secret=WECOM_SECRET,
                          token=TOKEN, encoding_aes_key=AES_KEY, api_base=sandbox.url),
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_a_good_configuration_passes_every_check(config: Config, http: httpx.AsyncClient,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    checks = await diagnose(config, http)
    assert all(c.ok for c in checks), render(checks)
    names = [c.name for c in checks]
    for wanted in ("dingtalk token", "dingtalk permission qyapi_robot_sendmsg",
                   "dingtalk permission Card.Instance.Write", "dingtalk card template",
                   "dingtalk stream", "clock", "wecom token", "wecom app", "database schema",
                   "outbox", "due items"):
        assert wanted in names
    assert "Todo.Todo.Write" not in " ".join(names)  # to-dos are off: not asked for
    assert by_name(checks)["wecom app"].detail.startswith("hrbot: visible to ")
    for line in render(checks).splitlines():
        assert line.startswith("✔ ")
        assert APP_SECRET not in line and WECOM_SECRET not in line


async def test_a_wrong_secret_says_where_to_copy_it_and_exits_1(
    config: Config, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = replace(config, dingtalk=replace(config.dingtalk, app_secret="wrong"),
                  wecom=replace(config.wecom, secret="wrong"))
    lines: list[str] = []
    assert await doctor(bad, print_=lines.append) == 1
    output = lines[0]
    assert "✘ dingtalk token: DingTalk refused AppKey/AppSecret" in output
    assert "凭证与基础信息" in output
    assert "✘ wecom token: errcode 40001" in output and "应用管理" in output
    assert "wrong" not in output.replace("wrong:", "")  # the secret itself is not echoed


async def test_a_missing_permission_is_named_with_where_to_enable_it(
    config: Config, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    await sandbox.api("POST", "faults", {
        "path": "/v1.0/robot/oToMessages/batchSend", "kind": "custom", "status": 403,
        "body": {"code": "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                 "requestid": "r1", "message": "没有调用该接口的权限",
                 "accessdenieddetail": {"requiredScopes": ["qyapi_robot_sendmsg"]}}})
    check = by_name(await diagnose(config, http))["dingtalk permission qyapi_robot_sendmsg"]
    assert not check.ok
    assert "权限管理" in check.detail and "qyapi_robot_sendmsg" in check.detail
    assert "企业内机器人发送消息权限" in check.detail


async def test_an_unknown_card_template_is_refused_and_the_default_named(
    config: Config, http: httpx.AsyncClient
) -> None:
    own = replace(config, dingtalk=replace(config.dingtalk, card_template_id="nope.schema"))
    check = by_name(await diagnose(own, http))["dingtalk card template"]
    assert not check.ok and "param.templateNotExist" in check.detail
    assert 'card_template_id = ""' in check.detail
    exists = replace(config, dingtalk=replace(config.dingtalk, card_template_id="tpl.schema"))
    assert by_name(await diagnose(exists, http))["dingtalk card template"].ok


async def test_an_untrusted_ip_names_the_allowlist(
    config: Config, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    await sandbox.api("POST", "faults", {
        "path": "/cgi-bin/gettoken", "kind": "custom", "status": 200,
        "body": {"errcode": 60020, "errmsg": "not allow to access from your ip, from ip: "
                 "203.0.113.7"}})
    check = by_name(await diagnose(config, http))["wecom token"]
    assert not check.ok and "60020" in check.detail and "企业可信IP" in check.detail
    assert "203.0.113.7" in check.detail


async def test_an_old_schema_and_placeholders_are_reported(
    config: Config, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    stale = replace(config, database=DatabaseConfig(url=empty),
                    dingtalk=replace(config.dingtalk, app_key="dingPLACEHOLDERappkey"))
    checks = by_name(await diagnose(stale, http))
    assert not checks["dingtalk.app_key"].ok and "HRBOT_DINGTALK_APP_KEY" in \
        checks["dingtalk.app_key"].detail
    assert "dingtalk token" not in checks  # nothing is tried with a placeholder
    assert not checks["database schema"].ok and "hrbot db upgrade" in \
        checks["database schema"].detail


async def test_the_wecom_callback_url_check_is_made_like_wecom_makes_it(
    config: Config, http: httpx.AsyncClient
) -> None:
    assert config.wecom is not None
    adapter = WeComAdapter(config.wecom)
    app = web.Application()

    async def route(request: web.Request) -> web.Response:
        from bot.adapters.base import RawRequest

        inbound = await adapter.handle_http(RawRequest(
            method=request.method, path=request.path, query_string=request.query_string,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.read()))
        return web.Response(status=inbound.response.status, body=inbound.response.body)

    app.router.add_route("*", config.wecom.callback_path, route)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        base = f"http://127.0.0.1:{server.port}"
        good = replace(config, wecom=replace(config.wecom, public_url=base))
        assert by_name(await diagnose(good, http))["wecom callback"].ok
        wrong_token = replace(good, wecom=replace(good.wecom, token="otherToken"))
        check = by_name(await diagnose(wrong_token, http))["wecom callback"]
        assert not check.ok and "token, encoding_aes_key and corp_id" in check.detail
    finally:
        await server.close()


def test_the_setup_guide_is_the_table_doctor_checks() -> None:
    text = guide()
    for permission in DINGTALK_PERMISSIONS:
        assert f"`{permission.scope}`" in text and permission.name in text
    assert DOCS.read_text(encoding="utf-8") == text, "run: hrbot doctor --guide > docs/setup.md"


def test_hrbot_doctor_command_prints_the_guide_and_fails_without_platforms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.commands import main

    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "x.db"}"\n',
                      encoding="utf-8")
    assert main(["--config", str(config), "doctor", "--guide"]) == 0
    assert capsys.readouterr().out == guide()
    assert main(["--config", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("✘ platforms: neither [dingtalk] nor [wecom] is configured")
    assert "✘ database schema" in out and "hrbot db upgrade" in out


async def test_people_the_platforms_do_not_know_are_named(
    config: Config, http: httpx.AsyncClient
) -> None:
    from bot.cli.demo import seed_demo
    from storage.db import make_engine, make_session_factory, session_scope
    from storage.models import Person

    engine = make_engine(config.database.url)
    factory = make_session_factory(engine)
    try:
        people, _ = await seed_demo(factory)
        assert people.ok
        checks = by_name(await diagnose(config, http))
        assert checks["dingtalk directory"].ok, checks["dingtalk directory"].detail
        assert checks["wecom directory"].ok, checks["wecom directory"].detail
        async with session_scope(factory) as session:
            session.add(Person(employee_no="E900", name="王新", org_path="总部",
                               dingtalk_user_id="dt_gone", wecom_userid="WangXin"))
        checks = by_name(await diagnose(config, http))
    finally:
        await engine.dispose()
    dingtalk, wecom = checks["dingtalk directory"], checks["wecom directory"]
    assert not dingtalk.ok and "1 of" in dingtalk.detail
    assert "E900 王新 (dt_gone)" in dingtalk.detail
    assert "hrbot import directory" in dingtalk.detail
    assert not wecom.ok and "E900 王新 (WangXin)" in wecom.detail and "可见范围" in wecom.detail


async def test_http_mode_registers_card_callbacks_and_names_a_missing_public_url(
    config: Config, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    from bot.adapters.dingtalk.card_callbacks import card_route_key

    assert config.dingtalk is not None
    http_mode = replace(config, dingtalk=replace(
        config.dingtalk, mode="http", public_url="https://hr.example.com"))
    checks = by_name(await diagnose(http_mode, http))
    assert checks["dingtalk card callbacks"].ok and "dingtalk stream" not in checks
    route = sandbox.world.card_callbacks[card_route_key(APP_KEY)]
    assert route["callbackUrl"] == "https://hr.example.com/dingtalk/callback/card"
    no_url = replace(config, dingtalk=replace(config.dingtalk, mode="http"))
    check = by_name(await diagnose(no_url, http))["dingtalk.public_url"]
    assert not check.ok and "https address DingTalk reaches" in check.detail
