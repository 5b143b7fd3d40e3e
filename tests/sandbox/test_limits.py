"""The fakes enforce the platforms' documented send limits the way the platforms do.

DingTalk refuses the 21st call to one API within a second (``QpsLimitForAppkeyAndApi``);
WeCom answers ok to the 31st message to one member within a minute and never delivers it,
which the fake counts so tests can assert no message was lost that way.
"""

from __future__ import annotations

import asyncio
import json

from tests.sandbox.conftest import AGENT_ID, ROBOT, Sandbox


async def test_wecom_drops_the_31st_message_to_a_member_and_counts_it(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    answers = []
    for n in range(31):
        _, data = await sandbox.call(
            "POST", "/cgi-bin/message/send",
            {"touser": "lihr|zhangjl" if n == 30 else "lihr", "msgtype": "text",
             "agentid": AGENT_ID, "text": {"content": f"第{n + 1}条"}},
            params={"access_token": token},
        )
        answers.append(data["errcode"])
    assert answers == [0] * 31  # WeCom never says
    _, inbox = await sandbox.api("GET", "inbox", person="lihr", platform="wecom")
    assert [m["text"] for m in inbox["messages"]] == [f"第{n + 1}条" for n in range(30)]
    _, other = await sandbox.api("GET", "inbox", person="zhangjl", platform="wecom")
    assert [m["text"] for m in other["messages"]] == ["第31条"]  # one member's limit only
    _, limits = await sandbox.api("GET", "limits")
    assert limits == {"dingtalk_throttled": 0, "wecom_dropped": 1}
    await sandbox.api("POST", "clock/advance", {"minutes": 1})
    _, data = await sandbox.call(
        "POST", "/cgi-bin/message/send",
        {"touser": "lihr", "msgtype": "text", "agentid": AGENT_ID,
         "text": {"content": "下一分钟"}},
        params={"access_token": token},
    )
    _, inbox = await sandbox.api("GET", "inbox", person="lihr", platform="wecom")
    assert inbox["messages"][-1]["text"] == "下一分钟"


async def test_dingtalk_refuses_the_21st_call_to_one_api_in_a_second(sandbox: Sandbox) -> None:
    headers = await sandbox.dingtalk_token()
    body = {"robotCode": ROBOT, "userIds": ["dt_zhang"], "msgKey": "sampleText",
            "msgParam": json.dumps({"content": "hi"})}
    results = await asyncio.gather(*(
        sandbox.call("POST", "/v1.0/robot/oToMessages/batchSend", body, headers=headers)
        for _ in range(21)
    ))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 20 + [403]
    refused = next(data for status, data in results if status == 403)
    assert refused["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    # Another API has its own 20 a second.
    status, _ = await sandbox.call(
        "POST", "/v1.0/robot/groupMessages/send",
        {"robotCode": ROBOT, "openConversationId": "cid-none", "msgKey": "sampleText",
         "msgParam": json.dumps({"content": "hi"})}, headers=headers)
    assert status != 403
    _, limits = await sandbox.api("GET", "limits")
    assert limits["dingtalk_throttled"] == 1
