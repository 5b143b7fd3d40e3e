"""The `[recall]` configuration: cadence days, the minimum gap, the template directory and
the news a deployment declares, from the file or the environment, and what handlers see."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.schema import ConfigError, RecallConfig, load_config
from bot.config.settings import settings_from_config
from tests._support.paths import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_thirty_ninety_and_one_eighty_days() -> None:
    config = load_config(EXAMPLE, env={})
    assert config.recall == RecallConfig()
    assert (config.recall.cadence_days, config.recall.min_days_between) == ((30, 90, 180), 30)
    settings = settings_from_config(config)
    assert (settings.recall_cadence_days, settings.recall_min_days_between,
            settings.recall_templates_dir, settings.recall_news) == ((30, 90, 180), 30, "", {})


def test_file_values_reach_the_handlers(tmp_path: Path) -> None:
    path = write(tmp_path, """
[recall]
cadence_days = [180, 45]
min_days_between = 60
templates_dir = "/etc/hrbot/recall"
news = { team = ["三位资深导师加入"], any = ["新店开业"] }
""")
    settings = settings_from_config(load_config(path, env={}))
    assert settings.recall_cadence_days == (45, 180)
    assert settings.recall_min_days_between == 60
    assert settings.recall_templates_dir == "/etc/hrbot/recall"
    assert settings.recall_news == {"team": ("三位资深导师加入",), "any": ("新店开业",)}


def test_env_overrides_use_plain_text_and_json() -> None:
    config = load_config(EXAMPLE, env={
        "HRBOT_RECALL_CADENCE_DAYS": "30, 120",
        "HRBOT_RECALL_NEWS": '{"salary": ["薪资带宽上调 15%"]}',
    })
    assert config.recall.cadence_days == (30, 120)
    assert config.recall.news == {"salary": ("薪资带宽上调 15%",)}


@pytest.mark.parametrize(("text", "expected"), [
    ("cadence_days = [0, 90]", "recall.cadence_days: must be a list of days > 0"),
    ("cadence_days = [30, 30]", "recall.cadence_days: must not repeat a day"),
    ("cadence_days = []", "recall.cadence_days: must be a list of days > 0"),
    ("min_days_between = 0", "recall.min_days_between: must be at least 1"),
    ("news = { teem = [\"x\"] }", 'recall.news: unknown category "teem"'),
    ("news = { team = \"x\" }", "recall.news: team must be a list of non-empty strings"),
    ("news = [\"x\"]", "recall.news: must be a table of lists (got array)"),
])
def test_bad_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"[recall]\n{text}\n"), env={})
    assert str(err.value).startswith(f"config error: {expected}")


def test_bad_json_from_env_is_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(EXAMPLE, env={"HRBOT_RECALL_NEWS": "{team: x}"})
    assert "HRBOT_RECALL_NEWS" in str(err.value) and "\n" not in str(err.value)
