"""Fault injection: make the next N calls to an API fail the way the real platform fails.

A fault names a path pattern (``fnmatch`` glob on the request path, e.g.
``/v1.0/robot/oToMessages/batchSend`` or ``/cgi-bin/message/*``), a kind and a count. Which
platform's error shape is used follows from the path: ``/cgi-bin/…`` is WeCom, ``/v1.0/…``
DingTalk's new API (HTTP status + ``code``), anything else DingTalk's old API (HTTP 200 +
``errcode``).

Sources:
    https://open.dingtalk.com/document/development/how-to-process-api-throttling-on-the-dingtalk-server
    https://developer.work.weixin.qq.com/document/path/90313 (全局错误码)
"""

from __future__ import annotations

import fnmatch
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("throttle", "busy", "quota", "ip_ban", "token_expired", "flow_control", "slow",
         "custom")

# (new-API HTTP status, new-API code, old-API errcode, WeCom errcode, message)
_SHAPES: dict[str, tuple[int, str, int, int, str]] = {
    "throttle": (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", 90018, 45009,
                 "api freq out of limit"),
    "busy": (500, "system.busy", -1, -1, "system busy"),
    "quota": (403, "Forbidden.AccessDenied.ApiCountLimitForOrg", 90020, 45009,
              "api count out of limit"),
    "token_expired": (401, "InvalidAuthentication", 40014, 42001, "access_token expired"),
}
# The per-IP ban page of DingTalk: no errcode at all.
ANTI_BOT_BODY = {"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": "sandbox"}


@dataclass
class Fault:
    """One injected failure rule; ``count`` None means until cleared."""

    path: str
    kind: str
    count: int | None = 1
    delay: float = 0.0  # "slow": seconds before answering normally
    status: int = 500  # "custom"
    body: Any = None  # "custom"
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(data: Any) -> Fault:
    """A :class:`Fault` from the JSON API's body.

    Raises:
        ValueError: Missing path, unknown kind, or bad numbers.
    """
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    path, kind = data.get("path"), data.get("kind", "throttle")
    if not isinstance(path, str) or not path.startswith(("/", "*")):
        raise ValueError("path must be an API path (glob allowed), e.g. /v1.0/card/*")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    count = data.get("count", 1)
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValueError("count must be a positive integer or null (until cleared)")
    delay, status = data.get("delay", 0.0), data.get("status", 500)
    if not isinstance(delay, int | float) or not 0 <= delay <= 60:
        raise ValueError("delay must be 0..60 seconds")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError("status must be an HTTP status")
    return Fault(path=path, kind=kind, count=count, delay=float(delay), status=status,
                 body=data.get("body"))


class FaultBook:
    """Active faults, first match wins."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def take(self, path: str, kind: str | None = None) -> Fault | None:
        """The fault that applies to this call, counting it down; None if none applies.

        Without ``kind`` every kind but ``flow_control`` matches: that one is not an error
        answer but a normal answer listing throttled users, so the route takes it itself.
        """
        for fault in self.faults:
            wanted = fault.kind == kind if kind else fault.kind != "flow_control"
            if wanted and fnmatch.fnmatchcase(path, fault.path):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        return None


def platform_of(path: str) -> str:
    return "wecom" if path.startswith("/cgi-bin/") else "dingtalk"


def error_answer(fault: Fault, path: str, request_id: str) -> tuple[int, Any]:
    """(HTTP status, JSON body) that the real platform answers for ``fault`` on ``path``."""
    if fault.kind == "custom":
        return fault.status, fault.body if fault.body is not None else {}
    if fault.kind == "ip_ban":
        return 200, dict(ANTI_BOT_BODY)
    status, code, old_code, wecom_code, message = _SHAPES[fault.kind]
    if platform_of(path) == "wecom":
        return 200, {"errcode": wecom_code, "errmsg": f"{message}, hint: [{request_id}]"}
    if path.startswith("/v1.0/"):
        return status, {"requestid": request_id, "code": code, "message": message}
    return 200, {"errcode": old_code, "errmsg": message}
