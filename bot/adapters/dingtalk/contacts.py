"""DingTalk contacts (通讯录): the whole org tree and its people, read for the directory sync.

Old-style APIs on ``oapi.dingtalk.com`` (token in the query, errors as ``errcode`` in an
HTTP 200 answer):

* ``topapi/v2/department/get`` for the top department (id 1), whose name heads every path;
* ``topapi/v2/department/listsub`` per department: its direct children (not paged);
* ``topapi/v2/user/list`` per department: its members, ``size`` ≤ 100 per page, continued
  with ``cursor`` = the previous page's ``next_cursor`` while ``has_more``. Each row says
  whether the member is a ``leader`` (主管) *of the department listed*, so leaders come free.

Every call takes its API's slot in the client's per-API limiter (20 calls/s per app and
API). Contacts APIs do not count against the monthly quota, so the client given here
need not meter them. A throttled answer (90018/90002) is retried after
a second, as DingTalk advises; any other error stops the read (the sync then changes
nothing).

Sources:
    https://open.dingtalk.com/document/orgapp/query-department-details0-v2
    https://open.dingtalk.com/document/orgapp/obtain-the-department-list-v2
    https://open.dingtalk.com/document/orgapp/queries-the-complete-information-of-a-department-user
    https://open.dingtalk.com/document/development/how-to-process-api-throttling-on-the-dingtalk-server
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from bot.adapters.dingtalk.api_errors import PLATFORM, check_errcode, error_for, json_object
from bot.adapters.dingtalk.client import DingTalkClient
from bot.core.errors import PlatformError
from bot.pipeline.directory import Member, OrgSnapshot, OrgUnit
from bot.pipeline.messenger import TransientDeliveryError

DEPT_GET = "/topapi/v2/department/get"
DEPT_LISTSUB = "/topapi/v2/department/listsub"
USER_LIST = "/topapi/v2/user/list"
ROOT_DEPT = 1
PAGE_SIZE = 100
RETRIES = 3
# Calls in flight at once per API; the limiter still spaces them to 20/s per API.
CONCURRENCY = 8

Sleep = Callable[[float], Awaitable[object]]


class ContactReader:
    """One full read of the org; counts the calls it makes per API."""

    def __init__(self, client: DingTalkClient, *, sleep: Sleep = asyncio.sleep) -> None:
        self.client = client
        self.sleep = sleep
        self.calls: Counter[str] = Counter()
        # One gate per API: calls waiting for one API's limit must not hold up the other's.
        self._gates: dict[str, asyncio.Semaphore] = {}

    async def call(self, path: str, body: dict[str, Any]) -> Any:
        """One old-API call; returns its ``result``."""
        oapi = self.client.config.oapi_base.rstrip("/")
        for attempt in range(RETRIES + 1):
            try:
                async with self._gates.setdefault(path, asyncio.Semaphore(CONCURRENCY)):
                    token = await self.client.access_token()
                    self.calls[path] += 1
                    response = await self.client._send(
                        "POST", oapi + path, body, None, {"access_token": token}, api=path
                    )
                if response.status_code != 200:
                    raise error_for(response)
                data = json_object(response, path)
                check_errcode(data, path)
                return data.get("result")
            except TransientDeliveryError:
                if attempt == RETRIES:
                    raise
                await self.sleep(1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    async def units(self, found_one: Callable[[OrgUnit], None]) -> list[OrgUnit]:
        """Every department, breadth first; ``found_one`` hears of each as it is found."""
        root = await self.call(DEPT_GET, {"dept_id": ROOT_DEPT})
        if not isinstance(root, dict) or not root.get("name"):
            raise PlatformError(PLATFORM, "bad_department_answer", "no top department")
        found = [OrgUnit(str(ROOT_DEPT), str(root["name"]), None)]
        found_one(found[0])
        level = [ROOT_DEPT]
        seen = {ROOT_DEPT}
        while level:
            answers = await asyncio.gather(
                *(self.call(DEPT_LISTSUB, {"dept_id": dept}) for dept in level)
            )
            level = []
            for children in answers:
                if not isinstance(children, list):
                    raise PlatformError(PLATFORM, "bad_department_answer", "listsub: no list")
                for row in children:
                    unit = _unit(row)
                    # A department listed twice (a cycle on the platform) is read once.
                    if int(unit.unit_id) in seen:
                        continue
                    seen.add(int(unit.unit_id))
                    found.append(unit)
                    found_one(unit)
                    level.append(int(unit.unit_id))
        return found

    async def members_of(self, dept_id: str) -> list[tuple[dict[str, Any], str]]:
        rows: list[tuple[dict[str, Any], str]] = []
        cursor = 0
        while True:
            page = await self.call(
                USER_LIST, {"dept_id": int(dept_id), "cursor": cursor, "size": PAGE_SIZE}
            )
            if not isinstance(page, dict) or not isinstance(page.get("list"), list):
                raise PlatformError(PLATFORM, "bad_user_answer", f"user/list {dept_id}: no list")
            rows += [(row, dept_id) for row in page["list"] if isinstance(row, dict)]
            if not page.get("has_more"):
                return rows
            following = page.get("next_cursor")
            # A page that says "more" without saying where is a partial answer: stop.
            if not isinstance(following, int) or following <= cursor:
                raise PlatformError(PLATFORM, "partial_page", f"user/list {dept_id}: no cursor")
            cursor = following


def _unit(row: Any) -> OrgUnit:
    if not isinstance(row, dict) or not isinstance(row.get("dept_id"), int):
        raise PlatformError(PLATFORM, "bad_department_answer", "department without dept_id")
    parent = row.get("parent_id")
    return OrgUnit(
        unit_id=str(row["dept_id"]), name=str(row.get("name") or row["dept_id"]),
        parent_id=str(parent) if isinstance(parent, int) else None,
    )


def _member(rows: list[tuple[dict[str, Any], str]]) -> Member:
    """One user from every department listing that showed them."""
    first = rows[0][0]
    listed_in = [str(d) for d in first.get("dept_id_list") or [] if isinstance(d, int)]
    units = tuple(dict.fromkeys(listed_in or [dept for _, dept in rows]))
    leads = tuple(dict.fromkeys(dept for row, dept in rows if row.get("leader") is True))
    mobile = first.get("mobile")
    return Member(
        user_id=str(first["userid"]), name=str(first.get("name") or first["userid"]),
        unit_ids=units, main_unit_id=units[0] if units else None,
        union_id=str(first["unionid"]) if first.get("unionid") else None,
        mobile=str(mobile) if mobile else None,
        employee_no=str(first["job_number"]) if first.get("job_number") else None,
        title=str(first.get("title") or ""), leads_units=leads,
    )


async def fetch_org(client: DingTalkClient, *, sleep: Sleep = asyncio.sleep) -> OrgSnapshot:
    """Every department and member the app may see.

    Raises:
        PlatformError: No contacts permission, a malformed or partial answer.
        TransientDeliveryError: Still throttled or unreachable after retries.
    """
    reader = ContactReader(client, sleep=sleep)
    # Members are listed while the tree is still being walked: the two APIs have separate
    # limits, so the read takes as long as the busier one, not both.
    listing: list[asyncio.Task[list[tuple[dict[str, Any], str]]]] = []

    def list_members(unit: OrgUnit) -> None:
        listing.append(asyncio.ensure_future(reader.members_of(unit.unit_id)))

    try:
        units = await reader.units(list_members)
        listings = await asyncio.gather(*listing)
    finally:
        for task in listing:
            task.cancel()
    by_user: dict[str, list[tuple[dict[str, Any], str]]] = {}
    notes: list[str] = []
    for rows in listings:
        for row, dept in rows:
            if not isinstance(row.get("userid"), str) or not row["userid"]:
                notes.append(f"department {dept}: a member without userid was skipped")
                continue
            by_user.setdefault(row["userid"], []).append((row, dept))
    members = tuple(_member(rows) for rows in by_user.values())
    return OrgSnapshot(
        platform=PLATFORM, units=tuple(units), members=members,
        api_calls=dict(reader.calls), notes=tuple(notes),
    )
