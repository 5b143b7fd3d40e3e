"""Fixed logger names and the masking every log line of personal data goes through."""

from __future__ import annotations

import logging
import re

dispatch_log = logging.getLogger("hrbot.dispatch")
outbox_log = logging.getLogger("hrbot.outbox")
storage_log = logging.getLogger("hrbot.storage")
cli_log = logging.getLogger("hrbot.cli")

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_mobiles(text: str) -> str:
    """Mask every mainland mobile number in ``text`` (cards to groups, log lines)."""
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
