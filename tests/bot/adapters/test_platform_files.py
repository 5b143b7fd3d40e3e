"""Sending a file a platform holds: DingTalk uploads it again as media and sends a file
message, WeCom sends the media id as a file message; a file from the other platform is
refused, not garbled."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
import respx

from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.config.schema import DingTalkConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.serve.stores import DatabaseStores
from cards.models import Card
from storage.db import SessionFactory
from tests._support.clock import FakeClock
from tests.bot.adapters.test_wecom_client import API as WECOM_API
from tests.bot.adapters.test_wecom_client import CONFIG as WECOM_CONFIG
from tests.bot.adapters.test_wecom_client import GETTOKEN, SEND_OK

DINGTALK_API = "https://api.dingtalk.com"
DINGTALK_OAPI = "https://oapi.dingtalk.com"
INTRO = Card(title="推荐 #7 的附件 · 张三简历.pdf", body="请勿转发。")
URL = "https://download.example.com/f?sig=abc"


def file_message(platform: str, target: str, ref: str, kind: str = "file") -> OutboundMessage:
    return OutboundMessage(
        outbox_id=1, idempotency_key="k", platform=platform, target_kind="person",
        target=target, group=False, kind="file", card=INTRO,
        file={"kind": kind, "filename": "张三简历.pdf", "platform": platform, "ref": ref})


@pytest.fixture
async def dingtalk(clock: FakeClock) -> AsyncIterator[tuple[DingTalkMessenger, respx.MockRouter]]:
    config = DingTalkConfig(app_key="k", app_secret="s", robot_code="robot",
                            card_template_id="tpl")
    with respx.mock(base_url=DINGTALK_API, assert_all_called=False) as router:
        router.post("/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        router.post("/v1.0/robot/messageFiles/download").respond(json={"downloadUrl": URL})
        router.post("/v1.0/robot/oToMessages/batchSend").respond(json={"processQueryKey": "q"})
        async with httpx.AsyncClient() as http:
            yield DingTalkMessenger(DingTalkClient(config, http, clock), "tpl", "robot"), router


def body_of(router: respx.MockRouter, path: str) -> dict:
    [call] = [c for c in router.calls if c.request.url.path == path]
    return json.loads(call.request.content)


# Received files: POST /v1.0/robot/messageFiles/download {robotCode, downloadCode} → a
# short-lived downloadUrl (https://open.dingtalk.com/document/orgapp/download-the-file-content-
# of-the-robot-receiving-message); re-uploaded with oapi /media/upload?type=file
# (https://open.dingtalk.com/document/orgapp/upload-media-files, answer {errcode, media_id})
# and sent as sampleFile {mediaId, fileName, fileType} (robot message types, see
# tests/data/platforms/dingtalk_robot_send.json).
async def test_dingtalk_file_is_uploaded_again_and_sent_as_a_file_message(
    dingtalk: tuple[DingTalkMessenger, respx.MockRouter]
) -> None:
    messenger, router = dingtalk
    router.get(URL).respond(content=b"%PDF-1.4 resume")
    upload = router.post(f"{DINGTALK_OAPI}/media/upload").respond(
        json={"errcode": 0, "errmsg": "ok", "type": "file", "media_id": "@lAz-FILE",
              "created_at": 1700000000000})
    await messenger.deliver(file_message("dingtalk", "dt_li", "DLCODE-1"))
    assert body_of(router, "/v1.0/robot/messageFiles/download") == {
        "robotCode": "robot", "downloadCode": "DLCODE-1"}
    [call] = upload.calls
    assert call.request.url.params["type"] == "file"
    assert b"%PDF-1.4 resume" in call.request.content
    sends = [json.loads(c.request.content) for c in router.calls
             if c.request.url.path == "/v1.0/robot/oToMessages/batchSend"]
    assert [s["msgKey"] for s in sends] == ["sampleMarkdown", "sampleFile"]
    assert json.loads(sends[0]["msgParam"])["title"] == INTRO.title
    assert URL not in sends[0]["msgParam"]  # no link that would expire
    assert json.loads(sends[1]["msgParam"]) == {
        "mediaId": "@lAz-FILE", "fileName": "张三简历.pdf", "fileType": "pdf"}


async def test_dingtalk_file_upload_failure_sends_nothing(
    dingtalk: tuple[DingTalkMessenger, respx.MockRouter]
) -> None:
    messenger, router = dingtalk
    router.get(URL).respond(content=b"x")
    router.post(f"{DINGTALK_OAPI}/media/upload").respond(503)
    with pytest.raises(TransientDeliveryError):
        await messenger.deliver(file_message("dingtalk", "dt_li", "DLCODE-1"))
    assert not [c for c in router.calls
                if c.request.url.path == "/v1.0/robot/oToMessages/batchSend"]


async def test_dingtalk_refuses_a_wecom_file(
    dingtalk: tuple[DingTalkMessenger, respx.MockRouter]
) -> None:
    messenger, router = dingtalk
    foreign = replace(file_message("dingtalk", "dt_li", "x"),
                      file={"platform": "wecom", "ref": "MEDIA", "filename": "a.pdf"})
    with pytest.raises(PlatformError, match="DingTalk files"):
        await messenger.deliver(foreign)
    assert not router.calls


@pytest.fixture
async def wecom(
    clock: FakeClock, session_factory: SessionFactory
) -> AsyncIterator[tuple[WeComMessenger, respx.MockRouter]]:
    with respx.mock(base_url=WECOM_API, assert_all_called=False) as router:
        router.get("/cgi-bin/gettoken").respond(json=GETTOKEN["response"])
        router.post("/cgi-bin/message/send").respond(json=SEND_OK)
        async with httpx.AsyncClient() as http:
            client = WeComClient(WECOM_CONFIG, http, clock)
            yield WeComMessenger(client, DatabaseStores(session_factory), WECOM_CONFIG.agent_id,
                                 clock=clock), router


async def test_wecom_file_goes_as_a_file_message_after_its_card(
    wecom: tuple[WeComMessenger, respx.MockRouter]
) -> None:
    messenger, router = wecom
    await messenger.deliver(file_message("wecom", "lihr", "MEDIA-1"))
    sends = [json.loads(c.request.content) for c in router.calls
             if c.request.url.path == "/cgi-bin/message/send"]
    assert [s["msgtype"] for s in sends] == ["markdown", "file"]
    assert sends[0]["markdown"]["content"].startswith("**推荐 #7 的附件")
    assert sends[1]["file"] == {"media_id": "MEDIA-1"} and sends[1]["touser"] == "lihr"


async def test_wecom_image_goes_as_an_image(
    wecom: tuple[WeComMessenger, respx.MockRouter]
) -> None:
    messenger, router = wecom
    await messenger.deliver(file_message("wecom", "lihr", "MEDIA-2", kind="image"))
    last = json.loads(router.calls[-1].request.content)
    assert last["msgtype"] == "image" and last["image"] == {"media_id": "MEDIA-2"}
