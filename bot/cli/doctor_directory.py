"""`hrbot doctor`: people in hrbot's directory that a platform does not know, or cannot reach.

DingTalk: each person's userId is looked up (``topapi/v2/user/get``; errcode 60121 = no such
user); contact reads do not count against the monthly quota. WeCom: the people outside the
app's visible range (``agent/get``) get no cards, so they are named when the range lists
members only (with departments in it, membership is not read).

Sources:
    https://open.dingtalk.com/document/orgapp/query-user-details
    https://developer.work.weixin.qq.com/document/path/90227
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.wecom.client import WeComClient
from bot.cli.doctor_dingtalk import Check
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError
from storage.models import Person

MAX_LOOKUPS = 200
NOT_FOUND = "60121"
SHOWN = 5


def _named(people: Sequence[Person], ids: Sequence[str]) -> str:
    listed = ", ".join(f"{p.employee_no} {p.name} ({i})" for p, i in zip(people, ids,
                                                                          strict=True))
    more = len(people) - SHOWN
    return listed if more <= 0 else f"{listed} and {more} more"


async def dingtalk_people(client: DingTalkClient, people: Sequence[Person]) -> Check:
    """Every person's dingtalk_user_id (up to 200) looked up on DingTalk."""
    wanted = [p for p in people if p.active and p.dingtalk_user_id][:MAX_LOOKUPS]
    unknown: list[Person] = []
    for person in wanted:
        try:
            await client.oapi("POST", "/topapi/v2/user/get", {"userid": person.dingtalk_user_id})
        except PlatformError as err:
            if str(err.errcode) != NOT_FOUND:
                return Check("dingtalk directory", False, (
                    f"cannot look people up ({err.errcode} {err.errmsg}): grant 成员信息读权限 "
                    "(qyapi_get_member) in 权限管理"))
            unknown.append(person)
        except TransientDeliveryError as err:
            return Check("dingtalk directory", False, f"not checked: {err}")
    if unknown:
        shown = unknown[:SHOWN]
        return Check("dingtalk directory", False, (
            f"{len(unknown)} of {len(wanted)} people unknown to DingTalk: "
            + _named(shown, [str(p.dingtalk_user_id) for p in shown])
            + "; fix dingtalk_user_id in the directory CSV and `hrbot import directory`"))
    return Check("dingtalk directory", True, f"all {len(wanted)} people known to DingTalk")


async def wecom_people(client: WeComClient, access_token: str, people: Sequence[Person]
                       ) -> Check:
    """People with a wecom_userid outside the app's visible range (members-only ranges)."""
    wanted = [p for p in people if p.active and p.wecom_userid]
    try:
        data = await client._request("GET", "/cgi-bin/agent/get", params={
            "access_token": access_token, "agentid": str(client.config.agent_id)})
    except (PlatformError, TransientDeliveryError) as err:
        return Check("wecom directory", False, f"not checked: {err}")
    if data.get("errcode", 0) != 0:
        return Check("wecom directory", False, f"not checked: errcode {data.get('errcode')}")
    if (data.get("allow_partys") or {}).get("partyid") or (data.get("allow_tags") or {}).get(
            "tagid"):
        return Check("wecom directory", True, "visible range has departments or tags: "
                     "membership not read (WeCom reports invaliduser per send)")
    visible = {str(u.get("userid", "")).lower()
               for u in (data.get("allow_userinfos") or {}).get("user") or []}
    outside = [p for p in wanted if str(p.wecom_userid).lower() not in visible]
    if outside:
        shown = outside[:SHOWN]
        return Check("wecom directory", False, (
            f"{len(outside)} of {len(wanted)} people outside the app's 可见范围: "
            + _named(shown, [str(p.wecom_userid) for p in shown])
            + "; add them to the app's 可见范围 or fix wecom_userid in the directory"))
    return Check("wecom directory", True, f"all {len(wanted)} people can see the app")
