"""DingTalk HTTP-callback mode: signatures, refusals, and the path through the server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.base import RawRequest
from bot.adapters.dingtalk.http_mode import DingTalkHttpAdapter, card_sign, robot_sign
from bot.cli.local_chat import LocalChat
from bot.config.schema import DingTalkConfig
from bot.core.events import ConversationKind, EventKind
from bot.pipeline.intake import EventIntake
from bot.serve.server import build_app
from storage.db import SessionFactory
from storage.models import Inbox
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.paths import PLATFORM_DATA

DATA = PLATFORM_DATA
VECTOR = json.loads(
    (DATA / "dingtalk_http_robot_callback_sign_vector.json").read_text(encoding="utf-8")
)
CALLBACKS = json.loads((DATA / "dingtalk_card_callback.json").read_text(encoding="utf-8"))
# The fixture's timestamp and the secret of DingTalk's sample code; the expected sign is the
# value PLATFORMS.md section 3 records (also asserted by an independent public test suite).
VECTOR_TS = VECTOR["headers_example"]["timestamp"]
VECTOR_SECRET = "this is a secret"
VECTOR_SIGN = "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA="
# Card callbacks: DingTalk publishes no vector; this one was computed for these tests.
CARD_SECRET, CARD_TS = "card-api-secret", "1700000000000"
CARD_SIGN = "w5yasVoE0C5W/x7zrNW8ReAk8FfqvWC8eTrZdsewFR4="
REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"


def config(secret: str = VECTOR_SECRET) -> DingTalkConfig:
    return DingTalkConfig(app_key="key", app_secret=secret, robot_code="robot",
                          card_template_id="tpl", mode="http")


def at_ms(ms: str | int) -> FakeClock:
    return FakeClock(datetime.fromtimestamp(int(ms) / 1000, tz=UTC))


def request(path: str, body: bytes, **headers: str) -> RawRequest:
    return RawRequest(method="POST", path=path, query_string="", headers=headers, body=body)


VECTOR_BODY = json.dumps(VECTOR["body_example"], ensure_ascii=False).encode()


def test_sign_vector() -> None:
    assert robot_sign(VECTOR_TS, VECTOR_SECRET) == VECTOR_SIGN
    assert card_sign(CARD_TS, CARD_SECRET) == CARD_SIGN


async def test_signed_robot_callback_becomes_an_event() -> None:
    adapter = DingTalkHttpAdapter(config(), at_ms(VECTOR_TS))
    inbound = await adapter.handle_http(
        request("/dingtalk/callback", VECTOR_BODY, timestamp=VECTOR_TS, sign=VECTOR_SIGN)
    )
    assert inbound.response.status == 200
    (event,) = inbound.events
    assert event.actor_id == "user123" and event.event_id == "msg0xxxxx"
    assert event.conversation.kind == ConversationKind.GROUP
    assert event.text == "你好" and event.mentions == ("xxx",)


@pytest.mark.parametrize(
    ("headers", "skew_ms", "status"),
    [
        ({"timestamp": VECTOR_TS, "sign": VECTOR_SIGN}, 3_600_000, 200),  # exactly 1 h: ok
        ({"timestamp": VECTOR_TS, "sign": VECTOR_SIGN}, -3_600_000, 200),
        ({"timestamp": VECTOR_TS, "sign": VECTOR_SIGN}, 3_600_001, 403),  # stale
        ({"timestamp": VECTOR_TS, "sign": VECTOR_SIGN}, -3_600_001, 403),  # from the future
        ({"timestamp": VECTOR_TS, "sign": "A" + VECTOR_SIGN[1:]}, 0, 403),
        ({"timestamp": str(int(VECTOR_TS) + 1), "sign": VECTOR_SIGN}, 0, 403),
        ({"timestamp": VECTOR_TS}, 0, 401),
        ({"sign": VECTOR_SIGN}, 0, 401),
        ({"timestamp": "12a", "sign": VECTOR_SIGN}, 0, 401),
        ({"timestamp": "١٢٣", "sign": VECTOR_SIGN}, 0, 401),  # non-ASCII digits
    ],
)
async def test_robot_signature_and_skew(
    headers: dict[str, str], skew_ms: int, status: int
) -> None:
    adapter = DingTalkHttpAdapter(config(), at_ms(int(VECTOR_TS) + skew_ms))
    inbound = await adapter.handle_http(request("/dingtalk/callback", VECTOR_BODY, **headers))
    assert inbound.response.status == status
    assert bool(inbound.events) == (status == 200)


async def test_wrong_secret_is_refused() -> None:
    adapter = DingTalkHttpAdapter(config("another secret"), at_ms(VECTOR_TS))
    inbound = await adapter.handle_http(
        request("/dingtalk/callback", VECTOR_BODY, timestamp=VECTOR_TS, sign=VECTOR_SIGN)
    )
    assert inbound.response.status == 403 and not inbound.events


async def test_card_callback_signature() -> None:
    adapter = DingTalkHttpAdapter(config(), at_ms(CARD_TS), card_api_secret=CARD_SECRET)
    body = json.dumps(CALLBACKS["http_or_stream_callback_body"]).encode()
    good = {"x-ddpaas-signature-timestamp": CARD_TS, "x-ddpaas-signature": CARD_SIGN}
    inbound = await adapter.handle_http(request("/dingtalk/callback/card", body, **good))
    assert inbound.response.status == 200
    (event,) = inbound.events
    assert event.kind == EventKind.CARD_ACTION and event.action is not None
    assert event.action.action_id == "accept"
    bad = {**good, "x-ddpaas-signature": robot_sign(CARD_TS, CARD_SECRET)}
    refused = await adapter.handle_http(request("/dingtalk/callback/card", body, **bad))
    assert refused.response.status == 403 and not refused.events
    # A robot signature does not open the card route, nor the other way round.
    robot = {"timestamp": CARD_TS, "sign": robot_sign(CARD_TS, VECTOR_SECRET)}
    assert (await adapter.handle_http(
        request("/dingtalk/callback/card", body, **robot))).response.status == 401


async def test_card_secret_defaults_to_the_app_secret() -> None:
    adapter = DingTalkHttpAdapter(config(CARD_SECRET), at_ms(CARD_TS))
    body = json.dumps(CALLBACKS["variant_seen_in_other_official_doc"]).encode()
    headers = {"x-ddpaas-signature-timestamp": CARD_TS, "x-ddpaas-signature": CARD_SIGN}
    inbound = await adapter.handle_http(request("/dingtalk/callback/card", body, **headers))
    assert inbound.response.status == 200
    assert inbound.events[0].action is not None
    assert inbound.events[0].action.action_id == "agree"


@pytest.mark.parametrize(
    ("body", "method", "path", "status"),
    [
        (b"{not json", "POST", "/dingtalk/callback", 400),
        (b"[1, 2]", "POST", "/dingtalk/callback", 400),
        (b'{"msgId": "m"}', "POST", "/dingtalk/callback", 400),
        (b"\xff\xfe", "POST", "/dingtalk/callback", 400),
        (b"x" * 300_000, "POST", "/dingtalk/callback", 413),
        (VECTOR_BODY, "GET", "/dingtalk/callback", 405),
        (VECTOR_BODY, "POST", "/elsewhere", 404),
    ],
)
async def test_bad_requests_get_4xx(body: bytes, method: str, path: str, status: int) -> None:
    adapter = DingTalkHttpAdapter(config(), at_ms(VECTOR_TS))
    raw = RawRequest(method=method, path=path, query_string="",
                     headers={"timestamp": VECTOR_TS, "sign": VECTOR_SIGN}, body=body)
    inbound = await adapter.handle_http(raw)
    assert inbound.response.status == status and not inbound.events


_KEYS = ["msgId", "senderStaffId", "conversationType", "conversationId", "msgtype", "text",
         "content", "atUsers", "sessionWebhookExpiredTime", "userId", "outTrackId", "value"]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=8,
)
_PAYLOAD = st.one_of(
    st.binary(max_size=200),
    st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=8).map(
        lambda d: json.dumps(d).encode()
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=_PAYLOAD,
    card=st.booleans(),
    signed=st.booleans(),
    headers=st.dictionaries(
        st.sampled_from(["timestamp", "sign", "x-ddpaas-signature",
                         "x-ddpaas-signature-timestamp", "content-type"]),
        st.text(max_size=40), max_size=5,
    ),
)
def test_fuzz_never_raises_and_never_5xx(
    body: bytes, card: bool, signed: bool, headers: dict[str, str]
) -> None:
    adapter = DingTalkHttpAdapter(config(), at_ms(VECTOR_TS), card_api_secret=CARD_SECRET)
    path = "/dingtalk/callback/card" if card else "/dingtalk/callback"
    if signed:  # reach the JSON and payload parsing behind the signature check
        headers = {**headers, "timestamp": VECTOR_TS, "sign": VECTOR_SIGN,
                   "x-ddpaas-signature-timestamp": CARD_TS, "x-ddpaas-signature": CARD_SIGN}
        adapter.clock = at_ms(CARD_TS if card else VECTOR_TS)
    inbound = asyncio.run(adapter.handle_http(request(path, body, **headers)))
    assert 200 <= inbound.response.status < 500
    assert bool(inbound.events) == (inbound.response.status == 200)


# --- through bot/server.build_app ------------------------------------------------------


def signed_headers(clock: FakeClock, secret: str) -> dict[str, str]:
    ts = str(int(clock().timestamp() * 1000))
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": ts, "sign": base64.b64encode(digest).decode()}


def referral_message(msg_id: str) -> bytes:
    payload = {
        "msgId": msg_id, "senderStaffId": "dt_zhang", "senderNick": "张经理",
        "conversationType": "1", "conversationId": "cid-zhang", "msgtype": "text",
        "text": {"content": REFER}, "robotCode": "robot",
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s",
        "sessionWebhookExpiredTime": 1_900_000_000_000,
    }
    return json.dumps(payload, ensure_ascii=False).encode()


Served = tuple[TestClient, EventIntake]  # type: ignore[type-arg]


@pytest.fixture
async def served(chat: LocalChat, clock: FakeClock) -> AsyncIterator[Served]:
    adapter = DingTalkHttpAdapter(config("app-secret"), clock)
    intake = EventIntake(chat.dispatcher, after_handling=chat.worker.drain)
    async with TestClient(TestServer(build_app([adapter], intake))) as client:
        yield client, intake


async def test_signed_message_through_the_server_acts_once(
    served: Served, chat: LocalChat, clock: FakeClock, demo: SessionFactory
) -> None:
    client, intake = served
    for _ in range(2):  # DingTalk retries
        clock.advance(seconds=1)
        response = await client.post("/dingtalk/callback", data=referral_message("msg-h1"),
                                     headers=signed_headers(clock, "app-secret"))
        assert response.status == 200
    await intake.drain()
    assert (await db.counts(demo))["referrals"] == 1
    assert [c.title for c in chat.messenger.cards_for("dingtalk", "dt_li")] == [
        "推荐审核 · 张三 · 店长"
    ]


async def test_forged_message_through_the_server_stores_nothing(
    served: Served, clock: FakeClock, demo: SessionFactory
) -> None:
    client, _ = served
    stale = FakeClock(clock() - timedelta(hours=2))
    for headers in (signed_headers(clock, "wrong-secret"), signed_headers(stale, "app-secret")):
        response = await client.post("/dingtalk/callback", data=referral_message("msg-h2"),
                                     headers=headers)
        assert response.status == 403
    assert await db.all_rows(demo, Inbox) == []


# Both HTTP-mode signatures cover only the timestamp (receive-message: sign =
# HMAC(timestamp + "\n" + appSecret); event-callback-card: x-ddpaas-signature =
# HMAC(timestamp)), so a captured pair is valid with any body for an hour: it is
# remembered with its body, in the database every replica shares.
@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
async def test_a_replayed_signature_with_another_body_is_refused_by_every_replica(
    session_factory: SessionFactory,
) -> None:
    from bot.serve.callback_signatures import signature_guard

    clock = at_ms(VECTOR_TS)
    replicas = [DingTalkHttpAdapter(config(), clock,
                                    replay_guard=signature_guard(session_factory, "dingtalk",
                                                                 clock))
                for _ in range(2)]
    signed = {"timestamp": VECTOR_TS, "sign": VECTOR_SIGN}
    first = await replicas[0].handle_http(request("/dingtalk/callback", VECTOR_BODY, **signed))
    assert first.response.status == 200 and first.events
    # DingTalk's retry of the same request, on the other replica: still accepted.
    retry = await replicas[1].handle_http(request("/dingtalk/callback", VECTOR_BODY, **signed))
    assert retry.response.status == 200
    forged = json.dumps({**VECTOR["body_example"], "msgId": "forged",
                         "text": {"content": "撤回 1 无"}}, ensure_ascii=False).encode()
    for replica in replicas:
        replayed = await replica.handle_http(request("/dingtalk/callback", forged, **signed))
        assert replayed.response.status == 403 and replayed.events == ()
    card_body = json.dumps(CALLBACKS["http_or_stream_callback_body"]).encode()
    card_headers = {"x-ddpaas-signature-timestamp": VECTOR_TS,
                    "x-ddpaas-signature": card_sign(VECTOR_TS, VECTOR_SECRET)}
    card = await replicas[0].handle_http(
        request("/dingtalk/callback/card", card_body, **card_headers))
    assert card.response.status == 200
    other_card = await replicas[1].handle_http(
        request("/dingtalk/callback/card", card_body.replace(b"accept", b"reject"),
                **card_headers))
    assert other_card.response.status == 403


@pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
async def test_old_signatures_are_forgotten_once_stale(session_factory: SessionFactory) -> None:
    from bot.serve.callback_signatures import signature_guard
    from storage.models import CallbackSignature

    clock = at_ms(VECTOR_TS)
    adapter = DingTalkHttpAdapter(config(), clock,
                                  replay_guard=signature_guard(session_factory, "dingtalk", clock))
    signed = {"timestamp": VECTOR_TS, "sign": VECTOR_SIGN}
    await adapter.handle_http(request("/dingtalk/callback", VECTOR_BODY, **signed))
    clock.advance(hours=2)
    later = str(int(clock().timestamp() * 1000))
    fresh = await adapter.handle_http(request(
        "/dingtalk/callback", VECTOR_BODY, timestamp=later, sign=robot_sign(later, VECTOR_SECRET)))
    assert fresh.response.status == 200
    rows = await db.all_rows(session_factory, CallbackSignature)
    assert len(rows) == 1  # the first, expired an hour ago, was removed


async def test_an_unreachable_database_asks_dingtalk_to_retry() -> None:
    async def down(signature: str, digest: str, expires: datetime) -> bool:
        raise OSError("database unreachable")

    adapter = DingTalkHttpAdapter(config(), at_ms(VECTOR_TS), replay_guard=down)
    inbound = await adapter.handle_http(
        request("/dingtalk/callback", VECTOR_BODY, timestamp=VECTOR_TS, sign=VECTOR_SIGN))
    assert inbound.response.status == 503 and inbound.events == ()
