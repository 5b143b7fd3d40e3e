"""Loading and validating the hrbot configuration.

Configuration is a TOML file (see ``config.example.toml``). Its path comes from the
``--config`` option, else the ``HRBOT_CONFIG`` env var, else ``config.toml`` in the
working directory; only that last, implicit default may be absent (meaning "all
defaults"). Any key can be overridden by an env var ``HRBOT_<SECTION>_<KEY>``
(``HRBOT_<KEY>`` for top-level keys) so secrets never need to sit in the file.

Every problem is reported as a :class:`ConfigError` whose text is one line naming
the key, so a misconfigured deployment fails at start with an actionable message.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from bot.config import parsing as cp
from bot.config.directory import DirectoryConfig
from bot.config.parsing import ConfigError
from storage.crypto import ENV_KEY, DataKeyError, parse_keyring

__all__ = [
    "CONFIG_PATH_ENV", "DEFAULT_CONFIG_PATH", "ENV_PREFIX", "CalendarConfig", "Config",
    "ConfigError", "DatabaseConfig", "DingTalkConfig", "DirectoryConfig", "LogConfig",
    "QuietHoursConfig", "RecallConfig",
    "RetentionConfig", "SchedulerConfig", "ServerConfig", "SlaConfig", "TimeoutsConfig",
    "WeComConfig", "load_config",
]

ENV_PREFIX = "HRBOT_"
CONFIG_PATH_ENV = "HRBOT_CONFIG"
DEFAULT_CONFIG_PATH = Path("config.toml")


def _m(parse: cp.Converter, *, secret: bool = False,
       redact: cp.Converter | None = None) -> dict[str, Any]:
    """Field metadata for a config key: its converter and how to redact it for logs."""
    return {"parse": parse, "redact": cp.redact_all if secret else redact}


@dataclass(frozen=True)
class DatabaseConfig:
    """``[database]``: SQLAlchemy async URL and SQL echo for debugging."""

    # Secrets (and URLs that may embed a password) are kept out of repr() throughout,
    # so logging a config object by accident cannot leak them; use Config.redacted().
    url: str = field(default="sqlite+aiosqlite:///hrbot.db", repr=False,
                     metadata=_m(cp.non_empty, redact=cp.redact_url))
    echo: bool = field(default=False, metadata=_m(cp.boolean))
    # Production stores personal data sealed: refuse to start without HRBOT_DATA_KEY.
    require_data_key: bool = field(default=False, metadata=_m(cp.boolean))


@dataclass(frozen=True)
class DingTalkConfig:
    """``[dingtalk]``: DingTalk app credentials and transport."""

    app_key: str = field(metadata=_m(cp.text))
    app_secret: str = field(repr=False, metadata=_m(cp.text, secret=True))
    robot_code: str = field(metadata=_m(cp.text))
    # Empty: DingTalk's own published card template, nothing to build in the card platform.
    card_template_id: str = field(default="", metadata=_m(cp.text))
    mode: str = field(default="stream", metadata=_m(cp.choice("stream", "http")))
    api_base: str = field(default="https://api.dingtalk.com", metadata=_m(cp.http_url))
    oapi_base: str = field(default="https://oapi.dingtalk.com", metadata=_m(cp.http_url))
    enabled: bool = field(default=True, metadata=_m(cp.boolean))
    http_callback_path: str = field(default="/dingtalk/callback", metadata=_m(cp.url_path))
    # mode "http": the https base DingTalk reaches this server at; card taps are registered
    # to <public_url><http_callback_path>/card at start.
    public_url: str = field(default="", metadata=_m(cp.optional_http_url))
    todo_url: str = field(default="", metadata=_m(cp.optional_link))
    monthly_quota: int = field(default=5000, metadata=_m(cp.integer(low=0)))
    # Read who is on leave from DingTalk attendance (needs the attendance read permission).
    leave_sync: bool = field(default=False, metadata=_m(cp.boolean))


@dataclass(frozen=True)
class WeComConfig:
    """``[wecom]``: WeCom (企业微信) self-built app credentials and callback."""

    corp_id: str = field(metadata=_m(cp.text))
    agent_id: int = field(metadata=_m(cp.integer(low=0)))
    secret: str = field(repr=False, metadata=_m(cp.text, secret=True))
    token: str = field(repr=False, metadata=_m(cp.text, secret=True))
    encoding_aes_key: str = field(repr=False, metadata=_m(cp.aes_key, secret=True))
    callback_path: str = field(default="/wecom/callback", metadata=_m(cp.url_path))
    # The https base WeCom reaches this server at; only `hrbot doctor` uses it (URL check).
    public_url: str = field(default="", metadata=_m(cp.optional_http_url))
    api_base: str = field(default="https://qyapi.weixin.qq.com", metadata=_m(cp.http_url))
    enabled: bool = field(default=True, metadata=_m(cp.boolean))


@dataclass(frozen=True)
class SlaConfig:
    """``[sla]``: how long each step may take before reminders and escalation."""

    hr_review: timedelta = field(default=timedelta(hours=24), metadata=_m(cp.duration()))
    needs_info: timedelta = field(default=timedelta(hours=48), metadata=_m(cp.duration()))
    leader_approval: timedelta = field(default=timedelta(hours=72), metadata=_m(cp.duration()))
    feedback: timedelta = field(default=timedelta(hours=4), metadata=_m(cp.duration()))
    reminder_fractions: tuple[float, ...] = field(default=(0.5, 1.0), metadata=_m(cp.fractions))
    # Extra time past the deadline before escalating to the lead; zero = at the deadline.
    escalate_after: timedelta = field(default=timedelta(0),
                                      metadata=_m(cp.duration(allow_zero=True)))


@dataclass(frozen=True)
class QuietHoursConfig:
    """``[quiet_hours]``: window (local time) in which notifications are held back."""

    start: time = field(default=time(21, 0), metadata=_m(cp.clock_time))
    end: time = field(default=time(8, 30), metadata=_m(cp.clock_time))
    weekends: bool = field(default=True, metadata=_m(cp.boolean))


# Steps whose approval leads to another human decision, so a timeout may approve them
# (review.pass -> leader approval, approval.approve -> interviews). Never a rejection.
AUTO_APPROVABLE_STEPS = ("hr_review", "leader_approval")
TIMEOUT_POLICIES = ("remind", "escalate", "reassign", "approve")


@dataclass(frozen=True)
class CalendarConfig:
    """``[calendar]``: which days and hours count towards deadlines."""

    # wall: every hour counts; working_days: only working days count (whole days);
    # working_hours: only work_start..work_end on working days.
    sla_time: str = field(default="wall", metadata=_m(
        cp.choice("wall", "working_days", "working_hours")))
    work_start: time = field(default=time(9, 0), metadata=_m(cp.clock_time))
    work_end: time = field(default=time(18, 0), metadata=_m(cp.clock_time))
    # Chinese public holidays and make-up working days (调休) from the shipped data file.
    public_holidays: bool = field(default=True, metadata=_m(cp.boolean))

    def __post_init__(self) -> None:
        if not self.work_start < self.work_end:
            raise ConfigError("must be earlier than calendar.work_end", "calendar.work_start")


@dataclass(frozen=True)
class TimeoutsConfig:
    """``[timeouts]``: what happens when a step's deadline passes."""

    hr_review: str = field(default="escalate", metadata=_m(cp.choice(*TIMEOUT_POLICIES)))
    needs_info: str = field(default="escalate", metadata=_m(cp.choice(*TIMEOUT_POLICIES)))
    leader_approval: str = field(default="escalate", metadata=_m(cp.choice(*TIMEOUT_POLICIES)))
    feedback: str = field(default="escalate", metadata=_m(cp.choice(*TIMEOUT_POLICIES)))

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) == "approve" and f.name not in AUTO_APPROVABLE_STEPS:
                raise ConfigError(
                    f"approve is only allowed for {', '.join(AUTO_APPROVABLE_STEPS)}",
                    f"timeouts.{f.name}",
                )

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class RetentionConfig:
    """``[retention]``: personal data is purged/anonymised ``days`` after last activity."""

    # Below 30 days an ordinary referral could be erased while still in progress.
    days: int = field(default=730, metadata=_m(cp.integer(low=30)))
    # What people typed and what the bot sent (inbox/outbox payloads) is emptied this many
    # days after it was handled: redelivery and resends need hours, not months.
    payload_days: int = field(default=7, metadata=_m(cp.integer(low=1)))


@dataclass(frozen=True)
class SchedulerConfig:
    """``[scheduler]``: due-job sweep interval and how long a worker holds a claimed job."""

    sweep_seconds: int = field(default=5, metadata=_m(cp.integer(low=1)))
    claim_seconds: int = field(default=60, metadata=_m(cp.integer(low=1)))


@dataclass(frozen=True)
class ServerConfig:
    """``[server]``: HTTP listener for callbacks and health checks."""

    host: str = field(default="127.0.0.1", metadata=_m(cp.non_empty))
    port: int = field(default=8080, metadata=_m(cp.integer(1, 65535)))
    max_body_bytes: int = field(default=1_048_576, metadata=_m(cp.integer(low=1)))
    # A connection with no complete request (slow headers, idle keep-alive) is closed after
    # this long; a request body still arriving after body_timeout_seconds gets 408.
    idle_timeout_seconds: int = field(default=15, metadata=_m(cp.integer(low=1)))
    body_timeout_seconds: int = field(default=10, metadata=_m(cp.integer(low=1)))
    # Open connections at once, and from one client address (0: no limit).
    max_connections: int = field(default=4096, metadata=_m(cp.integer(low=0)))
    max_connections_per_client: int = field(default=256, metadata=_m(cp.integer(low=0)))


@dataclass(frozen=True)
class LogConfig:
    """``[log]``: line format and threshold of the process's log on stderr."""

    # "json": one object per line for a log shipper; "text": for people reading a terminal.
    format: str = field(default="text", metadata=_m(cp.choice("text", "json")))
    level: str = field(
        default="WARNING", metadata=_m(cp.choice("DEBUG", "INFO", "WARNING", "ERROR"))
    )


# Reason categories a deployment may declare news for ("any": news for every category).
RECALL_NEWS_KEYS = ("salary", "team", "career", "commute", "family", "counter_offer", "other",
                    "any")


def _days_list(value: Any) -> tuple[int, ...]:
    """Accept a list of whole days > 0 (or "30,90,180" from env), returned sorted."""
    problem = f"must be a list of days > 0 like [30, 90, 180] (got {cp.show(value)})"
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise cp.BadValue(problem)
    days = []
    for item in items:
        raw = item.strip() if isinstance(item, str) else item
        if isinstance(raw, str) and raw.isdigit():
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
            raise cp.BadValue(problem)
        days.append(raw)
    if len(set(days)) != len(days):
        raise cp.BadValue(f"must not repeat a day (got {cp.show(value)})")
    return tuple(sorted(days))


def _news(value: Any) -> dict[str, tuple[str, ...]]:
    """Accept a table of category -> list of sentences (a JSON object from env)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise cp.BadValue("must be a JSON object like {\"team\": [\"...\"]}") from None
    if not isinstance(value, dict):
        raise cp.BadValue(f"must be a table of lists (got {cp.type_name(value)})")
    news: dict[str, tuple[str, ...]] = {}
    for key, items in value.items():
        if key not in RECALL_NEWS_KEYS:
            raise cp.BadValue(f"unknown category {cp.show(key)}; use one of "
                              f"{', '.join(RECALL_NEWS_KEYS)}")
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip()
                                                  for i in items):
            raise cp.BadValue(f"{key} must be a list of non-empty strings")
        news[key] = tuple(i.strip() for i in items)
    return news


@dataclass(frozen=True)
class RecallConfig:
    """``[recall]``: cadence of recall prompts, contact limits, templates and news."""

    cadence_days: tuple[int, ...] = field(default=(30, 90, 180), metadata=_m(_days_list))
    min_days_between: int = field(default=30, metadata=_m(cp.integer(low=1)))
    templates_dir: str = field(default="", metadata=_m(cp.text))
    news: dict[str, tuple[str, ...]] = field(default_factory=dict, metadata=_m(_news))


@dataclass(frozen=True)
class Config:
    """The whole validated configuration; ``dingtalk``/``wecom`` are None when unused."""

    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    locale: str = field(default="zh", metadata=_m(cp.choice("zh", "en")))
    timezone: str = field(default="Asia/Shanghai", metadata=_m(cp.timezone_name))
    dingtalk: DingTalkConfig | None = None
    wecom: WeComConfig | None = None
    sla: SlaConfig = field(default_factory=SlaConfig)
    quiet_hours: QuietHoursConfig = field(default_factory=QuietHoursConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    timeouts: TimeoutsConfig = field(default_factory=TimeoutsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    log: LogConfig = field(default_factory=LogConfig)
    directory: DirectoryConfig = field(default_factory=DirectoryConfig)

    def platforms(self) -> list[str]:
        """Return the names of the configured and enabled chat platforms, e.g. ``["wecom"]``."""
        return [name for name in _PLATFORMS if getattr(self, name) is not None]

    def redacted(self) -> dict[str, Any]:
        """Return a JSON-friendly dict of all settings with secrets replaced by ``***``."""
        return _redact(self)


_SECTIONS: dict[str, type] = {
    "database": DatabaseConfig, "dingtalk": DingTalkConfig, "wecom": WeComConfig,
    "calendar": CalendarConfig, "timeouts": TimeoutsConfig,
    "sla": SlaConfig, "quiet_hours": QuietHoursConfig, "retention": RetentionConfig,
    "scheduler": SchedulerConfig, "server": ServerConfig, "recall": RecallConfig,
    "log": LogConfig, "directory": DirectoryConfig,
}
_PLATFORMS = ("dingtalk", "wecom")
_TOP_KEYS = tuple(f.name for f in fields(Config) if "parse" in f.metadata)

# A raw value plus the env var it came from (None when it came from the file).
_Entry = tuple[Any, str | None]


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load, merge and validate the configuration.

    Args:
        path: Config file given on the command line; None falls back to ``HRBOT_CONFIG``
            and then to ``config.toml`` in the working directory.
        env: Environment to read overrides from; defaults to ``os.environ``.

    Returns:
        The validated, immutable configuration.

    Raises:
        ConfigError: On a missing explicit file, bad TOML, unknown key or bad value.
    """
    env = os.environ if env is None else env
    data = _read_file(path, env)
    raw: dict[str, dict[str, _Entry]] = {"": {}}
    for name, value in data.items():
        if name in _SECTIONS:
            raw[name] = _section_entries(name, value)
        elif name in _TOP_KEYS:
            raw[""][name] = (value, None)
        else:
            raise _unknown(name, [*_SECTIONS, *_TOP_KEYS])
    _apply_env(raw, env)

    built: dict[str, Any] = _build(Config, "", raw[""])
    for name, cls in _SECTIONS.items():
        entries = raw.get(name)
        if name in _PLATFORMS:
            built[name] = _build_platform(cls, name, entries) if entries is not None else None
        else:
            built[name] = cls(**_build(cls, name, entries or {}))
    config = Config(**built)
    _check_data_key(env, required=config.database.require_data_key)
    return config


_DATA_KEY_FORM = "one base64 32-byte key, or kid:key,kid:key"


def _check_data_key(env: Mapping[str, str], *, required: bool) -> None:
    """A bad data key stops every command at start, not the first referral's handler."""
    raw = env.get(ENV_KEY, "")
    if not raw.strip():
        if required:
            raise ConfigError(f"not set but database.require_data_key is on; expected "
                              f"{_DATA_KEY_FORM}", ENV_KEY)
        return
    try:
        parse_keyring(raw)
    except DataKeyError as err:
        # The parser's message names the variable; the key material itself is never quoted.
        problem = str(err).removeprefix(f"{ENV_KEY}: ")
        raise ConfigError(f"{problem}; expected {_DATA_KEY_FORM}", ENV_KEY) from None


def _read_file(path: str | Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    """Read the TOML file; only the implicit default path may be missing."""
    explicit = path is not None or bool(env.get(CONFIG_PATH_ENV))
    file_path = Path(path if path is not None else env.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH)
    try:
        with file_path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"file not found: {file_path}") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line N, column M)".
        raise ConfigError(f"{file_path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file_path}: not valid UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{file_path}: cannot read ({exc.strerror})") from None


def _section_entries(section: str, value: Any) -> dict[str, _Entry]:
    """Turn one file section into entries, rejecting keys the section does not have."""
    if not isinstance(value, dict):
        raise ConfigError(f"must be a table (got {cp.type_name(value)})", section)
    known = [f.name for f in fields(_SECTIONS[section])]
    for key in value:
        if key not in known:
            raise _unknown(f"{section}.{key}", [f"{section}.{name}" for name in known])
    return {key: (item, None) for key, item in value.items()}


def _apply_env(raw: dict[str, dict[str, _Entry]], env: Mapping[str, str]) -> None:
    """Overlay HRBOT_* env vars; setting any of a section's vars makes it configured."""
    known = {f"{ENV_PREFIX}{key.upper()}": ("", key) for key in _TOP_KEYS}
    for section, cls in _SECTIONS.items():
        for f in fields(cls):
            known[f"{ENV_PREFIX}{section}_{f.name}".upper()] = (section, f.name)
    prefixes = tuple(f"{ENV_PREFIX}{section.upper()}_" for section in _SECTIONS)
    for name in sorted(env):
        if name in known:
            section, key = known[name]
            raw.setdefault(section, {})[key] = (env[name], name)
        elif name.startswith(prefixes):
            # A typo in a section's variable would otherwise be silently ignored,
            # leaving e.g. a placeholder secret in use.
            raise _unknown(name, list(known))


def _build(cls: type, section: str, entries: Mapping[str, _Entry]) -> dict[str, Any]:
    """Convert the entries of one section into constructor arguments for ``cls``."""
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        parse = f.metadata.get("parse")
        if parse is None:
            continue
        key = f"{section}.{f.name}" if section else f.name
        entry = entries.get(f.name)
        required = f.default is MISSING and f.default_factory is MISSING
        # A blank value (typically an env var not filled in yet) counts as missing.
        blank = entry is None or (isinstance(entry[0], str) and not entry[0].strip())
        if required and blank:
            raise ConfigError("required", key)
        if entry is not None:
            kwargs[f.name] = _convert(key, entry, parse)
    return kwargs


def _convert(key: str, entry: _Entry, parse: cp.Converter) -> Any:
    """Run one converter, naming the key (and env var, if any) in the error."""
    value, origin = entry
    try:
        return parse(value)
    except cp.BadValue as exc:
        raise ConfigError(str(exc), f"{key} (from env {origin})" if origin else key) from None


def _build_platform(cls: type, section: str, entries: Mapping[str, _Entry]) -> Any:
    """Build a platform section, or None when it is switched off with ``enabled = false``.

    Other keys of a disabled platform are not validated, so placeholders may stay.
    """
    if "enabled" in entries and not _convert(f"{section}.enabled", entries["enabled"],
                                             cp.boolean):
        return None
    return cls(**_build(cls, section, entries))


def _unknown(name: str, known: list[str]) -> ConfigError:
    """Build the error for an unknown key, suggesting the closest known one."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return ConfigError(f'unknown key "{name}"{hint}')


def _redact(obj: Any) -> dict[str, Any]:
    """Recursively turn a config dataclass into plain values, hiding secrets."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        redact = f.metadata.get("redact")
        if is_dataclass(value):
            out[f.name] = _redact(value)
        elif redact is not None:
            out[f.name] = redact(value)
        elif isinstance(value, timedelta):
            out[f.name] = cp.format_duration(value)
        elif isinstance(value, time):
            out[f.name] = value.strftime("%H:%M")
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out
