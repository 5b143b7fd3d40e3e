"""The `hrbot` command line: config errors, imports with bad rows, demo seed, terminal shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import commands as cli
from bot.cli.local_chat import LocalChat
from bot.cli.shell import Shell
from storage.db import SessionFactory
from storage.repo.people import list_people
from tests._support import db


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cli.db"}"\n')
    monkeypatch.delenv("HRBOT_CONFIG", raising=False)
    return path


def test_bad_config_stops_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[dingtalk]\nmode = "ws"\n')
    assert cli.main(["--config", str(path), "db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("config error: dingtalk.") and "\n" not in err


def test_import_directory_keeps_good_rows_and_reports_bad_lines(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "employee_no,name,org_path,roles,lead\n"
        "P1,甲,总部/华东,hr,\n"
        "P2,,总部/华东,referrer,P1\n"  # no name
        "P3,丙,总部/华东/一店,wizard,\n"  # unknown role
        "P4,丁,总部/华东/一店,referrer,P9\n",  # unknown lead: saved, lead reported
        encoding="utf-8",
    )
    assert cli.main(["--config", str(config_file), "import", "directory", str(people)]) == 1
    out = capsys.readouterr()
    assert "directory: 2 created, 0 updated, 3 problems" in out.out
    assert f"{people}:3: name is empty" in out.err
    assert f"{people}:4: unknown roles ['wizard']" in out.err
    assert f"{people}:5: lead 'P9' is not in the directory" in out.err
    # Importing again is idempotent: the same rows are updated, not duplicated.
    assert cli.main(["--config", str(config_file), "import", "directory", str(people)]) == 1
    assert "0 created, 2 updated" in capsys.readouterr().out


def test_import_positions_reports_bad_requirement_with_line(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli.main(["--config", str(config_file), "demo", "seed"]) == 0
    positions = tmp_path / "positions.toml"
    positions.write_text(
        '[[position]]\ncode = "X1"\ntitle = "收银"\norg_path = "总部/华东/上海一店"\n\n'
        '[[position]]\ncode = "X2"\ntitle = "店长"\norg_path = "总部"\n'
        '[[position.requirement]]\nkind = "height"\nlabel = "身高"\n',
        encoding="utf-8",
    )
    capsys.readouterr()
    assert cli.main(["--config", str(config_file), "import", "positions", str(positions)]) == 1
    out = capsys.readouterr()
    assert "1 created" in out.out
    assert f"{positions}:6: X2: requirement 1:" in out.err


async def test_shell_plays_a_referral_as_two_people(demo: SessionFactory) -> None:
    async with demo() as session:
        people = await list_people(session=session)
    chat = LocalChat(session_factory=demo)
    lines: list[str] = []
    me = next(p for p in people if p.name == "张经理")
    shell = Shell(chat, people, me, lines.append)
    script = [
        "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%",
        "/as 李HR",
        "/tap 1",
        "/as 没这个人",
        "/tap 9",
        "/frobnicate",
    ]
    for line in script:
        assert await shell.handle(line)
    assert not await shell.handle("/quit")
    text = "\n".join(lines)
    assert "→ 已发给 李HR：推荐审核 · 张三 · 店长" in text
    assert "HR审核通过 · 李HR" in text  # the tapped card, updated in place
    assert "通讯录里没有 没这个人" in text
    assert "没有可点的按钮" in text
    assert "不认识的命令 /frobnicate" in text
    assert (await db.referral(demo, 1)).state == "leader_approval"
