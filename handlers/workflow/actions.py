"""Typed card actions of the engine's buttons: packed once, parsed once, checked at render.

A button carries ``{"case": id, "v": version, **fields}``; the platform renderers put that
into a WeCom button ``key`` (≤1024 bytes) and DingTalk callback params (≤1 KB for all the
card's buttons), so a payload that would not fit fails when the card is built, in tests,
rather than when a person taps it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.errors import UserFacingError
from cards.render_dingtalk import MAX_VALUE_BYTES as DINGTALK_PARAMS_BYTES
from cards.render_dingtalk import button_params
from cards.render_wecom import encode_button_key

_RESERVED = frozenset({"case", "v", "action"})


@dataclass(frozen=True)
class CaseAction:
    action: str
    case_id: int
    version: int
    fields: Mapping[str, str] = field(default_factory=dict)

    def pack(self) -> dict[str, str]:
        """The button's params; raises ValueError when they would not fit either platform."""
        clash = _RESERVED & self.fields.keys()
        if clash:
            raise ValueError(f"{self.action}: fields use reserved names {sorted(clash)}")
        params = {"case": str(self.case_id), "v": str(self.version), **self.fields}
        encode_button_key(self.action, params)
        size = len(json.dumps(button_params(self.action, params), ensure_ascii=False).encode())
        if size > DINGTALK_PARAMS_BYTES:
            raise ValueError(f"{self.action}: callback params of {size} bytes do not fit")
        return params

    @classmethod
    def unpack(cls, action: str, params: Mapping[str, str]) -> CaseAction:
        """Parse a tapped button's params; a forged or truncated payload is ``bad_action``."""
        case_id, version = params.get("case", ""), params.get("v", "")
        if not (case_id.isdigit() and version.isdigit()):
            raise UserFacingError("bad_action")
        extra = {k: str(v) for k, v in params.items() if k not in _RESERVED}
        return cls(action=action, case_id=int(case_id), version=int(version), fields=extra)
