"""Value converters used by :mod:`bot.config.schema`.

Every converter accepts a raw value either as TOML produced it (already typed)
or as an environment variable delivered it (always a string), and returns the
typed value. On bad input a converter raises :class:`BadValue` carrying only the
problem text; :mod:`bot.config.schema` prefixes the key, so converters stay reusable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Converter = Callable[[Any], Any]

# Strings accepted for booleans; env vars can only carry text.
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]*")
# user:password@ in a database URL; greedy so a password containing "@" is covered too.
_URL_PASSWORD_RE = re.compile(r"^(?P<head>[^:/?#]+://[^:@/?#]*:)(?P<password>.*)(?P<tail>@[^@]*)$")
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "float", str: "string",
               list: "array", dict: "table"}


class ConfigError(Exception):
    """A configuration problem, rendered as one line starting with ``config error:``.

    Attributes:
        problem: What is wrong, without the key.
        key: The offending key (dotted, possibly with its env var origin), if any.
    """

    def __init__(self, problem: str, key: str | None = None) -> None:
        # Start-up failures end up in a single log line, so newlines are never allowed.
        self.problem = " ".join(problem.split())
        self.key = key
        super().__init__(self.problem)

    def __str__(self) -> str:
        prefix = f"{self.key}: " if self.key else ""
        return f"config error: {prefix}{self.problem}"


class BadValue(ValueError):
    """Raised by converters; the message is the problem text without the key."""


def type_name(value: Any) -> str:
    """Return the TOML-ish name of a value's type, for error messages."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def show(value: Any) -> str:
    """Render a user-supplied value for an error message on a single short line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def text(value: Any) -> str:
    """Accept a string, stripping surrounding whitespace (env values often carry a newline)."""
    if not isinstance(value, str):
        # Only the type is reported: the value may be a secret.
        raise BadValue(f"must be a string (got {type_name(value)})")
    return value.strip()


def non_empty(value: Any) -> str:
    """Accept a string that is not blank."""
    result = text(value)
    if not result:
        raise BadValue("must not be empty")
    return result


def boolean(value: Any) -> bool:
    """Accept a TOML boolean or one of true/false/1/0/yes/no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadValue(f"must be true or false (got {show(value)})")


def integer(low: int | None = None, high: int | None = None) -> Converter:
    """Build a converter for integers within ``[low, high]`` (either bound optional)."""

    def convert(value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            number = int(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise BadValue(f"must be an integer (got {show(value)})")
        if high is not None and not (low or 0) <= number <= high:
            raise BadValue(f"must be between {low or 0} and {high} (got {number})")
        if low is not None and number < low:
            raise BadValue(f"must be at least {low} (got {number})")
        return number

    return convert


def choice(*options: str) -> Converter:
    """Build a converter accepting exactly one of ``options``."""

    def convert(value: Any) -> str:
        if isinstance(value, str) and value.strip() in options:
            return value.strip()
        raise BadValue(f"must be one of {', '.join(options)} (got {show(value)})")

    return convert


def parse_duration(value: Any) -> timedelta:
    """Parse "24h", "3d", "90m", "45s", "1d12h" or a plain number of hours.

    Raises:
        BadValue: If the value is not such a duration.
    """
    problem = f'not a duration like "24h" or "3d" (got {show(value)})'
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise BadValue(problem)
        return timedelta(hours=value)
    if not isinstance(value, str):
        raise BadValue(problem)
    raw = value.strip().lower()
    if raw.isdigit():
        return timedelta(hours=int(raw))
    match = _DURATION_RE.fullmatch(raw)
    if not raw or match is None:
        raise BadValue(problem)
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def duration(allow_zero: bool = False) -> Converter:
    """Build a duration converter; zero is only meaningful for optional delays."""

    def convert(value: Any) -> timedelta:
        result = parse_duration(value)
        if not allow_zero and result <= timedelta(0):
            raise BadValue(f"must be longer than zero (got {show(value)})")
        return result

    return convert


def format_duration(value: timedelta) -> str:
    """Render a timedelta in the same notation :func:`parse_duration` accepts."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0h"


def clock_time(value: Any) -> time:
    """Accept "HH:MM" (or a TOML local time) as a wall-clock time."""
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise BadValue(f"not a time HH:MM (got {show(value)})")
    return time(int(match[1]), int(match[2]))


def fractions(value: Any) -> tuple[float, ...]:
    """Accept a list of numbers > 0 (or "0.5, 1.0" from env), returned sorted."""
    problem = f"must be a list of numbers greater than 0 like [0.5, 1.0] (got {show(value)})"
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise BadValue(problem)
    result = []
    for item in items:
        try:
            number = float(item.strip()) if isinstance(item, str) else item
        except ValueError:
            raise BadValue(problem) from None
        if isinstance(number, bool) or not isinstance(number, int | float) or not number > 0:
            raise BadValue(problem)
        result.append(float(number))
    # Sorted so reminder code can walk them in order without re-checking.
    return tuple(sorted(result))


def http_url(value: Any) -> str:
    """Accept an http(s) base URL; a trailing slash is dropped so paths can be appended."""
    result = text(value)
    if not result.startswith(("http://", "https://")):
        raise BadValue(f"must start with http:// or https:// (got {show(value)})")
    return result.rstrip("/")


def optional_http_url(value: Any) -> str:
    """Accept "" or an http(s) base URL (trailing slash dropped)."""
    return http_url(value) if text(value) else ""


def optional_link(value: Any) -> str:
    """Accept "" or a link a DingTalk client can open (http(s):// or dingtalk://)."""
    result = text(value)
    if result and not result.startswith(("http://", "https://", "dingtalk://")):
        raise BadValue(f"must be empty or start with https:// or dingtalk:// (got {show(value)})")
    return result


def url_path(value: Any) -> str:
    """Accept an absolute URL path such as "/wecom/callback"."""
    result = text(value)
    if not result.startswith("/"):
        raise BadValue(f'must start with "/" (got {show(value)})')
    return result


def aes_key(value: Any) -> str:
    """Accept a WeCom EncodingAESKey: exactly 43 base64 characters, never echoed back."""
    result = text(value)
    if len(result) != 43:
        raise BadValue(f"must be 43 characters (got {len(result)})")
    if not _BASE64_RE.fullmatch(result):
        raise BadValue("must contain only base64 characters A-Z a-z 0-9 + /")
    return result


def timezone_name(value: Any) -> str:
    """Accept an IANA time zone name known to :mod:`zoneinfo`."""
    result = text(value)
    try:
        ZoneInfo(result)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadValue(f'unknown time zone, use a name like "Asia/Shanghai" '
                       f"(got {show(value)})") from None
    return result


def redact_url(url: str) -> str:
    """Replace the password in a database URL with ``***``."""
    return _URL_PASSWORD_RE.sub(r"\g<head>***\g<tail>", url)


def redact_all(_value: Any) -> str:
    """Replace a secret entirely."""
    return "***"
