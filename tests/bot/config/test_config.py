"""Tests for bot.config.schema: file loading, env overrides, validation messages, redaction."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.config.schema import (
    CalendarConfig,
    Config,
    ConfigError,
    DatabaseConfig,
    DingTalkConfig,
    DirectoryConfig,
    LogConfig,
    QuietHoursConfig,
    RecallConfig,
    RetentionConfig,
    SchedulerConfig,
    ServerConfig,
    SlaConfig,
    TimeoutsConfig,
    WeComConfig,
    load_config,
)
from tests._support.paths import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG
SECTIONS = {
    "database": DatabaseConfig, "dingtalk": DingTalkConfig, "wecom": WeComConfig,
    "sla": SlaConfig, "quiet_hours": QuietHoursConfig, "retention": RetentionConfig,
    "scheduler": SchedulerConfig, "server": ServerConfig, "recall": RecallConfig,
    "calendar": CalendarConfig, "timeouts": TimeoutsConfig, "log": LogConfig,
    "directory": DirectoryConfig,
}
AES_KEY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN012"  # 43 valid characters

WECOM = f"""
[wecom]
corp_id = "ww123"
agent_id = 1000002
secret = "wecom-secret-value"
token = "wecom-token-value"
encoding_aes_key = "{AES_KEY}"
"""

DINGTALK = """
[dingtalk]
app_key = "dingkey"
app_secret = "ding-secret-value"
robot_code = "dingrobot"
card_template_id = "tpl.schema"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    """Load ``text`` expecting failure; return the message, checked to be one line."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env=env or {})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("config error: ")
    return message


# --- files and defaults -------------------------------------------------------------------


def test_missing_default_file_means_all_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.toml here
    config = load_config(env={})
    assert config == Config()
    assert config.database.url == "sqlite+aiosqlite:///hrbot.db"
    assert config.database.echo is False
    assert (config.locale, config.timezone) == ("zh", "Asia/Shanghai")
    assert config.dingtalk is None and config.wecom is None
    assert config.platforms() == []
    assert config.sla.hr_review == timedelta(hours=24)
    assert config.sla.needs_info == timedelta(hours=48)
    assert config.sla.leader_approval == timedelta(hours=72)
    assert config.sla.feedback == timedelta(hours=4)
    assert config.sla.reminder_fractions == (0.5, 1.0)
    assert config.sla.escalate_after == timedelta(0)
    assert config.quiet_hours.start == time(21, 0)
    assert config.quiet_hours.end == time(8, 30)
    assert config.quiet_hours.weekends is True
    assert config.retention.days == 730
    assert (config.scheduler.sweep_seconds, config.scheduler.claim_seconds) == (5, 60)
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.server.max_body_bytes == 1_048_576


def test_default_file_in_working_directory_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, 'locale = "en"\n')
    assert load_config(env={}).locale == "en"


def test_missing_explicit_file_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing, env={})
    assert str(info.value) == f"config error: file not found: {missing}"


def test_hrbot_config_env_names_the_file_and_must_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text("[server]\nport = 9999\n", encoding="utf-8")
    assert load_config(env={"HRBOT_CONFIG": str(other)}).server.port == 9999
    with pytest.raises(ConfigError, match="file not found"):
        load_config(env={"HRBOT_CONFIG": str(tmp_path / "gone.toml")})


def test_example_file_loads_and_documents_the_defaults():
    config = load_config(EXAMPLE, env={})
    # Platforms ship disabled and every other value equals the built-in default.
    assert config == Config()


def test_example_platform_placeholders_are_well_formed_when_enabled():
    config = load_config(EXAMPLE, env={"HRBOT_DINGTALK_ENABLED": "true",
                                       "HRBOT_WECOM_ENABLED": "true"})
    assert config.platforms() == ["dingtalk", "wecom"]
    assert config.wecom is not None and len(config.wecom.encoding_aes_key) == 43


def test_example_file_lists_and_comments_every_key():
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    expected = {"locale", "timezone"}
    for name, cls in SECTIONS.items():
        expected |= {f"{name}.{f.name}" for f in fields(cls)}
    present = {key for key, value in data.items() if not isinstance(value, dict)}
    present |= {f"{name}.{key}" for name, table in data.items() if isinstance(table, dict)
                for key in table}
    assert present == expected
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if re.match(r"\w+ = ", line):
            assert lines[number - 1].startswith("#"), f"key without comment: {line}"


# --- env overrides --------------------------------------------------------------------------


def test_env_overrides_are_converted_to_the_field_type(tmp_path):
    path = write(tmp_path, "[server]\nport = 8000\n")
    config = load_config(path, env={
        "HRBOT_SERVER_PORT": "9000",
        "HRBOT_DATABASE_ECHO": "yes",
        "HRBOT_DATABASE_URL": "postgresql+asyncpg://hr:pw@db/hr",
        "HRBOT_SLA_HR_REVIEW": "1d12h",
        "HRBOT_SLA_REMINDER_FRACTIONS": "0.75, 0.25",
        "HRBOT_QUIET_HOURS_START": "22:15",
        "HRBOT_QUIET_HOURS_WEEKENDS": "0",
        "HRBOT_RETENTION_DAYS": "365",
        "HRBOT_LOCALE": "en",
        "UNRELATED": "ignored",
    })
    assert config.server.port == 9000  # env wins over the file
    assert config.database.echo is True
    assert config.database.url == "postgresql+asyncpg://hr:pw@db/hr"
    assert config.sla.hr_review == timedelta(hours=36)
    assert config.sla.reminder_fractions == (0.25, 0.75)
    assert config.quiet_hours.start == time(22, 15)
    assert config.quiet_hours.weekends is False
    assert config.retention.days == 365
    assert config.locale == "en"


@pytest.mark.parametrize(("raw", "expected"), [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True),
    ("false", False), ("0", False), ("no", False),
])
def test_env_booleans(raw, expected):
    assert load_config(EXAMPLE, env={"HRBOT_DATABASE_ECHO": raw}).database.echo is expected


@pytest.mark.parametrize(("raw", "expected"), [
    ('"24h"', timedelta(hours=24)),
    ('"3d"', timedelta(days=3)),
    ('"90m"', timedelta(minutes=90)),
    ('"45s"', timedelta(seconds=45)),
    ('"1d12h"', timedelta(days=1, hours=12)),
    ('"36"', timedelta(hours=36)),
    ("12", timedelta(hours=12)),
])
def test_duration_formats(tmp_path, raw, expected):
    config = load_config(write(tmp_path, f"[sla]\nneeds_info = {raw}\n"), env={})
    assert config.sla.needs_info == expected


def test_env_alone_configures_a_platform(tmp_path):
    config = load_config(write(tmp_path, ""), env={
        "HRBOT_WECOM_CORP_ID": "ww1",
        "HRBOT_WECOM_AGENT_ID": "42",
        "HRBOT_WECOM_SECRET": "s",
        "HRBOT_WECOM_TOKEN": "t",
        "HRBOT_WECOM_ENCODING_AES_KEY": AES_KEY,
    })
    assert config.wecom == WeComConfig(corp_id="ww1", agent_id=42, secret="s", token="t",
                                       encoding_aes_key=AES_KEY)
    assert config.dingtalk is None
    assert config.platforms() == ["wecom"]


def test_env_supplies_secrets_for_a_file_section(tmp_path):
    text = DINGTALK.replace('app_secret = "ding-secret-value"\n', "")
    config = load_config(write(tmp_path, text + '\nmode = "http"\n'),
                         env={"HRBOT_DINGTALK_APP_SECRET": "from-env"})
    assert config.dingtalk is not None
    assert config.dingtalk.app_secret == "from-env"
    assert config.dingtalk.mode == "http"
    assert config.dingtalk.api_base == "https://api.dingtalk.com"
    assert config.platforms() == ["dingtalk"]


def test_disabled_platform_is_none_and_not_validated(tmp_path):
    config = load_config(write(tmp_path, '[wecom]\nenabled = false\nencoding_aes_key = "x"\n'),
                         env={})
    assert config.wecom is None
    assert config.platforms() == []


# --- error messages -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    (WECOM.replace(AES_KEY, "abcdefghijkl"),
     "config error: wecom.encoding_aes_key: must be 43 characters (got 12)"),
    (WECOM.replace(AES_KEY, AES_KEY[:-1] + "!"),
     "config error: wecom.encoding_aes_key: must contain only base64 characters "
     "A-Z a-z 0-9 + /"),
    ('[sla]\nhr_review = "abc"\n',
     'config error: sla.hr_review: not a duration like "24h" or "3d" (got "abc")'),
    ('[sla]\nescalate_after = ""\n',
     'config error: sla.escalate_after: not a duration like "24h" or "3d" (got "")'),
    ('[sla]\nfeedback = "0h"\n',
     'config error: sla.feedback: must be longer than zero (got "0h")'),
    ('[quiet_hours]\nstart = "25:00"\n',
     'config error: quiet_hours.start: not a time HH:MM (got "25:00")'),
    (DINGTALK + 'mode = "ws"\n',
     'config error: dingtalk.mode: must be one of stream, http (got "ws")'),
    ('[databse]\nurl = "sqlite:///x.db"\n',
     'config error: unknown key "databse" (did you mean "database"?)'),
    ('[sla]\nhr_reveiw = "1h"\n',
     'config error: unknown key "sla.hr_reveiw" (did you mean "sla.hr_review"?)'),
    ('colour = "blue"\n', 'config error: unknown key "colour"'),
    ('locale = "fr"\n', 'config error: locale: must be one of zh, en (got "fr")'),
    ('timezone = "Mars/Olympus"\n',
     'config error: timezone: unknown time zone, use a name like "Asia/Shanghai" '
     '(got "Mars/Olympus")'),
    ("[retention]\ndays = 7\n", "config error: retention.days: must be at least 30 (got 7)"),
    ("[server]\nport = 70000\n",
     "config error: server.port: must be between 1 and 65535 (got 70000)"),
    ('[server]\nport = "http"\n', 'config error: server.port: must be an integer (got "http")'),
    ("[sla]\nreminder_fractions = [0.5, -1]\n",
     "config error: sla.reminder_fractions: must be a list of numbers greater than 0 "
     "like [0.5, 1.0] (got [0.5, -1])"),
    ('sla = "24h"\n', "config error: sla: must be a table (got string)"),
    (WECOM + 'callback_path = "wecom"\n',
     'config error: wecom.callback_path: must start with "/" (got "wecom")'),
])
def test_bad_values_give_one_exact_line(tmp_path, text, expected):
    assert error_of(tmp_path, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (WECOM.replace('corp_id = "ww123"\n', ""), "config error: wecom.corp_id: required"),
    (WECOM.replace("agent_id = 1000002\n", ""), "config error: wecom.agent_id: required"),
    (DINGTALK.replace('robot_code = "dingrobot"\n', ""),
     "config error: dingtalk.robot_code: required"),
    ("[dingtalk]\n", "config error: dingtalk.app_key: required"),
])
def test_missing_required_platform_key_is_named(tmp_path, text, expected):
    assert error_of(tmp_path, text) == expected


def test_card_template_may_be_left_out_for_the_published_one(tmp_path):
    text = DINGTALK.replace('card_template_id = "tpl.schema"\n', "")
    config = load_config(write(tmp_path, text), env={})
    assert config.dingtalk is not None and config.dingtalk.card_template_id == ""


def test_empty_env_secret_counts_as_missing(tmp_path):
    message = error_of(tmp_path, WECOM, env={"HRBOT_WECOM_SECRET": "  "})
    assert message == "config error: wecom.secret: required"


def test_bad_env_value_names_key_and_variable(tmp_path):
    message = error_of(tmp_path, "", env={"HRBOT_SLA_HR_REVIEW": "soon"})
    assert message == ('config error: sla.hr_review (from env HRBOT_SLA_HR_REVIEW): '
                       'not a duration like "24h" or "3d" (got "soon")')


def test_env_aes_key_length_is_checked_without_echoing_it(tmp_path):
    message = error_of(tmp_path, WECOM, env={"HRBOT_WECOM_ENCODING_AES_KEY": "short-secret"})
    assert message.endswith("wecom.encoding_aes_key (from env HRBOT_WECOM_ENCODING_AES_KEY): "
                            "must be 43 characters (got 12)")
    assert "short-secret" not in message


def test_misspelt_env_var_of_a_known_section_is_rejected(tmp_path):
    message = error_of(tmp_path, "", env={"HRBOT_DINGTALK_APP_SECRT": "x"})
    assert message == ('config error: unknown key "HRBOT_DINGTALK_APP_SECRT" '
                       '(did you mean "HRBOT_DINGTALK_APP_SECRET"?)')


def test_bad_toml_syntax_is_one_line_with_line_number(tmp_path):
    path = write(tmp_path, '[server]\nport = 8080\nhost = "unterminated\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"config error: {path}: invalid TOML: ")
    assert "line 3" in message


# --- redaction ------------------------------------------------------------------------------


def test_redacted_hides_secrets_and_db_password(tmp_path):
    path = write(tmp_path, WECOM + DINGTALK)
    config = load_config(path, env={
        "HRBOT_DATABASE_URL": "postgresql+asyncpg://hr:p%40ss@db:5432/hr",
    })
    data = config.redacted()
    assert data["wecom"]["secret"] == "***"
    assert data["wecom"]["token"] == "***"
    assert data["wecom"]["encoding_aes_key"] == "***"
    assert data["dingtalk"]["app_secret"] == "***"
    assert data["database"]["url"] == "postgresql+asyncpg://hr:***@db:5432/hr"
    # Non-secrets stay readable and JSON-friendly.
    assert data["wecom"]["corp_id"] == "ww123"
    assert data["sla"]["hr_review"] == "1d"
    assert data["quiet_hours"]["end"] == "08:30"
    for secret in ("wecom-secret-value", "wecom-token-value", AES_KEY, "ding-secret-value",
                   "p%40ss"):
        assert secret not in str(data)
        assert secret not in repr(config)


def test_redacted_keeps_passwordless_url():
    data = load_config(EXAMPLE, env={"HRBOT_DATABASE_URL": "sqlite+aiosqlite:///tmp/a.db"})
    assert data.redacted()["database"]["url"] == "sqlite+aiosqlite:///tmp/a.db"
    assert data.redacted()["dingtalk"] is None
