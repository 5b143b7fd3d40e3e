"""`hrbot directory sync|roles` against the sandbox's fake platforms: what an admin reads,
and that a dry run, a refused sync and an unreachable platform write nothing."""

from __future__ import annotations

import argparse
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.cli.commands import _parser
from bot.cli.directory import run_directory
from bot.config.schema import Config, DingTalkConfig, WeComConfig
from sandbox import start_sandbox
from storage.db import SessionFactory, session_scope
from storage.repo.people import list_people
from tests._support.clock import FakeClock
from tests.sandbox.conftest import (
    AES_KEY,
    AGENT_ID,
    APP_KEY,
    APP_SECRET,
    CORP_ID,
    TOKEN,
    WECOM_SECRET,
    settings_for,
)


def config_for(url: str) -> Config:
    return Config(
        dingtalk=DingTalkConfig(app_key=APP_KEY, app_secret=APP_SECRET, robot_code="r",
                                card_template_id="t", api_base=url, oapi_base=url),
        wecom=WeComConfig(corp_id=CORP_ID, agent_id=AGENT_ID, secret=WECOM_SECRET, token=TOKEN,
                          encoding_aes_key=AES_KEY, api_base=url),
    )


@pytest.fixture
async def url() -> AsyncIterator[str]:
    runner, base = await start_sandbox(settings_for())
    yield base
    await runner.cleanup()


async def run(factory: SessionFactory, config: Config, clock: FakeClock, *argv: str
              ) -> tuple[int, str]:
    args = _parser().parse_args(["directory", *argv])
    out = io.StringIO()
    code = await run_directory(factory, config, args, out, clock=clock)
    return code, out.getvalue()


async def snapshot(factory: SessionFactory) -> list[tuple[object, ...]]:
    async with session_scope(factory) as session:
        return [(p.employee_no, p.org_path, tuple(p.roles), p.lead_id, p.active, p.mobile_hash)
                for p in await list_people(session=session)]


async def test_roles_prints_who_gets_which_role_and_why(
    demo: SessionFactory, url: str, clock: FakeClock
) -> None:
    code, text = await run(demo, config_for(url), clock, "roles")

    assert code == 0
    lines = text.split("王总 (E001, 总部)\n", 1)[1].splitlines()
    block = lines[: next(i for i, line in enumerate(lines) if not line.startswith("  "))]
    assert block == ["  leader: leaders", "  referrer: everyone", "  kept as set by hand: hr_lead"]


async def test_dry_run_prints_the_diff_and_writes_nothing_then_sync_applies_it(
    demo: SessionFactory, url: str, clock: FakeClock
) -> None:
    before = await snapshot(demo)
    code, text = await run(demo, config_for(url), clock, "sync", "--dry-run")

    assert code == 0 and await snapshot(demo) == before
    assert "dingtalk: 13 API calls" in text and "wecom: 18 API calls" in text
    assert "~ 李HR (E011, 总部/华东): mobile_hash, roles ['hr'] → ['hr', 'referrer']\n" in text
    assert "dry run: 10 to write, 0 leavers; nothing written" in text
    assert "1380" not in text and "139" not in text  # no mobile numbers printed

    code, text = await run(demo, config_for(url), clock, "sync", "--platform", "wecom")
    assert code == 0 and "synced: 0 created, 10 updated, 0 deactivated" in text
    assert "dingtalk:" not in text
    assert await snapshot(demo) != before


async def test_an_unreachable_platform_changes_nothing(demo: SessionFactory, clock: FakeClock
                                                       ) -> None:
    before = await snapshot(demo)
    code, text = await run(demo, config_for("http://127.0.0.1:9"), clock, "sync")

    assert code == 2 and "nothing changed" in text
    assert await snapshot(demo) == before


async def test_no_platform_configured(demo: SessionFactory, clock: FakeClock) -> None:
    code, text = await run(demo, Config(), clock, "sync")
    assert code == 2 and "no platform configured" in text


def test_the_command_line_knows_the_options() -> None:
    args = _parser().parse_args(["directory", "sync", "--platform", "dingtalk", "--force"])
    assert (args.directory, args.platform, args.force, args.dry_run) == (
        "sync", "dingtalk", True, False)
    with pytest.raises(SystemExit):
        _parser().parse_args(["directory", "sync", "--platform", "slack"])
    assert isinstance(args, argparse.Namespace)


async def fault(url: str, **body: object) -> None:
    async with httpx.AsyncClient() as http:
        if body:
            response = await http.post(f"{url}/sandbox/api/faults", json=body)
            assert response.status_code == 201, response.text
        else:
            await http.delete(f"{url}/sandbox/api/faults")


async def test_a_platform_failing_mid_read_changes_nothing_and_throttling_is_waited_out(
    demo: SessionFactory, url: str, clock: FakeClock
) -> None:
    before = await snapshot(demo)
    # WeCom is busy for good on user/get, after DingTalk and half the WeCom read went fine.
    await fault(url, path="/cgi-bin/user/get", kind="busy", count=None)
    code, text = await run(demo, config_for(url), clock, "sync")

    assert code == 2 and "reading the platforms failed, nothing changed" in text
    assert await snapshot(demo) == before

    await fault(url)  # cleared
    await fault(url, path="/topapi/v2/user/list", kind="throttle", count=2)
    code, text = await run(demo, config_for(url), clock, "sync")
    assert code == 0 and "synced: 0 created, 10 updated" in text
