"""A card's picture (``Card.image``, a stored chart) reaches people the way each platform
needs: WeCom uploads temporary media and sends an image message after the card; DingTalk
uploads media on oapi and the robot sends it as ``sampleImageMsg``. A picture that cannot go
is skipped, never holding back or repeating the card. Outbound HTTP is mocked with respx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.media import DingTalkCardImages
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.messenger import WeComMessenger
from bot.config.schema import DingTalkConfig
from bot.pipeline.messenger import OutboundMessage
from bot.serve.stores import DatabaseStores
from cards.models import Card
from handlers.insight.chart import render_chart
from storage.db import SessionFactory, session_scope
from storage.repo.insight_settings import save_chart
from tests._support.clock import FakeClock
from tests.bot.adapters.test_wecom_client import API as WECOM_API
from tests.bot.adapters.test_wecom_client import CONFIG as WECOM_CONFIG
from tests.bot.adapters.test_wecom_client import GETTOKEN, SEND_OK

DINGTALK_API = "https://api.dingtalk.com"
DINGTALK_OAPI = "https://oapi.dingtalk.com"
VIEW = {
    "total": 12, "hired": 3, "hire_rate": 25, "since": datetime(2026, 1, 1, tzinfo=UTC),
    "until": None,
    "funnel": [{"stage": "submitted", "n": 12, "rate": 100}, {"stage": "hired", "n": 3,
                                                               "rate": 25}],
    "stages": [{"stage": "leader_approval", "n": 8, "mean_h": 50.0, "p50_h": 48.0,
                "p90_h": 70.0}],
}


@pytest.fixture
async def chart(session_factory: SessionFactory, clock: FakeClock) -> tuple[str, bytes]:
    png = render_chart(VIEW)
    async with session_scope(session_factory) as session:
        return await save_chart(session=session, png=png, now=clock.now), png


def message(
    card: Card, *, target: str, group: bool = False, platform: str = "wecom"
) -> OutboundMessage:
    return OutboundMessage(
        outbox_id=1, idempotency_key="k1", platform=platform,
        target_kind="conversation" if group else "person", target=target, group=group,
        kind="card", card=card)


def test_the_chart_is_a_png_with_ascii_labels_only() -> None:
    png = render_chart(VIEW)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # Rendering is deterministic, so one chart is stored once however often it is asked for.
    assert render_chart(VIEW) == png
    empty = render_chart({**VIEW, "stages": []})
    assert empty.startswith(b"\x89PNG") and empty != png


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


async def test_wecom_uploads_the_chart_and_sends_it_after_the_card(
    wecom: tuple[WeComMessenger, respx.MockRouter], chart: tuple[str, bytes]
) -> None:
    messenger, router = wecom
    ref, png = chart
    upload = router.post("/cgi-bin/media/upload").respond(
        json={"errcode": 0, "errmsg": "ok", "type": "image", "media_id": "MEDIA-CHART",
              "created_at": "1380000000"})
    await messenger.deliver(message(Card(title="推荐统计 · 总部", image=ref), target="lihr"))

    [call] = upload.calls
    assert call.request.url.params["type"] == "image"
    assert call.request.url.params["access_token"]
    assert b'name="media"; filename="chart.png"' in call.request.content
    assert png in call.request.content
    sends = [json.loads(c.request.content) for c in router.calls
             if c.request.url.path == "/cgi-bin/message/send"]
    assert [s["msgtype"] for s in sends] == ["markdown", "image"]
    assert sends[1]["image"] == {"media_id": "MEDIA-CHART"} and sends[1]["touser"] == "lihr"


async def test_wecom_card_still_arrives_when_the_upload_is_refused(
    wecom: tuple[WeComMessenger, respx.MockRouter], chart: tuple[str, bytes]
) -> None:
    messenger, router = wecom
    router.post("/cgi-bin/media/upload").respond(json={"errcode": 40004, "errmsg": "bad"})
    await messenger.deliver(message(Card(title="推荐统计", image=chart[0]), target="lihr"))
    sends = [json.loads(c.request.content) for c in router.calls
             if c.request.url.path == "/cgi-bin/message/send"]
    assert [s["msgtype"] for s in sends] == ["markdown"]
    # A pruned chart is skipped the same way, without calling WeCom for it.
    await messenger.deliver(message(Card(title="推荐统计", image="chart:999"), target="lihr"))
    assert len([c for c in router.calls if c.request.url.path == "/cgi-bin/media/upload"]) == 1


@pytest.fixture
async def dingtalk(
    clock: FakeClock, session_factory: SessionFactory
) -> AsyncIterator[tuple[DingTalkMessenger, respx.MockRouter]]:
    config = DingTalkConfig(app_key="k", app_secret="s", robot_code="robot",
                            card_template_id="tpl")
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{DINGTALK_API}/v1.0/oauth2/accessToken").respond(
            json={"accessToken": "tok", "expireIn": 7200})
        router.post(f"{DINGTALK_API}/v1.0/card/instances/createAndDeliver").respond(
            json={"success": True, "result": {"outTrackId": "x", "deliverResults": []}})
        router.post(f"{DINGTALK_API}/v1.0/robot/oToMessages/batchSend").respond(
            json={"processQueryKey": "q"})
        router.post(f"{DINGTALK_API}/v1.0/robot/groupMessages/send").respond(
            json={"processQueryKey": "g"})
        router.post(f"{DINGTALK_OAPI}/media/upload").respond(
            json={"errcode": 0, "errmsg": "ok", "type": "image", "media_id": "@lADPchart",
                  "created_at": 1380000000000})
        async with httpx.AsyncClient() as http:
            client = DingTalkClient(config, http, clock)
            images = DingTalkCardImages(client, DatabaseStores(session_factory))
            yield DingTalkMessenger(client, "tpl", "robot", images=images), router


def calls_to(router: respx.MockRouter, path: str) -> list[httpx.Request]:
    return [c.request for c in router.calls if c.request.url.path == path]


async def test_dingtalk_sends_the_chart_as_a_robot_image_after_the_card(
    dingtalk: tuple[DingTalkMessenger, respx.MockRouter], chart: tuple[str, bytes]
) -> None:
    messenger, router = dingtalk
    ref, png = chart
    await messenger.deliver(
        message(Card(title="推荐统计 · 总部", image=ref), target="dt_li", platform="dingtalk"))

    paths = [c.request.url.path for c in router.calls]
    assert paths.index("/v1.0/card/instances/createAndDeliver") < paths.index("/media/upload")
    [upload] = calls_to(router, "/media/upload")
    assert upload.url.params["access_token"] == "tok"
    assert upload.url.params["type"] == "image" and png in upload.content
    [send] = calls_to(router, "/v1.0/robot/oToMessages/batchSend")
    body = json.loads(send.content)
    assert body["userIds"] == ["dt_li"] and body["msgKey"] == "sampleImageMsg"
    assert json.loads(body["msgParam"]) == {"photoURL": "@lADPchart"}

    # In a group the robot posts it to that group.
    await messenger.deliver(message(Card(title="推荐统计", image=ref), target="cid-1",
                                    group=True, platform="dingtalk"))
    [group] = calls_to(router, "/v1.0/robot/groupMessages/send")
    assert json.loads(group.content)["openConversationId"] == "cid-1"


async def test_dingtalk_card_without_a_picture_makes_no_upload(
    dingtalk: tuple[DingTalkMessenger, respx.MockRouter]
) -> None:
    messenger, router = dingtalk
    await messenger.deliver(message(Card(title="在招岗位"), target="dt_li", platform="dingtalk"))
    assert calls_to(router, "/media/upload") == []
