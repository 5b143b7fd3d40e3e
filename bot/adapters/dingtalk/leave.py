"""DingTalk attendance: who is on leave when (``topapi/attendance/getleavestatus``).

Needs the app's attendance read permission (考勤 / 假勤) in the developer console; without
it DingTalk answers with a non-zero ``errcode``. Old-style API: ``access_token`` in the
query, errors as ``errcode`` in an HTTP 200 answer; up to 100 user ids per call, 20 records
per page, a window of at most 180 days.

Source: https://open.dingtalk.com/document/orgapp-server/query-status
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.adapters.dingtalk.api_errors import PLATFORM
from bot.adapters.dingtalk.client import DingTalkClient
from bot.core.errors import PlatformError
from bot.pipeline.directory import LeaveSpan

LEAVE_STATUS_PATH = "/topapi/attendance/getleavestatus"
MAX_USERS = 100
PAGE_SIZE = 20


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _span(row: Any) -> LeaveSpan | None:
    if not isinstance(row, dict):
        return None
    user, start, end = row.get("userid"), row.get("start_time"), row.get("end_time")
    if not isinstance(user, str) or not isinstance(start, int) or not isinstance(end, int):
        return None
    if end <= start:
        return None
    return LeaveSpan(
        user, datetime.fromtimestamp(start / 1000, UTC), datetime.fromtimestamp(end / 1000, UTC)
    )


async def fetch_leave_status(
    client: DingTalkClient, user_ids: Sequence[str], start: datetime, end: datetime
) -> list[LeaveSpan]:
    """Every leave of these users overlapping [start, end) (DingTalk allows up to 180 days).

    Raises:
        TransientDeliveryError: throttled or unreachable; try again later.
        PlatformError: no permission (errcode 60011 and the like) or a bad answer.
    """
    spans: list[LeaveSpan] = []
    for first in range(0, len(user_ids), MAX_USERS):
        batch = ",".join(user_ids[first : first + MAX_USERS])
        offset = 0
        while True:
            data = await client.oapi(
                "POST", LEAVE_STATUS_PATH,
                {"userid_list": batch, "start_time": _ms(start), "end_time": _ms(end),
                 "offset": offset, "size": PAGE_SIZE},
            )
            result = data.get("result")
            if not isinstance(result, dict):
                raise PlatformError(PLATFORM, "bad_leave_answer", "no result")
            rows = result.get("leave_status") or []
            spans += [s for s in map(_span, rows) if s is not None]
            if not result.get("has_more") or not rows:
                break
            offset += PAGE_SIZE
    return spans
