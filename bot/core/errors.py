"""Error hierarchy: user-facing errors become cards, the rest are logged and apologised for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class UserFacingError(BotError):
    """Something the user can fix; answered with the named card template, nothing is written."""

    def __init__(self, template: str, context: Mapping[str, Any] | None = None) -> None:
        super().__init__(template)
        self.template = template
        self.context = dict(context or {})


class PlatformError(BotError):
    def __init__(self, platform: str, errcode: str | int, errmsg: str) -> None:
        super().__init__(f"{platform} error {errcode}: {errmsg}")
        self.platform = platform
        self.errcode = errcode
        self.errmsg = errmsg


class SignatureError(BotError):
    """An inbound request failed verification."""
