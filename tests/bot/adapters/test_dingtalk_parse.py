"""DingTalk payloads to events: every fixture message type, group vs 1:1, card callbacks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.dingtalk.ids import card_key_of, keyless_out_track_id, out_track_id
from bot.adapters.dingtalk.parse import parse_card_event, parse_robot_message
from bot.core.events import Attachment, ConversationKind, Event, EventKind, Platform
from tests._support.paths import PLATFORM_DATA

DATA = PLATFORM_DATA


def fixture(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


TYPES = fixture("dingtalk_chatbot_message_types.json")
MESSAGES = fixture("dingtalk_chatbot_message.json")
CALLBACKS = fixture("dingtalk_card_callback.json")


def test_text_in_a_one_to_one_chat() -> None:
    event = parse_robot_message(TYPES["text"])
    assert event.platform == Platform.DINGTALK
    assert event.kind == EventKind.MESSAGE
    assert event.event_id == "msgY****Pw=="
    assert event.actor_id == "042***297"
    # A 1:1 chat is addressed by the sender (IM_ROBOT.<userId>), not by conversationId.
    assert (event.conversation.id, event.conversation.kind) == ("042***297", "direct")
    assert event.text == "hello DingTalk!"
    assert event.attachments == () and event.mentions == ()
    assert event.reply_handle == {
        "conversationType": "1",
        "conversationId": "cide****4g=",
        "senderStaffId": "042***297",
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=79b48****4d4b",
        "sessionWebhookExpiredTime": 1695289035996,
        "robotCode": "ding****c6gk",
        "isInAtList": False,
        "createAt": 1695283635765,
    }


def test_group_message_from_the_official_sample_with_its_typo() -> None:
    payload = MESSAGES["group_text_at_bot (from Stream frame data)"]
    assert "createAt" not in payload and "createA" in payload  # the sample's typo
    event = parse_robot_message(payload)
    assert event.conversation.kind == ConversationKind.GROUP
    assert event.conversation.id == "cidAsXSBLnA=="
    assert event.text == "测试数据"  # the leading space left by the removed @mention is gone
    assert event.mentions == ()  # the only @ is the robot itself (no staffId)
    assert event.reply_handle["isInAtList"] is True
    assert event.reply_handle["conversationType"] == "2"
    assert "createAt" not in event.reply_handle


def test_mentions_are_staff_ids_without_the_robot() -> None:
    payload = dict(MESSAGES["group_text_at_bot (from Stream frame data)"])
    payload["atUsers"] = [
        {"dingtalkId": payload["chatbotUserId"], "staffId": "robot-staff"},
        {"dingtalkId": "$:a", "staffId": "dt_li"},
        {"dingtalkId": "$:b"},  # outside the org: no staffId
        {"dingtalkId": "$:c", "staffId": "dt_zhao"},
        "garbage",
    ]
    assert parse_robot_message(payload).mentions == ("dt_li", "dt_zhao")


@pytest.mark.parametrize(
    ("name", "text", "attachments"),
    [
        ("picture", "", (Attachment("picture", "", "mIof****JE0E"),)),
        ("video", "", (Attachment("video", "", "mIof****SaqP"),)),
        (
            "audio",
            "钉钉PaaS开放中心，致力为企业……",
            (Attachment("audio", "", "mIof****7g=="),),
        ),
        ("file", "", (Attachment("file", "foobar.zip", "LJYY****bw=="),)),
        (
            "richText",
            "这个问题示例图如下：\n通过以上示意图可以明白完整的交互流程",
            (Attachment("picture", "", "mIof****7A=="),),
        ),
        ("unknownMsgType", "", ()),
    ],
)
def test_every_fixture_message_type(
    name: str, text: str, attachments: tuple[Attachment, ...]
) -> None:
    event = parse_robot_message(TYPES[name])
    assert event.text == text
    assert event.attachments == attachments
    assert event.event_id == TYPES[name]["msgId"]


def test_events_survive_the_inbox_round_trip() -> None:
    event = parse_robot_message(TYPES["file"])
    assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    tap = parse_card_event(CALLBACKS["http_or_stream_callback_body"], message_id="m-1")
    assert Event.from_dict(json.loads(json.dumps(tap.to_dict()))) == tap


@pytest.mark.parametrize(
    "broken",
    [
        {"msgId": ""},
        {"senderStaffId": None},
        {"conversationType": "3"},
        {"conversationType": "2", "conversationId": ""},
    ],
)
def test_unattributable_messages_are_refused(broken: dict[str, Any]) -> None:
    payload = {**TYPES["text"], **broken}
    with pytest.raises(ValueError):
        parse_robot_message(payload)


def test_card_callback_documented_shape() -> None:
    event = parse_card_event(CALLBACKS["http_or_stream_callback_body"], message_id="mid-7")
    assert event.kind == EventKind.CARD_ACTION
    assert event.event_id == "card:mid-7"
    assert event.actor_id == "XXXXXX"
    assert event.conversation.id == "XXXXXX"
    assert event.action is not None
    assert (event.action.action_id, event.action.params) == ("accept", {})
    assert event.action.card_key is None  # not one of our outTrackIds
    assert event.reply_handle == {"outTrackId": "XXXXXX", "userId": "XXXXXX"}


def test_card_callback_variant_shape_with_our_out_track_id() -> None:
    payload = dict(CALLBACKS["variant_seen_in_other_official_doc"])
    payload["outTrackId"] = out_track_id("r12v3-review_task", "IM_GROUP", "cidAsXSBLnA==")
    payload["spaceType"], payload["spaceId"] = "IM_GROUP", "cidAsXSBLnA=="
    event = parse_card_event(payload, message_id="mid-8")
    assert event.action is not None
    assert event.action.action_id == "agree"
    assert event.action.card_key == "r12v3-review_task"
    assert event.conversation.kind == ConversationKind.GROUP


def test_http_card_callback_ids_tell_retries_from_new_taps() -> None:
    body = CALLBACKS["http_or_stream_callback_body"]
    first = parse_card_event(body, discriminator="1700000000000")
    retry = parse_card_event(body, discriminator="1700000000000")
    again = parse_card_event(body, discriminator="1700000009000")
    assert first.event_id == retry.event_id != again.event_id
    assert first.event_id.startswith("card:")


def test_card_callback_without_action_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_card_event({"userId": "u", "outTrackId": "o", "content": "{}"})


def test_out_track_ids_differ_per_recipient_and_give_the_key_back() -> None:
    one = out_track_id("r1v1-review_task", "IM_ROBOT", "dt_li")
    other = out_track_id("r1v1-review_task", "IM_ROBOT", "dt_wu")
    group = out_track_id("r1v1-review_task", "IM_GROUP", "dt_li")
    assert len({one, other, group}) == 3
    assert one == out_track_id("r1v1-review_task", "IM_ROBOT", "dt_li")  # deterministic
    assert {card_key_of(one), card_key_of(other), card_key_of(group)} == {"r1v1-review_task"}
    assert card_key_of(keyless_out_track_id("dingtalk:m1:0")) is None
    assert card_key_of("example_out_track_id") is None
    assert card_key_of("x-!!!.0123456789ab") is None


@given(st.text(min_size=1, max_size=120), st.sampled_from(["IM_ROBOT", "IM_GROUP"]), st.text())
def test_any_card_key_round_trips(key: str, space: str, target: str) -> None:
    track = out_track_id(key, space, target)
    assert card_key_of(track) == key
    assert track.isascii() and " " not in track
