"""The sandbox as a showroom: pictures uploaded and shown, a clock that goes to a time of day
or the bot's next event and says when messages are held, the page's first person, no stray
favicon call."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp

from sandbox.org import Person
from sandbox.page import start_person
from tests.sandbox.conftest import AGENT_ID, ROBOT, Sandbox

# A 1×1 PNG: the bytes must come back as they were uploaded.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


async def upload(box: Sandbox, path: str, token: str, kind: str = "image") -> tuple[int, Any]:
    # Multipart with the file in the "media" field, as both platforms document
    # (https://developer.work.weixin.qq.com/document/path/90253,
    #  https://open.dingtalk.com/document/orgapp/upload-media-files).
    form = aiohttp.FormData()
    form.add_field("media", PNG, filename="chart.png", content_type="image/png")
    async with box.http.post(f"{box.url}{path}", data=form,
                             params={"access_token": token, "type": kind}) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_a_wecom_image_message_shows_the_uploaded_picture(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    status, uploaded = await upload(sandbox, "/cgi-bin/media/upload", token)
    assert status == 200 and uploaded["errcode"] == 0 and uploaded["type"] == "image"
    # https://developer.work.weixin.qq.com/document/path/90236 (image message)
    _, sent = await sandbox.call("POST", "/cgi-bin/message/send", {
        "touser": "lihr", "agentid": AGENT_ID, "msgtype": "image",
        "image": {"media_id": uploaded["media_id"]}}, params={"access_token": token})
    assert sent["errcode"] == 0
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="wecom")
    [message] = inbox["messages"]
    assert message["kind"] == "image" and message["media"]["known"]
    async with sandbox.http.get(sandbox.url + message["media"]["url"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert await resp.read() == PNG
    # The upload is recorded by size, not as mangled bytes.
    _, calls = await sandbox.api("GET", "calls", path="/cgi-bin/media/upload")
    assert calls["calls"][0]["body"]["multipart_bytes"] > len(PNG)


async def test_a_wecom_image_with_an_unknown_media_id_is_refused(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    _, sent = await sandbox.call("POST", "/cgi-bin/message/send", {
        "touser": "lihr", "agentid": AGENT_ID, "msgtype": "image",
        "image": {"media_id": "3nope"}}, params={"access_token": token})
    assert sent["errcode"] == 40007


async def test_a_dingtalk_sample_image_message_shows_the_picture(sandbox: Sandbox) -> None:
    headers = await sandbox.dingtalk_token()
    token = headers["x-acs-dingtalk-access-token"]
    status, refused = await upload(sandbox, "/media/upload", "not-a-token")
    assert status == 200 and refused["errcode"] == 40014
    _, uploaded = await upload(sandbox, "/media/upload", token)
    assert uploaded["errcode"] == 0 and uploaded["media_id"].startswith("@")
    # sampleImageMsg: https://open.dingtalk.com/document/orgapp/types-of-messages-sent-by-robots
    status, _ = await sandbox.call("POST", "/v1.0/robot/oToMessages/batchSend", {
        "robotCode": ROBOT, "userIds": ["dt_li"], "msgKey": "sampleImageMsg",
        "msgParam": json.dumps({"photoURL": uploaded["media_id"]})}, headers=headers)
    assert status == 200
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="dingtalk")
    [message] = inbox["messages"]
    assert message["kind"] == "image" and message["media"]["url"].endswith(uploaded["media_id"])
    _, listed = await sandbox.api("GET", "conversations", person="E011", platform="dingtalk")
    assert listed["conversations"][0]["last"] == "[图片]"


async def test_an_upload_without_a_file_or_a_token_is_refused(sandbox: Sandbox) -> None:
    status, refused = await upload(sandbox, "/cgi-bin/media/upload", "")
    assert status == 200 and refused["errcode"] == 41001
    token = await sandbox.wecom_token()
    _, wrong = await upload(sandbox, "/cgi-bin/media/upload", token, kind="gif")
    assert wrong["errcode"] == 40004
    async with sandbox.http.post(f"{sandbox.url}/cgi-bin/media/upload", data=b"x",
                                 params={"access_token": token, "type": "image"}) as resp:
        assert (await resp.json(content_type=None))["errcode"] == 41005


async def test_the_clock_goes_to_a_time_of_day(sandbox: Sandbox) -> None:
    _, before = await sandbox.api("GET", "clock")
    status, after = await sandbox.api("POST", "clock/advance", {"days": 1, "at": "09:00"})
    assert status == 200, after
    start, end = datetime.fromisoformat(before["now"]), datetime.fromisoformat(after["now"])
    assert end.strftime("%H:%M") == "09:00" and (end.date() - start.date()).days == 1
    _, monday = await sandbox.api("POST", "clock/advance",
                                  {"days": 5, "at": "10:00", "working_day": True})
    assert datetime.fromisoformat(monday["now"]).weekday() < 5
    status, bad = await sandbox.api("POST", "clock/advance", {"days": 1, "at": "25:00"})
    assert status == 400 and "HH:MM" in bad["error"]


class Schedule:
    """A stand-in for the bot's schedule: one item due in two hours, quiet until then."""

    def __init__(self, now: float) -> None:
        self.due = now + 7200

    async def upcoming(self, limit: int) -> list[dict[str, Any]]:
        return [{"due_ms": int(self.due * 1000), "kind": "sla.remind", "step": "hr_review",
                 "candidate": "张三", "who": "李HR"}][:limit]

    def quiet_rule(self) -> str:
        return "21:00–08:30，休息日全天"

    async def held_until(self, at: float) -> float | None:
        return self.due if at < self.due else None


async def test_next_event_jumps_to_the_bots_next_due_item(sandbox: Sandbox) -> None:
    status, none = await sandbox.api("POST", "clock/advance", {"next": True})
    assert status == 409 and "没有待发生的事件" in none["error"]
    schedule = Schedule(sandbox.world.now())
    sandbox.settings.bot_view = schedule
    _, clock = await sandbox.api("GET", "clock")
    assert clock["held_until_ms"] == int(schedule.due * 1000)
    _, listed = await sandbox.api("GET", "upcoming")
    assert listed["known"] and listed["items"][0]["who"] == "李HR"
    status, after = await sandbox.api("POST", "clock/advance", {"next": True})
    assert status == 200 and after["now_ms"] >= schedule.due * 1000
    assert after["held_until"] is None
    async with sandbox.http.get(f"{sandbox.url}/sandbox/") as resp:
        assert '"quietRule": "21:00–08:30，休息日全天"' in await resp.text()


async def test_favicon_is_served_and_not_recorded(sandbox: Sandbox) -> None:
    async with sandbox.http.get(f"{sandbox.url}/favicon.ico") as resp:
        assert resp.status == 200 and "svg" in resp.content_type
    _, calls = await sandbox.api("GET", "calls")
    assert calls["calls"] == []


def test_the_page_opens_as_the_first_referrer() -> None:
    people = [Person("E001", "王总", roles=("leader",)),
              Person("E020", "张经理", roles=("referrer", "hiring_manager"))]
    assert start_person(people, None) == "E020"
    assert start_person(people, "E001") == "E001"
    assert start_person(people, "E999") == "E020"
    assert start_person([people[0]], None) == "E001"


async def test_the_page_boots_as_zhang(sandbox: Sandbox) -> None:
    async with sandbox.http.get(f"{sandbox.url}/sandbox/") as resp:
        html = await resp.text()
    assert '"startPerson": "E020"' in html


async def test_counts_say_who_has_messages_on_which_platform(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    _, sent = await sandbox.call("POST", "/cgi-bin/message/send", {
        "touser": "lihr|zhangjl", "agentid": AGENT_ID, "msgtype": "text",
        "text": {"content": "你好"}}, params={"access_token": token})
    assert sent["errcode"] == 0
    _, data = await sandbox.api("GET", "counts")
    assert data["counts"]["E011"] == {"dingtalk": 0, "wecom": 1}
    assert data["counts"]["E020"]["wecom"] == 1 and data["counts"]["E001"]["wecom"] == 0


async def test_a_wecom_file_message_names_the_file(sandbox: Sandbox) -> None:
    token = await sandbox.wecom_token()
    form = aiohttp.FormData()
    form.add_field("media", "简历内容".encode(), filename="张三简历.pdf",
                   content_type="application/pdf")
    async with sandbox.http.post(f"{sandbox.url}/cgi-bin/media/upload", data=form,
                                 params={"access_token": token, "type": "file"}) as resp:
        uploaded = await resp.json(content_type=None)
    # https://developer.work.weixin.qq.com/document/path/90236 (file message)
    _, sent = await sandbox.call("POST", "/cgi-bin/message/send", {
        "touser": "lihr", "agentid": AGENT_ID, "msgtype": "file",
        "file": {"media_id": uploaded["media_id"]}}, params={"access_token": token})
    assert sent["errcode"] == 0
    _, inbox = await sandbox.api("GET", "inbox", person="E011", platform="wecom")
    [message] = inbox["messages"]
    assert message["kind"] == "file" and message["media"]["filename"] == "张三简历.pdf"
    async with sandbox.http.get(sandbox.url + message["media"]["url"]) as resp:
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert (await resp.read()).decode() == "简历内容"
