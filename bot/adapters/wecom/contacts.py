"""WeCom contacts (通讯录): departments, members and their leaders, for the directory sync.

* ``GET /cgi-bin/department/simplelist``: every department id and parent the app may see;
* ``GET /cgi-bin/department/get?id=``: one department's name and ``department_leader``;
* ``POST /cgi-bin/user/list_id`` ``{cursor, limit ≤ 10000}``: member–department pairs,
  continued with ``next_cursor`` until it comes back empty;
* ``GET /cgi-bin/user/get?userid=``: one member (``department``, ``main_department``,
  ``is_leader_in_dept``, ``direct_leader``, ``position``, ``status``, ``mobile`` where the
  app may read it, ``extattr``).

WeCom counts calls per corp and API: 10 000 a minute and 150 000 an hour, shared with every
other app of the corp; above that it answers 45009 and bans the API for a while. The reader
spaces its calls to ``per_minute`` (default 9 000) per API and retries 45009/-1 after a pause.
A member deleted between the list and the read (60111) is left out and noted.

Sources:
    https://developer.work.weixin.qq.com/document/path/95350 (department/simplelist)
    https://developer.work.weixin.qq.com/document/path/95351 (department/get)
    https://developer.work.weixin.qq.com/document/path/96067 (user/list_id)
    https://developer.work.weixin.qq.com/document/path/90196 (user/get)
    https://developer.work.weixin.qq.com/document/path/90312 (频率限制)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from bot.adapters.wecom.client import WeComClient
from bot.core.errors import PlatformError
from bot.pipeline.directory import Member, OrgSnapshot, OrgUnit
from bot.pipeline.messenger import TransientDeliveryError

PLATFORM = "wecom"
SIMPLELIST = "/cgi-bin/department/simplelist"
DEPT_GET = "/cgi-bin/department/get"
LIST_ID = "/cgi-bin/user/list_id"
USER_GET = "/cgi-bin/user/get"
LIST_LIMIT = 10000
USER_GONE = 60111  # userid not found: left between the list and the read
PER_MINUTE = 9000  # under the documented 10 000/min per corp and API
RETRIES = 3
CONCURRENCY = 16
# WeCom status: 1 active, 2 disabled, 4 not yet activated, 5 quit.
GONE_STATUSES = frozenset({2, 5})

Sleep = Callable[[float], Awaitable[object]]


class _Pace:
    """Calls of one API start at least ``60 / per_minute`` seconds apart."""

    def __init__(self, per_minute: int, sleep: Sleep, clock: Callable[[], float]) -> None:
        self.gap = 60.0 / per_minute
        self.sleep = sleep
        self.clock = clock
        self._next: dict[str, float] = {}

    async def wait(self, api: str) -> None:
        now = self.clock()
        start = max(now, self._next.get(api, now))
        self._next[api] = start + self.gap
        if start > now:
            await self.sleep(start - now)


class ContactReader:
    """One full read of the org; counts the calls it makes per API."""

    def __init__(
        self, client: WeComClient, *, per_minute: int = PER_MINUTE,
        sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.sleep = sleep
        self.calls: Counter[str] = Counter()
        self._pace = _Pace(per_minute, sleep, clock)
        self._gate = asyncio.Semaphore(CONCURRENCY)

    async def call(
        self, method: str, path: str, *, params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None, accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        for attempt in range(RETRIES + 1):
            try:
                async with self._gate:
                    await self._pace.wait(path)
                    self.calls[path] += 1
                    return await self.client.call(
                        method, path, params=params, json=json, accept=accept
                    )
            except TransientDeliveryError:
                if attempt == RETRIES:
                    raise
                await self.sleep(1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    async def units(self) -> list[OrgUnit]:
        listed = (await self.call("GET", SIMPLELIST)).get("department_id")
        if not isinstance(listed, list):
            raise PlatformError(PLATFORM, "bad_department_answer", "simplelist: no list")
        ids = [r["id"] for r in listed if isinstance(r, dict) and isinstance(r.get("id"), int)]
        details = await asyncio.gather(
            *(self.call("GET", DEPT_GET, params={"id": str(i)}) for i in ids)
        )
        return [_unit(d.get("department")) for d in details]

    async def memberships(self) -> dict[str, list[str]]:
        pairs: dict[str, list[str]] = {}
        cursor = ""
        while True:
            body: dict[str, Any] = {"limit": LIST_LIMIT}
            if cursor:
                body["cursor"] = cursor
            page = await self.call("POST", LIST_ID, json=body)
            rows = page.get("dept_user")
            if not isinstance(rows, list):
                raise PlatformError(PLATFORM, "partial_page", "user/list_id: no dept_user")
            for row in rows:
                if isinstance(row, dict) and row.get("userid"):
                    pairs.setdefault(str(row["userid"]), []).append(str(row.get("department")))
            cursor = str(page.get("next_cursor") or "")
            if not cursor:
                return pairs

    async def member(self, userid: str) -> dict[str, Any] | None:
        data = await self.call(
            "GET", USER_GET, params={"userid": userid}, accept=frozenset({USER_GONE})
        )
        return None if data.get("errcode") == USER_GONE else data


def _unit(row: Any) -> OrgUnit:
    if not isinstance(row, dict) or not isinstance(row.get("id"), int):
        raise PlatformError(PLATFORM, "bad_department_answer", "department/get: no id")
    parent = row.get("parentid")
    # WeCom's top department has parentid 0 (or none).
    parent_id = str(parent) if isinstance(parent, int) and parent > 0 else None
    leaders = tuple(str(u) for u in row.get("department_leader") or [] if u)
    return OrgUnit(str(row["id"]), str(row.get("name") or row["id"]), parent_id, leaders)


def _attr(data: dict[str, Any], name: str) -> str | None:
    attrs = (data.get("extattr") or {}).get("attrs") or []
    for attr in attrs:
        if isinstance(attr, dict) and attr.get("name") == name:
            value = (attr.get("text") or {}).get("value") or attr.get("value")
            return str(value) if value else None
    return None


def _member(data: dict[str, Any], employee_no_attr: str) -> Member:
    units = tuple(str(d) for d in data.get("department") or [])
    flags = list(data.get("is_leader_in_dept") or [])
    leads = tuple(u for u, flag in zip(units, flags, strict=False) if flag == 1)
    main = data.get("main_department")
    status = data.get("status")
    return Member(
        user_id=str(data["userid"]), name=str(data.get("name") or data["userid"]),
        unit_ids=units, main_unit_id=str(main) if main else (units[0] if units else None),
        mobile=str(data["mobile"]) if data.get("mobile") else None,
        employee_no=_attr(data, employee_no_attr) if employee_no_attr else None,
        title=str(data.get("position") or ""), leads_units=leads,
        direct_leaders=tuple(str(u) for u in data.get("direct_leader") or [] if u),
        active=status not in GONE_STATUSES,
    )


async def fetch_org(
    client: WeComClient, *, employee_no_attr: str = "工号", per_minute: int = PER_MINUTE,
    sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.monotonic,
) -> OrgSnapshot:
    """Every department and member the app may see (its 可见范围).

    Args:
        client: The app's client.
        employee_no_attr: The custom field (extattr) holding the employee number, if any.
        per_minute: Calls per minute per API this read may use.

    Raises:
        PlatformError: No contacts permission (48002, 60011), a malformed or partial answer.
        TransientDeliveryError: Still throttled or unreachable after retries.
    """
    reader = ContactReader(client, per_minute=per_minute, sleep=sleep, clock=clock)
    units = await reader.units()
    pairs = await reader.memberships()
    details = await asyncio.gather(*(reader.member(u) for u in pairs))
    members, notes = [], []
    for userid, data in zip(pairs, details, strict=True):
        if data is None:
            notes.append(f"member {userid} was removed while the org was being read")
            continue
        members.append(_member(data, employee_no_attr))
    return OrgSnapshot(
        platform=PLATFORM, units=tuple(units), members=tuple(members),
        api_calls=dict(reader.calls), notes=tuple(notes),
    )
