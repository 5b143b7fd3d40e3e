"""Decrypted WeCom XML to events: messages, card clicks, menu picks, new customer contacts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.wecom.ids import card_key_of, make_task_id
from bot.adapters.wecom.parse import (
    MalformedCallback,
    envelope_encrypt,
    parse_message,
    safe_xml,
    selected_items,
)
from bot.core.events import Attachment, ConversationKind, Event, EventKind, Platform
from cards.render_wecom import encode_button_key
from tests._support.paths import PLATFORM_DATA

DATA = PLATFORM_DATA


def fixture(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def card_event(
    *,
    key: str = "key111",
    task_id: str = "taskid111",
    user: str = "lihr",
    created: str = "1772501400",
    selected: str = "",
    event: str = "template_card_event",
    code: str = "RC-1",
) -> str:
    return (
        "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{task_id}]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>1000002</AgentID>"
        f"{selected}</xml>"
    )


def item(question: str, *options: str) -> str:
    ids = "".join(f"<OptionId><![CDATA[{o}]]></OptionId>" for o in options)
    return (
        f"<SelectedItem><QuestionKey><![CDATA[{question}]]></QuestionKey>"
        f"<OptionIds>{ids}</OptionIds></SelectedItem>"
    )


def test_text_message_fixture() -> None:
    event = parse_message(fixture("wecom_text_message.xml"))
    assert event is not None
    assert (event.platform, event.kind) == (Platform.WECOM, EventKind.MESSAGE)
    assert event.event_id == "msg:1234567890123456"
    assert (event.actor_id, event.text) == ("fromUser", "this is a test")
    assert event.conversation.id == "fromUser"
    assert event.conversation.kind == ConversationKind.DIRECT


@pytest.mark.parametrize(
    ("name", "attachment"),
    [
        ("wecom_image_message.xml", Attachment("image", "image-1234567890123456.jpg", "media_id")),
        ("wecom_video_message.xml", Attachment("video", "video-1234567890123456.mp4", "media_id")),
        ("wecom_file_message.xml", Attachment("file", "张三简历.pdf", "media_id")),
    ],
)
def test_media_message_fixtures_carry_one_attachment(name: str, attachment: Attachment) -> None:
    event = parse_message(fixture(name))
    assert event is not None
    assert (event.platform, event.kind) == (Platform.WECOM, EventKind.MESSAGE)
    assert event.event_id == "msg:1234567890123456"  # retries dedupe on MsgId, like text
    assert (event.actor_id, event.conversation.id) == ("fromUser", "fromUser")
    assert event.text == ""
    assert event.attachments == (attachment,)
    assert event.reply_handle == {"agentid": "1"}
    assert Event.from_dict(event.to_dict()) == event


def test_voice_takes_its_transcript_as_text_and_its_format_as_extension() -> None:
    xml = fixture("wecom_voice_message.xml").replace("[Format]", "[AMR]")
    plain = parse_message(xml)
    assert plain is not None and plain.text == ""
    assert plain.attachments == (Attachment("voice", "voice-1234567890123456.amr", "media_id"),)
    spoken = parse_message(
        xml.replace("<MsgId>", "<Recognition><![CDATA[ 帮助 ]]></Recognition><MsgId>")
    )
    assert spoken is not None and spoken.text == "帮助"
    assert spoken.attachments == plain.attachments
    # Format is free text: anything but a short alphanumeric extension is not used.
    odd = parse_message(xml.replace("[AMR]", "[../x y]"))
    assert odd is not None and odd.attachments[0].filename == "voice-1234567890123456.amr"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "file-1234567890123456"),
        ("   ", "file-1234567890123456"),
        ("../../etc/passwd", "passwd"),
        ("C:\\简历\\张三.docx", "张三.docx"),
        ("..", "file-1234567890123456"),
        ("resume.pdf", "resume.pdf"),
    ],
)
def test_file_names_are_kept_without_their_path_or_made_up(given: str, expected: str) -> None:
    xml = fixture("wecom_file_message.xml").replace("张三简历.pdf", given)
    event = parse_message(xml)
    assert event is not None and event.attachments[0].filename == expected
    without = parse_message(xml.replace(f"<FileName><![CDATA[{given}]]></FileName>", ""))
    assert without is not None and without.attachments[0].filename == "file-1234567890123456"


def test_template_card_event_fixture_with_several_selected_items() -> None:
    event = parse_message(fixture("wecom_template_card_event.xml"))
    assert event is not None and event.action is not None
    assert event.kind == EventKind.CARD_ACTION and event.actor_id == "FromUser"
    assert event.action.action_id == "key111"
    assert event.action.params == {
        "QuestionKey1": "OptionId1,OptionId2",
        "QuestionKey2": "OptionId3,OptionId4",
    }
    assert event.reply_handle["response_code"] == "ResponseCode"
    assert event.reply_handle["task_id"] == "taskid111"
    assert event.reply_handle["selected"] == {
        "QuestionKey1": ["OptionId1", "OptionId2"],
        "QuestionKey2": ["OptionId3", "OptionId4"],
    }
    assert event.action.card_key is None  # "taskid111" is not one of our task ids


def test_one_selected_item_parses_like_several() -> None:
    xml = card_event(selected=f"<SelectedItems>{item('q1', 'o1')}</SelectedItems>")
    event = parse_message(xml)
    assert event is not None and event.action is not None
    assert event.action.params == {"q1": "o1"}
    assert event.reply_handle["selected"] == {"q1": ["o1"]}


def test_no_selected_items() -> None:
    event = parse_message(card_event())
    assert event is not None and event.action is not None
    assert event.action.params == {}
    assert "selected" not in event.reply_handle
    assert selected_items(safe_xml(card_event(selected="<SelectedItems/>"))) == {}


def test_our_button_key_and_task_id_decode_to_action_params_and_card_key() -> None:
    key = encode_button_key("review.pass", {"rid": "12", "v": "3"})
    task_id = make_task_id("r12v3-review_task", "lihr", "wecom:msg:1:0")
    event = parse_message(card_event(key=key, task_id=task_id))
    assert event is not None and event.action is not None
    assert event.action.action_id == "review.pass"
    assert event.action.params == {"rid": "12", "v": "3"}
    assert event.action.card_key == "r12v3-review_task"
    assert event.reply_handle["response_code"] == "RC-1"


def test_selection_does_not_override_button_params() -> None:
    key = encode_button_key("review.pass", {"rid": "12"})
    chosen = f"<SelectedItems>{item('rid', '99')}</SelectedItems>"
    event = parse_message(card_event(key=key, selected=chosen))
    assert event is not None and event.action is not None
    assert event.action.params["rid"] == "12"


def test_menu_event_fixture() -> None:
    event = parse_message(fixture("wecom_template_card_menu_event.xml"))
    assert event is not None and event.action is not None
    assert event.kind == EventKind.CARD_ACTION
    assert event.action.action_id == "key111"
    assert event.reply_handle["event"] == "template_card_menu_event"
    assert event.reply_handle["response_code"] == "ResponseCode"
    assert "selected" not in event.reply_handle


def test_change_external_contact_is_contact_added() -> None:
    event = parse_message(fixture("wecom_change_external_contact_add.xml"))
    assert event is not None and event.action is not None
    assert event.kind == EventKind.CONTACT_ADDED
    assert event.actor_id == "zhangsan" and event.conversation.id == "zhangsan"
    assert event.action.params == {
        "external_userid": "woAJ2GCAAAXtWyujaWJHDDGi0mAAAA",
        "state": "teststate",
    }
    assert event.reply_handle["welcome_code"] == "WELCOMECODE"


@pytest.mark.parametrize(
    "xml",
    [
        fixture("wecom_change_external_contact_add.xml").replace(
            "add_external_contact", "del_external_contact"
        ),
        card_event(event="enter_agent"),
        fixture("wecom_text_message.xml").replace("[text]", "[location]"),
        fixture("wecom_text_message.xml").replace("[text]", "[link]"),
        "<xml><MsgType>event</MsgType><Event>subscribe</Event></xml>",
        card_event(key="a|b"),  # not a key our renderer makes
    ],
)
def test_kinds_we_do_not_handle_give_no_event(xml: str) -> None:
    assert parse_message(xml) is None


@pytest.mark.parametrize(
    "xml",
    [
        fixture("wecom_text_message.xml").replace("<MsgId>1234567890123456</MsgId>", ""),
        fixture("wecom_text_message.xml").replace("[fromUser]", "[]"),
        fixture("wecom_text_message.xml")[:80],
        card_event(user=""),
        card_event(created=""),
        card_event(key=""),
        fixture("wecom_change_external_contact_add.xml").replace(
            "<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mAAAA]]></ExternalUserID>", ""
        ),
        "<xml><Content>no type</Content></xml>",
        fixture("wecom_image_message.xml").replace("<MediaId><![CDATA[media_id]]></MediaId>", ""),
        fixture("wecom_voice_message.xml").replace("<MsgId>1234567890123456</MsgId>", ""),
        fixture("wecom_file_message.xml").replace("[fromUser]", "[]"),
        "not xml at all",
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><MsgType>text</MsgType></xml>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><xml/>',
    ],
)
def test_truncated_or_incomplete_xml_is_malformed(xml: str) -> None:
    with pytest.raises(MalformedCallback):
        parse_message(xml)


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE xml [<!ENTITY a "boom">]>',
        '<?xml version="1.0"?>\n<!DOCTYPE xml SYSTEM "file:///etc/passwd">',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE xml [<!ENTITY a "boom">]>',
    ],
)
def test_a_dtd_is_refused_even_around_a_valid_message(prolog: str) -> None:
    xml = prolog + fixture("wecom_text_message.xml").replace("this is a test", "&a;")
    with pytest.raises(MalformedCallback, match="DTD"):
        parse_message(xml)
    with pytest.raises(MalformedCallback, match="DTD"):
        safe_xml(xml.encode())


def test_doctype_quoted_inside_a_message_is_just_text() -> None:
    xml = fixture("wecom_text_message.xml").replace("this is a test", "<!DOCTYPE html> &amp;")
    event = parse_message(xml)
    assert event is not None and event.text == "<!DOCTYPE html> &amp;"


def test_event_ids_are_stable_for_retries_and_distinct_for_new_clicks() -> None:
    first = parse_message(card_event())
    again = parse_message(card_event(code="RC-2"))  # same click redelivered
    later = parse_message(card_event(created="1772501401"))
    other_button = parse_message(card_event(key="review.reject"))
    assert first is not None and again is not None and later is not None
    assert other_button is not None
    assert first.event_id == again.event_id
    assert len({first.event_id, later.event_id, other_button.event_id}) == 3


def test_events_survive_the_inbox_json_round_trip() -> None:
    xml = card_event(
        key=encode_button_key("offer.no_show", {"rid": "3"}),
        task_id=make_task_id("r3v2-offer_task", "lihr", "k"),
        selected=f"<SelectedItems>{item('q', 'a', 'b')}</SelectedItems>",
    )
    contact = fixture("wecom_change_external_contact_add.xml")
    for event in (parse_message(xml), parse_message(contact)):
        assert event is not None
        assert Event.from_dict(event.to_dict()) == event


@pytest.mark.parametrize(
    "key", ["r12v3-review_task", "digest-4-7", "中文 key|with=odd%chars", "x" * 113, "y" * 300]
)
def test_task_ids_are_valid_and_give_back_the_key(key: str) -> None:
    task_id = make_task_id(key, "lihr", "wecom:card:1:0")
    assert len(task_id.encode()) <= 128
    assert all(c.isascii() and (c.isalnum() or c in "_-@") for c in task_id)
    assert card_key_of(task_id) == (key if len(key) < 300 else None)
    assert make_task_id(key, "lihr", "wecom:card:1:0") == task_id  # a resend repeats it
    assert make_task_id(key, "lihr", "wecom:card:2:0") != task_id  # a new message does not
    assert make_task_id(key, "zhangjl", "wecom:card:1:0") != task_id


@settings(max_examples=150, deadline=None)
@given(
    msg_type=st.sampled_from(["text", "event", "image", "voice", "video", "file", ""]),
    event=st.sampled_from(["template_card_event", "template_card_menu_event",
                           "change_external_contact", "click"]),
    values=st.lists(st.text(max_size=30), min_size=6, max_size=6),
)
def test_any_field_values_give_an_event_none_or_malformed(
    msg_type: str, event: str, values: list[str]
) -> None:
    tags = ["FromUserName", "CreateTime", "EventKey", "TaskId", "Content", "MsgId"]
    tags[4] = {"voice": "Recognition", "file": "FileName"}.get(msg_type, "Content")
    body = "".join(
        f"<{tag}><![CDATA[{value.replace(']]>', '')}]]></{tag}>"
        for tag, value in zip(tags, values, strict=True)
    )
    xml = (
        f"<xml><MsgType>{msg_type}</MsgType><Event>{event}</Event><MediaId>m</MediaId>"
        f"<ChangeType>add_external_contact</ChangeType><UserID>u</UserID>{body}</xml>"
    )
    try:
        result = parse_message(xml)
    except MalformedCallback:
        return
    assert result is None or result.platform == Platform.WECOM


VECTOR = json.loads((DATA / "wecom_callback_vector.json").read_text())["vectors"][0]
ENCRYPTED = VECTOR["encrypt"]


@pytest.mark.parametrize(
    "body",
    [
        f"<xml><ToUserName><![CDATA[ww1]]></ToUserName><AgentID><![CDATA[218]]></AgentID>"
        f"<Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt></xml>",
        f"<xml>\n <ToUserName><![CDATA[ww1]]></ToUserName>\n <AgentID>218</AgentID>\n"
        f" <Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt>\n</xml>\n",
        f"<xml><Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt><AgentID>218</AgentID></xml>",
        f"<xml><Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt></xml>",
        # Shapes the shortcut does not take: the parser reads them the same way.
        f'<?xml version="1.0"?><xml><Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt></xml>',
        f"<xml><ToUserName>ww1</ToUserName><Encrypt>{ENCRYPTED}</Encrypt></xml>",
        f"<xml><AgentID><![CDATA[toAgentID]]></AgentID><Encrypt><![CDATA[{ENCRYPTED}]]>"
        "</Encrypt><Extra/></xml>",
    ],
)
def test_the_envelope_shortcut_reads_what_the_parser_reads(body: str) -> None:
    assert envelope_encrypt(VECTOR["post_body"].encode()) == ENCRYPTED
    assert envelope_encrypt(body.encode()) == ENCRYPTED
    assert (safe_xml(body).findtext("Encrypt") or "").strip() == ENCRYPTED


def test_the_usual_envelope_takes_the_shortcut() -> None:
    from bot.adapters.wecom.parse import _ENVELOPE

    assert _ENVELOPE.fullmatch(VECTOR["post_body"].encode()) is not None
    assert _ENVELOPE.fullmatch(b"<xml><Encrypt><![CDATA[x]]></Encrypt><Other/></xml>") is None


@pytest.mark.parametrize(
    "body",
    [
        f"<xml><Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt>",  # truncated
        f"<xml><Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt></xml><xml/>",  # two roots
        f'<!DOCTYPE xml [<!ENTITY a "b">]><xml><Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt></xml>',
        "<xml><Encrypt><![CDATA[]]></Encrypt></xml>",
        "<xml><ToUserName><![CDATA[ww1]]></ToUserName></xml>",
    ],
)
def test_envelopes_the_parser_refuses_are_refused(body: str) -> None:
    with pytest.raises(MalformedCallback):
        envelope_encrypt(body.encode())
