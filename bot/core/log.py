"""Fixed logger names, the masking every log line of personal data goes through, and the
text and JSON line formats the CLI installs."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

dispatch_log = logging.getLogger("hrbot.dispatch")
outbox_log = logging.getLogger("hrbot.outbox")
storage_log = logging.getLogger("hrbot.storage")
cli_log = logging.getLogger("hrbot.cli")

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_mobiles(text: str) -> str:
    """Mask every mainland mobile number in ``text`` (cards to groups, log lines)."""
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


# Resident ID numbers (18 characters, the last may be X) and e-mail addresses.
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")


def mask_identifiers(text: str) -> str:
    """Mask mobiles, ID-card numbers and e-mail addresses in ``text`` (what a group sees).

    ``13800138000`` → ``138****8000``, ``110101199003077777`` → ``110101********7777``,
    ``zhang.san@example.com`` → ``z***@example.com``.
    """
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return mask_mobiles(text)


# LogRecord attributes that are the record's own machinery, not context a caller attached.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus any ``extra`` fields.

    The message and the traceback go through :func:`mask_mobiles` like every text line, so
    a log shipper never receives a phone number either.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_mobiles(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = mask_mobiles(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = mask_mobiles(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = mask_mobiles(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class MaskingFormatter(logging.Formatter):
    """The plain text format, with mobiles masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_mobiles(super().format(record))


def configure_logging(fmt: str = "text", level: int | str = logging.WARNING) -> None:
    """Point the root logger at stderr in ``fmt`` ("text" or "json"), replacing handlers."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskingFormatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
