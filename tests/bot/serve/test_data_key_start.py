"""A malformed or missing-but-required HRBOT_DATA_KEY stops every command at start, in one
line naming the variable and the expected form (never inside the first referral's handler)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from bot.cli.commands import main
from bot.config.schema import ConfigError, load_config

GOOD = base64.b64encode(b"k" * 32).decode()
BAD_KEYS = {
    "not base64": "not-a-key!",
    "short": base64.b64encode(b"short").decode(),
    "repeated id": f"a:{GOOD},a:{GOOD}",
}


@pytest.mark.parametrize("raw", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_malformed_key_is_refused_by_the_loader(raw: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, env={"HRBOT_DATA_KEY": raw})
    line = str(caught.value)
    assert line.startswith("config error: HRBOT_DATA_KEY: ") and "\n" not in line
    assert "base64 32-byte key" in line and raw not in line  # the form, never the value


def test_required_key_missing_is_refused() -> None:
    env = {"HRBOT_DATABASE_REQUIRE_DATA_KEY": "true"}
    with pytest.raises(ConfigError, match="HRBOT_DATA_KEY: not set"):
        load_config(None, env=env)
    assert load_config(None, env={**env, "HRBOT_DATA_KEY": GOOD}).database.require_data_key


@pytest.mark.parametrize("argv", [["serve"], ["serve", "--sandbox"], ["shell"], ["db", "upgrade"],
                                  ["gdpr", "rekey"], ["config"]])
def test_every_command_stops_at_start(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = tmp_path / "never.db"
    monkeypatch.setenv("HRBOT_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("HRBOT_DATA_KEY", "k1:tooshort")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("config error: HRBOT_DATA_KEY: ")
    assert not database.exists()  # nothing was opened or migrated
