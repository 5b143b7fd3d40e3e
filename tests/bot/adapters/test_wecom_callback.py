"""WeCom callbacks through the real server: verify, decrypt, store before the ack, handle once."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechatpy.crypto.base import WeChatCipher
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.adapters.base import RawRequest
from bot.adapters.wecom.adapter import WeComAdapter
from bot.adapters.wecom.crypto import signature
from bot.adapters.wecom.ids import make_task_id
from bot.cli.local_chat import LocalChat
from bot.config.schema import WeComConfig
from bot.core.events import Attachment, CardAction, Conversation, Event, EventKind, Platform
from bot.pipeline.intake import EventIntake
from bot.serve.server import build_app
from bot.serve.stores import DatabaseStores
from cards.render_wecom import encode_button_key
from handlers.capabilities import REGISTRY
from storage.db import SessionFactory, session_scope
from storage.models import Attachment as StoredAttachment
from storage.models import Candidate, CardInstance, Inbox
from storage.repo.cards import save_card_instance
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.paths import PLATFORM_DATA

DATA = PLATFORM_DATA
VECTORS = {v["name"]: v for v in json.loads((DATA / "wecom_callback_vector.json").read_text())[
    "vectors"
]}
CORP, TOKEN, KEY = "ww1436e0e65a779aee", "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", (
    "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
)
CONFIG = WeComConfig(corp_id=CORP, agent_id=1000002, secret="app-secret", token=TOKEN,
                     encoding_aes_key=KEY)
PATH = CONFIG.callback_path
REFERRAL = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"


def text_xml(user: str, text: str, msg_id: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>1772501400</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>1000002</AgentID></xml>"
    )


def click_xml(user: str, key: str, task_id: str, code: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>1772501400</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{task_id}]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>1000002</AgentID></xml>"
    )


def envelope(encrypted: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
        f"<AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    ).encode()


@dataclass(frozen=True)
class Signed:
    query: str
    body: bytes


def encrypt(plain: str, *, ts: int, nonce: str = "1597212914", corp: str = CORP) -> Signed:
    """An encrypted POST the way WeCom sends it (wechatpy does the encryption)."""
    reply = WeChatCrypto(TOKEN, KEY, corp).encrypt_message(plain, nonce, str(ts))
    found = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply)
    assert found is not None
    return sign(found.group(1), ts=ts, nonce=nonce)


def sign(encrypted: str, *, ts: int, nonce: str = "1597212914") -> Signed:
    """Any Encrypt value with a valid signature (to get past the signature check)."""
    sig = signature(TOKEN, str(ts), nonce, encrypted)
    return Signed(f"msg_signature={sig}&timestamp={ts}&nonce={nonce}", envelope(encrypted))


@dataclass
class Wecom:
    client: TestClient  # type: ignore[type-arg]
    intake: EventIntake
    chat: LocalChat
    factory: SessionFactory
    clock: FakeClock

    @property
    def now(self) -> int:
        return int(self.clock().timestamp())

    async def post(self, signed: Signed) -> tuple[int, bytes]:
        response = await self.client.post(f"{PATH}?{signed.query}", data=signed.body)
        return response.status, await response.read()


@pytest.fixture
async def wecom(chat: LocalChat, demo: SessionFactory, clock: FakeClock) -> AsyncIterator[Wecom]:
    # bot/cli/local_chat.py does not pass kind handlers yet; CONTACT_ADDED needs them.
    chat.dispatcher.kind_handlers = dict(REGISTRY.kind_handlers)
    adapter = WeComAdapter(CONFIG, clock=clock, cards=DatabaseStores(demo))
    intake = EventIntake(chat.dispatcher, after_handling=chat.worker.drain)
    app = build_app([adapter], intake)
    async with TestClient(TestServer(app)) as client:
        yield Wecom(client, intake, chat, demo, clock)


async def test_encrypted_referral_is_acked_empty_stored_then_handled_once(wecom: Wecom) -> None:
    signed = encrypt(text_xml("zhangjl", REFERRAL, "7000000000000000001"), ts=wecom.now)
    started = time.perf_counter()
    status, body = await wecom.post(signed)
    elapsed = time.perf_counter() - started
    assert (status, body) == (200, b"")
    assert elapsed < 1.0
    rows = await db.all_rows(wecom.factory, Inbox)
    assert [(r.platform, r.event_id) for r in rows] == [("wecom", "msg:7000000000000000001")]
    await wecom.intake.drain()
    assert (await db.counts(wecom.factory))["referrals"] == 1
    hr_cards = wecom.chat.messenger.cards_for("wecom", "lihr")
    assert hr_cards[-1].title == "推荐审核 · 张三 · 店长"
    sent = len(wecom.chat.messenger.sent)

    assert await wecom.post(signed) == (200, b"")  # WeCom retries the same POST
    await wecom.intake.drain()
    assert (await db.counts(wecom.factory))["referrals"] == 1
    assert len(wecom.chat.messenger.sent) == sent
    assert len(await db.all_rows(wecom.factory, Inbox)) == 1


async def test_click_saves_the_response_code_before_the_ack(wecom: Wecom) -> None:
    task_id = make_task_id("r1v1-review_task", "lihr", "wecom:x:0")
    key = encode_button_key("progress.show", {"rid": "999"})
    status, _ = await wecom.post(encrypt(click_xml("lihr", key, task_id, "RC-NEW"), ts=wecom.now))
    assert status == 200
    rows = await db.all_rows(wecom.factory, CardInstance)
    assert [(r.card_key, r.recipient, r.response_code, r.platform_ref) for r in rows] == [
        ("r1v1-review_task", "lihr", "RC-NEW", task_id)
    ]
    (stored,) = await db.all_rows(wecom.factory, Inbox)
    event = Event.from_dict(stored.payload)
    assert event.action is not None and event.action.card_key == "r1v1-review_task"
    assert event.action.action_id == "progress.show"
    await wecom.intake.drain()


async def test_click_on_a_hashed_task_id_finds_its_card_key(wecom: Wecom) -> None:
    long_key = "k" * 200
    task_id = make_task_id(long_key, "lihr", "wecom:y:0")
    async with session_scope(wecom.factory) as session:
        await save_card_instance(session=session, card_key=long_key, platform="wecom",
                                 recipient="lihr", platform_ref=task_id, response_code="OLD")
    key = encode_button_key("progress.show", {"rid": "999"})
    await wecom.post(encrypt(click_xml("lihr", key, task_id, "RC-2"), ts=wecom.now))
    (row,) = await db.all_rows(wecom.factory, CardInstance)
    assert row.response_code == "RC-2"
    (stored,) = await db.all_rows(wecom.factory, Inbox)
    action = Event.from_dict(stored.payload).action
    assert action is not None and action.card_key == long_key
    await wecom.intake.drain()


async def test_contact_added_links_the_candidate_and_welcomes_them(wecom: Wecom) -> None:
    async with session_scope(wecom.factory) as session:
        candidate = Candidate(name="王五", phone="13900139000")
        session.add(candidate)
        await session.flush()
        candidate_id = candidate.id
    xml = (DATA / "wecom_change_external_contact_add.xml").read_text(encoding="utf-8")
    xml = xml.replace("zhangsan", "zhangjl").replace("teststate", f"cand-{candidate_id}")
    assert await wecom.post(encrypt(xml, ts=wecom.now)) == (200, b"")
    await wecom.intake.drain()
    (linked,) = await db.all_rows(wecom.factory, Candidate)
    assert linked.wecom_external_userid == "woAJ2GCAAAXtWyujaWJHDDGi0mAAAA"
    [welcome] = wecom.chat.messenger.sent
    assert welcome.kind == "welcome" and welcome.reply_handle["welcome_code"]
    assert welcome.card.title.startswith("王五您好")
    (row,) = await db.all_rows(wecom.factory, Inbox)
    assert row.outcome == "kind:contact_added"


def media_xml(name: str, user: str, msg_id: str, **fields: str) -> str:
    """A documented media sample from ``user``, with a fresh MsgId and extra fields."""
    xml = (DATA / name).read_text(encoding="utf-8").replace("[fromUser]", f"[{user}]")
    xml = xml.replace("[toUser]", f"[{CORP}]").replace("1234567890123456", msg_id)
    extra = "".join(f"<{tag}><![CDATA[{value}]]></{tag}>" for tag, value in fields.items())
    return xml.replace("</xml>", f"{extra}</xml>")


@pytest.mark.parametrize(
    ("name", "attachment"),
    [
        ("wecom_image_message.xml", Attachment("image", "image-7100.jpg", "media_id")),
        ("wecom_video_message.xml", Attachment("video", "video-7100.mp4", "media_id")),
        ("wecom_file_message.xml", Attachment("file", "张三简历.pdf", "media_id")),
    ],
)
async def test_media_messages_are_stored_with_their_attachment_and_handled(
    wecom: Wecom, name: str, attachment: Attachment
) -> None:
    signed = encrypt(media_xml(name, "zhangjl", "7100"), ts=wecom.now)
    assert await wecom.post(signed) == (200, b"")
    (row,) = await db.all_rows(wecom.factory, Inbox)
    stored = Event.from_dict(row.payload)  # stored before the ack, attachment included
    assert stored.event_id == "msg:7100" and stored.attachments == (attachment,)
    await wecom.intake.drain()
    (row,) = await db.all_rows(wecom.factory, Inbox)
    # No words: the file is meant for a referral; 张经理 has none open, so the bot says so.
    assert row.processed_at is not None and row.outcome == "fallback"
    [answer] = wecom.chat.messenger.cards_for("wecom", "zhangjl")
    assert answer.title == "收到文件，但没有可附加的推荐"
    assert await wecom.post(signed) == (200, b"")  # a retry is acked and not handled again
    await wecom.intake.drain()
    assert len(await db.all_rows(wecom.factory, Inbox)) == 1


async def test_a_spoken_referral_keeps_the_voice_message_as_its_attachment(wecom: Wecom) -> None:
    xml = media_xml("wecom_voice_message.xml", "zhangjl", "7200", Recognition=REFERRAL)
    assert await wecom.post(encrypt(xml.replace("[Format]", "[amr]"), ts=wecom.now)) == (200, b"")
    await wecom.intake.drain()
    assert (await db.counts(wecom.factory))["referrals"] == 1
    (saved,) = await db.all_rows(wecom.factory, StoredAttachment)
    assert (saved.kind, saved.filename, saved.platform, saved.ref) == (
        "voice", "voice-7200.amr", "wecom", "media_id"
    )
    (row,) = await db.all_rows(wecom.factory, Inbox)
    assert row.outcome == "command:推荐"


async def test_a_media_message_without_its_media_id_is_refused(wecom: Wecom) -> None:
    xml = media_xml("wecom_image_message.xml", "zhangjl", "7300")
    xml = xml.replace("<MediaId><![CDATA[media_id]]></MediaId>", "")
    status, _ = await wecom.post(encrypt(xml, ts=wecom.now))
    assert status == 400  # WeCom retries; nothing was stored
    assert await db.all_rows(wecom.factory, Inbox) == []


def contact_event(state: str, external: str = "wmNEW", n: int = 0) -> Event:
    return Event(
        platform=Platform.WECOM, event_id=f"contact:{n}:{state}", kind=EventKind.CONTACT_ADDED,
        actor_id="zhangjl", conversation=Conversation(id="zhangjl"),
        action=CardAction("contact.added", {"external_userid": external, "state": state}),
    )


async def test_contact_without_a_candidate_state_changes_nothing(wecom: Wecom) -> None:
    async with session_scope(wecom.factory) as session:
        session.add(Candidate(name="王五", phone="13900139000", wecom_external_userid="wmOLD"))
    for n, state in enumerate(("teststate", "cand-999999", "cand-", "", "cand-1x")):
        result = await wecom.chat.feed(contact_event(state, n=n))
        # No state at all asks WeCom for the noted mobiles; any other state changes nothing.
        assert [m.kind for m in result] == (["contact_lookup"] if state == "" else [])
        assert wecom.chat.last_result is not None
        assert wecom.chat.last_result.route == "kind:contact_added"
    (candidate,) = await db.all_rows(wecom.factory, Candidate)
    assert candidate.wecom_external_userid == "wmOLD"
    # The right state replaces an older link (the candidate re-added from another account).
    await wecom.chat.feed(contact_event(f"cand-{candidate.id}", n=9))
    (candidate,) = await db.all_rows(wecom.factory, Candidate)
    assert candidate.wecom_external_userid == "wmNEW"
    assert [m.kind for m in wecom.chat.messenger.sent] == ["contact_lookup"]


async def test_unknown_event_is_acked_and_not_stored(wecom: Wecom) -> None:
    xml = "<xml><FromUserName>zhangjl</FromUserName><CreateTime>1</CreateTime>" \
          "<MsgType>event</MsgType><Event>enter_agent</Event></xml>"
    assert await wecom.post(encrypt(xml, ts=wecom.now)) == (200, b"")
    assert await db.all_rows(wecom.factory, Inbox) == []


def _bad_padding(ts: int) -> Signed:
    key = base64.b64decode(KEY + "=")
    plain = b"0123456789abcdef" + b"\x00\x00\x00\x06<xml/>" + CORP.encode()
    plain = plain.ljust(63, b"A") + b"\x00"
    return sign(base64.b64encode(WeChatCipher(key).encrypt(plain)).decode(), ts=ts)


def _without(signed: Signed, name: str) -> Signed:
    query = "&".join(p for p in signed.query.split("&") if not p.startswith(f"{name}="))
    return Signed(query, signed.body)


def _bad_requests(now: int) -> list[tuple[str, Signed, int]]:
    good = encrypt(text_xml("zhangjl", "帮助", "1"), ts=now)
    first = good.query[len("msg_signature=")]
    tampered_sig = good.query.replace(
        f"msg_signature={first}", f"msg_signature={'1' if first == '0' else '0'}", 1
    )
    return [
        ("wrong signature", Signed(tampered_sig, good.body), 403),
        ("wrong corp id", encrypt(text_xml("zhangjl", "帮助", "2"), ts=now, corp="wwOther"), 403),
        ("garbage base64", sign("@@@@not*base64@@@@", ts=now), 400),
        ("bad padding", _bad_padding(now), 400),
        ("truncated envelope", Signed(good.query, good.body[:60]), 400),
        ("truncated xml", encrypt(text_xml("zhangjl", "帮助", "3")[:70], ts=now), 400),
        ("missing MsgId", encrypt(text_xml("zhangjl", "帮助", ""), ts=now), 400),
        ("entity", encrypt('<!DOCTYPE xml [<!ENTITY a "x">]>' + text_xml("zhangjl", "&a;", "6"),
                           ts=now), 400),
        ("no Encrypt", Signed(good.query, b"<xml><ToUserName>x</ToUserName></xml>"), 400),
        ("oversized", Signed(good.query, good.body + b" " * 70_000), 413),
        ("replayed", encrypt(text_xml("zhangjl", "帮助", "4"), ts=now - 301), 403),
        ("from the future", encrypt(text_xml("zhangjl", "帮助", "5"), ts=now + 301), 403),
        ("bad timestamp", Signed(good.query.replace(f"timestamp={now}", "timestamp=x1"),
                                 good.body), 400),
        ("no signature", _without(good, "msg_signature"), 400),
        ("no timestamp", _without(good, "timestamp"), 400),
        ("no nonce", _without(good, "nonce"), 400),
    ]


async def test_every_bad_request_is_a_4xx_and_stores_nothing(wecom: Wecom) -> None:
    for name, signed, expected in _bad_requests(wecom.now):
        status, _ = await wecom.post(signed)
        assert status == expected, name
    assert await db.all_rows(wecom.factory, Inbox) == []
    assert await db.all_rows(wecom.factory, CardInstance) == []


async def test_rejections_log_one_line_without_secrets(
    wecom: Wecom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    requests = _bad_requests(wecom.now)
    for _, signed, _ in requests:
        await wecom.post(signed)
    # An oversized body is refused by the route's cap before the adapter sees it.
    lines = [r for r in caplog.records if r.name in ("hrbot.adapter.wecom", "hrbot.server")]
    assert len(lines) == len(requests)
    assert all(line.getMessage().startswith("wecom callback refused:") for line in lines)
    for secret in (TOKEN, KEY, "帮助", "zhangjl"):  # nor decrypted content
        assert secret not in caplog.text


async def test_url_verification_with_the_official_vector(chat: LocalChat) -> None:
    vector = VECTORS["doc_sample_get_verify_url_old"]
    config = WeComConfig(corp_id=vector["receiveid"], agent_id=1, secret="s",
                         token=vector["token"], encoding_aes_key=vector["encoding_aes_key"],
                         callback_path="/cgi-bin/wxpush")
    at = datetime.fromtimestamp(int(vector["timestamp"]) + 30, UTC)
    adapter = WeComAdapter(config, clock=lambda: at)
    intake = EventIntake(chat.dispatcher)
    async with TestClient(TestServer(build_app([adapter], intake))) as client:
        request = vector["request"].removeprefix("GET ")
        started = time.perf_counter()
        response = await client.get(request)
        elapsed = time.perf_counter() - started
        assert response.status == 200
        assert await response.read() == b"1616140317555161061"  # no quotes, BOM or newline
        assert response.content_type == "text/plain"
        assert elapsed < 0.2
        # A literal '+' (not %2B) in echostr must stay a '+'.
        literal = request.replace("%2F", "/").replace("%2B", "+").replace("%3D", "=")
        assert "+" in literal
        response = await client.get(literal)
        assert (response.status, await response.read()) == (200, b"1616140317555161061")
        response = await client.get(request.split("&echostr=")[0])
        assert response.status == 400


async def test_plus_in_signature_and_echostr_survives() -> None:
    at = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)
    adapter = WeComAdapter(CONFIG, clock=lambda: at)
    ts = int(at.timestamp())
    # Find an echostr whose ciphertext contains '+', as real ones often do.
    for attempt in range(200):
        reply = WeChatCrypto(TOKEN, KEY, CORP).encrypt_message(f"echo{attempt}", "n", str(ts))
        echostr = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", reply).group(1)  # type: ignore[union-attr]
        if "+" in echostr:
            break
    assert "+" in echostr
    sig = signature(TOKEN, str(ts), "n", echostr)
    query = f"msg_signature={sig}&timestamp={ts}&nonce=n&echostr={echostr}"
    inbound = await adapter.handle_http(RawRequest("GET", PATH, query, {}))
    assert (inbound.response.status, inbound.response.body) == (200, f"echo{attempt}".encode())
    # A '+' inside the signature itself survives decoding too; a wrong one is refused.
    inbound = await adapter.handle_http(
        RawRequest("GET", PATH, query.replace(sig, sig[:10] + "+" + sig[11:]), {})
    )
    assert inbound.response.status == 403


def test_url_verification_latency() -> None:
    vector = VECTORS["doc_sample_get_verify_url_old"]
    config = WeComConfig(corp_id=vector["receiveid"], agent_id=1, secret="s",
                         token=vector["token"], encoding_aes_key=vector["encoding_aes_key"])
    at = datetime.fromtimestamp(int(vector["timestamp"]), UTC)
    adapter = WeComAdapter(config, clock=lambda: at)
    query = vector["request"].split("?", 1)[1].split(" ")[0]
    request = RawRequest("GET", config.callback_path, query, {})

    async def run() -> float:
        started = time.perf_counter()
        for _ in range(200):
            inbound = await adapter.handle_http(request)
            assert inbound.response.body == b"1616140317555161061"
        return (time.perf_counter() - started) / 200

    assert asyncio.run(run()) < 0.01  # per verification; WeCom allows 1 s


_FUZZ_ADAPTER = WeComAdapter(CONFIG, clock=lambda: datetime(2026, 3, 3, 1, 30, tzinfo=UTC))
_NOW = int(datetime(2026, 3, 3, 1, 30, tzinfo=UTC).timestamp())


def _run(request: RawRequest) -> int:
    inbound = asyncio.run(_FUZZ_ADAPTER.handle_http(request))
    return inbound.response.status


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "PUT"]),
    query=st.text(max_size=200),
    body=st.binary(max_size=2000),
)
def test_fuzz_arbitrary_requests_never_raise_or_5xx(method: str, query: str, body: bytes) -> None:
    assert _run(RawRequest(method, PATH, query, {}, body)) < 500


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encrypted=st.text(max_size=300), echo=st.booleans())
def test_fuzz_signed_garbage_never_raises_or_5xx(encrypted: str, echo: bool) -> None:
    signed = sign(encrypted, ts=_NOW)
    if echo:
        from urllib.parse import quote

        request = RawRequest("GET", PATH, f"{signed.query}&echostr={quote(encrypted)}", {})
    else:
        request = RawRequest("POST", PATH, signed.query, {}, signed.body)
    assert _run(request) < 500


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain=st.text(max_size=400))
def test_fuzz_encrypted_arbitrary_plaintext_never_raises_or_5xx(plain: str) -> None:
    signed = encrypt(plain, ts=_NOW)
    assert _run(RawRequest("POST", PATH, signed.query, {}, signed.body)) in (200, 400)


async def test_click_is_still_acked_and_returned_when_the_code_cannot_be_saved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def database_down() -> Any:
        raise ConnectionRefusedError("database unreachable")

    at = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)
    adapter = WeComAdapter(
        CONFIG, clock=lambda: at, cards=DatabaseStores(database_down)  # type: ignore[arg-type]
    )
    task_id = make_task_id("r1v1-review_task", "lihr", "wecom:x:0")
    key = encode_button_key("progress.show", {"rid": "1"})
    signed = encrypt(click_xml("lihr", key, task_id, "RC-SECRET"), ts=int(at.timestamp()))
    inbound = await adapter.handle_http(RawRequest("POST", PATH, signed.query, {}, signed.body))
    assert inbound.response.status == 200 and len(inbound.events) == 1
    assert inbound.events[0].action is not None
    assert inbound.events[0].action.card_key == "r1v1-review_task"
    assert "ConnectionRefusedError" in caplog.text and "RC-SECRET" not in caplog.text
