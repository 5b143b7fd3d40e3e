"""The weekly report (pushed by the clock to HR leads and leaders, at a time HR sets) and
`hrbot report` files (CSV, XLSX, HTML; statistics or the bonus payroll list)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import commands as cli
from bot.cli.local_chat import LocalChat
from bot.core.context import Settings
from handlers.insight.report import report_command
from storage.db import SessionFactory
from tests._support.clock import FakeClock
from tests._support.referrals import act, field_value, submit

REFER = (
    "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%\n"
    "经历: 2019.01-2024.12 万达广场 零售 店长"
)
SZ = "推荐 深圳店长 王五 13700137000 带领门店团队三年零流失"
# The fixture clock is Tuesday 2026-03-03 09:30 in Shanghai; next Monday 09:00 is 01:00 UTC.
MONDAY_9 = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)


def weekly(sent: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted((m.target, m.card.title) for m in sent if m.card.title.startswith("推荐周报"))


async def hire(chat: LocalChat, factory: SessionFactory, rid: int) -> None:
    for who, label in (("E011", "通过"), ("E010", "同意"), ("E011", "发offer"),
                       ("E011", "已入职")):
        await act(chat, factory, rid, who, label)


async def test_weekly_report_reaches_leads_and_leaders_once_for_their_scope(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    await chat.tick()
    rid = await submit(chat, REFER)
    await hire(chat, demo, rid)
    await submit(chat, SZ, by="E050")

    clock.now = MONDAY_9.replace(hour=0, minute=59)
    assert weekly(await chat.tick()) == []
    clock.now = MONDAY_9
    sent = await chat.tick()
    assert weekly(sent) == [
        ("E001", "推荐周报 · 总部"), ("E002", "推荐周报 · 总部"),
        ("E010", "推荐周报 · 总部/华东"), ("E040", "推荐周报 · 总部/华南"),
    ]
    east = next(m.card for m in sent if m.target == "E010")
    assert field_value(east, "本周新推荐") == "1（上周 0）"
    assert field_value(east, "本周入职") == "1（上周 0）"
    assert east.image.startswith("chart:")
    hq = next(m.card for m in sent if m.target == "E001")
    assert field_value(hq, "本周新推荐") == "2（上周 0）"
    clock.advance(hours=2)
    assert weekly(await chat.tick()) == []  # once a week


async def test_weekly_hires_count_by_joining_date_not_referral_date(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    rid = await submit(chat, REFER)
    clock.now = MONDAY_9.replace(day=6)  # the Friday before the report, three days later
    await hire(chat, demo, rid)
    clock.now = MONDAY_9
    [east] = [m.card for m in await chat.tick() if m.target == "E010"
              and m.card.title.startswith("推荐周报")]
    # Referred 6 days before the report (this week) and joined this week.
    assert field_value(east, "本周新推荐") == "1（上周 0）"
    assert field_value(east, "本周入职") == "1（上周 0）"
    clock.now = MONDAY_9.replace(day=16)
    [later] = [m.card for m in await chat.tick() if m.target == "E010"
               and m.card.title.startswith("推荐周报")]
    assert field_value(later, "本周新推荐") == "0（上周 1）"
    assert field_value(later, "本周入职") == "0（上周 1）"


async def test_hr_lead_moves_the_report_and_can_turn_it_off(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    card = (await chat.say("E002", "周报设置 周五 17:00"))[0].card
    assert card.title == "周报设置" and card.status == "周五 17:00"
    assert (await chat.say("E011", "周报设置 周一"))[0].card.title == "没有权限"
    assert (await chat.say("E002", "周报设置 明天"))[0].card.title == "周报设置未改"

    clock.now = MONDAY_9
    assert weekly(await chat.tick()) == []
    clock.now = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)  # Friday 17:00 in Shanghai
    assert len(weekly(await chat.tick())) == 4

    await chat.say("E002", "周报设置 关闭")
    clock.now = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    assert weekly(await chat.tick()) == []
    # On demand it still answers, for the asker's scope.
    [message] = await chat.say("E011", "周报")
    assert message.card.title == "推荐周报 · 总部/华东"


async def test_report_files_in_every_format(
    chat: LocalChat, demo: SessionFactory, tmp_path: Path
) -> None:
    rid = await submit(chat, REFER)
    await hire(chat, demo, rid)
    await submit(chat, SZ, by="E050")
    now = chat.clock()

    async def run(fmt: str, kind: str = "stats", scope: str = "", out: str = "-") -> str:
        buffer = io.StringIO()
        code = await report_command(
            demo, Settings(), kind=kind, fmt=fmt, out=out, scope=scope,
            since=datetime(2026, 1, 1), until=None, now=now, stdout=buffer,
        )
        assert code == 0, buffer.getvalue()
        return buffer.getvalue()

    rows = list(csv.reader(io.StringIO(await run("csv", scope="总部/华东"))))
    assert rows[0] == ["概览"] and rows[1] == ["指标", "数值"]
    summary = {r[0]: r[1] for r in rows[2:10]}
    assert summary["范围"] == "总部/华东" and summary["推荐"] == "1" and summary["入职"] == "1"
    assert summary["时间段"] == "2026-01-01 起"
    assert ["张经理", "1", "1", "100"] in rows

    html = await run("html")
    assert "<h1>推荐统计报表 · 全部</h1>" in html
    assert 'src="data:image/png;base64,iVBOR' in html and "<td>深圳店长</td>" in html

    xlsx = tmp_path / "report.xlsx"
    assert "-> " in await run("xlsx", out=str(xlsx))
    book = load_workbook(xlsx)
    assert book.sheetnames[:3] == ["概览", "各阶段转化", "各环节用时"]
    assert [c.value for c in book["推荐人"][2]] == ["张经理", 1, 1, 100]
    assert len(book["概览"]._images) == 1

    payroll = list(csv.reader(io.StringIO(await run("csv", kind="bonus"))))
    assert payroll[0] == ["推荐奖金发放名单"]
    assert payroll[1][:5] == ["推荐编号", "候选人", "岗位", "门店", "推荐人"]
    assert payroll[2][:6] == [str(rid), "张三", "店长", "总部/华东/上海一店", "张经理", "E020"]
    assert payroll[2][-2] == "试用期中"


def test_cli_report_writes_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("HRBOT_CONFIG", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cli.db"}"\n')
    assert cli.main(["--config", str(config), "demo", "seed"]) == 0
    out = tmp_path / "r.html"
    argv = ["--config", str(config), "report", "--since", "2026-01-01", "--format", "html",
            "--out", str(out)]
    assert cli.main(argv) == 0
    assert "推荐统计报表" in out.read_text(encoding="utf-8")
    assert f"-> {out}" in capsys.readouterr().out
    assert cli.main([*argv[:3], "--since", "yesterday"]) == 2
    assert cli.main([*argv[:3], "--format", "xlsx"]) == 2  # xlsx needs --out
