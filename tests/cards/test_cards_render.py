"""Card rendering: templates, DingTalk / WeCom request bodies, terminal text.

Golden files live in ``tests/golden``; ``UPDATE_GOLDEN=1 pytest tests/cards/test_cards_render.py``
rewrites them after an intended change. Platform fixtures (official request examples) are kept
in ``tests/data/platforms``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import UndefinedError

from cards.models import Button, Card, CardField
from cards.render import CardTemplateError, mask_phone, render_card, render_text
from cards.render_dingtalk import (
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    callback_response,
    card_param_map,
    create_and_deliver_body,
    parse_card_callback,
    update_body,
)
from cards.render_text import text_card
from cards.render_wecom import (
    decode_button_key,
    encode_button_key,
    message_send_body,
    sanitize_task_id,
    template_card,
    update_card_body,
)
from tests._support.paths import PLATFORM_DATA, TESTS

HERE = TESTS
TEMPLATES = HERE / "data" / "cards"
GOLDEN = HERE / "golden"
FIXTURES = PLATFORM_DATA

SUBMITTED = datetime(2026, 3, 1, 2, 5, tzinfo=UTC)  # 10:05 in Asia/Shanghai
CONTEXT: dict[str, Any] = {
    "candidate": {"name": "张三", "phone": "13800138000"},
    "job": "后端工程师",
    "status": "待审核",
    "note": "三年 **Python** 经验，\n熟悉 asyncio。",
    "rid": 12,
    "version": 3,
    "submitted_at": SUBMITTED,
    "reviewable": True,
}
REVIEW_FIELDS = {"候选人": "张三", "电话": "138****8000", "职位": "后端工程师"}


def assert_golden(name: str, actual: Any) -> None:
    """Compare ``actual`` with ``tests/golden/<name>``; rewrite it when UPDATE_GOLDEN=1."""
    text = actual if isinstance(actual, str) else json.dumps(actual, ensure_ascii=False, indent=2)
    text += "\n"
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def load_fixture(name: str) -> dict[str, Any]:
    path = FIXTURES / name
    return json.loads(path.read_text(encoding="utf-8"))


def review_card(**overrides: Any) -> Card:
    return render_card(name="review", context={**CONTEXT, **overrides}, template_dir=TEMPLATES)


def resolved_card() -> Card:
    return dataclasses.replace(review_card(reviewable=False), status="已通过")


# --- templates ---------------------------------------------------------------------------


def test_render_card_builds_card_from_template() -> None:
    card = review_card()
    assert card.title == "推荐审核：张三"
    assert card.status == "待审核"
    assert card.key == "referral-12"
    assert {f.label: f.value for f in card.fields} == {**REVIEW_FIELDS, "提交时间": "03-01 10:05"}
    assert card.footer == "推荐编号 #12 · 10:05 提交"
    assert [(b.label, b.action, b.style) for b in card.buttons] == [
        ("通过", "review.pass", "primary"),
        ("需补充", "review.more", "default"),
        ("拒绝", "review.reject", "danger"),
    ]
    assert all(b.params == {"rid": "12", "v": "3"} for b in card.buttons)


def test_render_card_key_override() -> None:
    card = render_card(name="review", context=CONTEXT, key="custom-key", template_dir=TEMPLATES)
    assert card.key == "custom-key"


def test_time_filters_use_tz_from_context() -> None:
    card = review_card(tz="Europe/London")
    assert dict((f.label, f.value) for f in card.fields)["提交时间"] == "03-01 02:05"
    assert card.footer.endswith("02:05 提交")


def test_locale_selection_and_fallback() -> None:
    en = render_card(name="review", context=CONTEXT, locale="en", template_dir=TEMPLATES)
    assert en.title == "Referral review: 张三"
    assert en.buttons == ()
    for locale in ("fr", "../zh", ""):
        card = render_card(name="review", context=CONTEXT, locale=locale, template_dir=TEMPLATES)
        assert card.title == "推荐审核：张三"


@pytest.mark.parametrize("missing", ["job", "submitted_at", "rid", "candidate"])
def test_strict_undefined_raises_on_missing_variable(missing: str) -> None:
    # Covers plain `| tojson`, the dt/hm filters, `| string` and attribute access.
    context = {k: v for k, v in CONTEXT.items() if k != missing}
    with pytest.raises(UndefinedError, match=missing):
        render_card(name="review", context=context, template_dir=TEMPLATES)


def test_mask_phone_filter_rejects_undefined() -> None:
    with pytest.raises(UndefinedError, match="phone"):
        render_text(
            name="notice",
            context={"name": "a", "candidate": "b", "at": SUBMITTED},
            template_dir=TEMPLATES,
        )


def test_invalid_json_template_raises_card_template_error() -> None:
    with pytest.raises(CardTemplateError) as info:
        render_card(name="broken", context={"title": "x"}, template_dir=TEMPLATES)
    assert info.value.name == "broken"
    assert "invalid JSON" in info.value.detail


def test_json_that_is_not_a_card_raises_card_template_error() -> None:
    with pytest.raises(CardTemplateError, match="no_title"):
        render_card(name="no_title", context={"status": "x"}, template_dir=TEMPLATES)


def test_render_text_strips_and_applies_filters() -> None:
    context = {"name": "李四", "candidate": "张三", "phone": 13800138000, "at": SUBMITTED}
    text = render_text(name="notice", context=context, template_dir=TEMPLATES)
    assert text == "李四，您好：\n您推荐的 张三（138****8000）已安排在 03-01 10:05 面试。"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13800138000", "138****8000"),
        (13800138000, "138****8000"),
        ("+8613800138000", "+86****8000"),
        ("12345", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(raw: Any, masked: str) -> None:
    assert mask_phone(raw) == masked


# --- DingTalk -------------------------------------------------------------------------------


def test_golden_dingtalk_create() -> None:
    body = create_and_deliver_body(
        card=review_card(),
        template_id="tpl-review",
        out_track_id="referral-12",
        robot_code="ding-robot",
        space="IM_GROUP",
        target="cid-group==",
        at_user_ids={"u-hr": "王HR"},
    )
    assert body["openSpaceId"] == "dtv1.card//IM_GROUP.cid-group=="
    assert_golden("dingtalk_create.json", body)


def test_golden_dingtalk_update() -> None:
    body = update_body(card=resolved_card(), out_track_id="referral-12")
    assert body["cardData"]["cardParamMap"]["has_buttons"] == "false"
    assert_golden("dingtalk_update.json", body)


def test_card_param_map_keys_and_content() -> None:
    params = card_param_map(review_card())
    expected = {"title", "status", "body", "fields", "buttons", "footer", "has_buttons"}
    assert set(params) == expected
    assert params["body"].startswith("**候选人**：张三\n**电话**：138****8000\n")
    assert params["body"].endswith("\n\n三年 **Python** 经验，\n熟悉 asyncio。")
    assert json.loads(params["fields"])[0] == {"label": "候选人", "value": "张三"}
    first = json.loads(params["buttons"])[0]
    assert first == {
        "text": "通过",
        "action": "review.pass",
        "params": {"action": "review.pass", "rid": "12", "v": "3"},
        "style": "primary",
    }
    assert params["has_buttons"] == "true"


@pytest.mark.parametrize("char", ["a", "中", "😀"])
def test_card_param_map_values_are_short_strings(char: str) -> None:
    long = char * 5000
    card = Card(
        title=long,
        status="s",
        fields=tuple(CardField(label=f"f{i}", value=long) for i in range(3)),
        body=long,
        buttons=(Button(label="通过", action="review.pass", params={"rid": "1"}),),
        footer=long,
    )
    params = card_param_map(card)
    for key, value in params.items():
        assert isinstance(value, str)
        assert len(key.encode()) <= MAX_KEY_BYTES
        assert len(value.encode()) <= MAX_VALUE_BYTES, key
    assert params["body"].endswith(char + "…")
    assert params["title"].endswith("…")
    fields = json.loads(params["fields"])  # still valid JSON after shrinking
    assert fields and all(f["value"].startswith(char) for f in fields)


def test_button_params_must_not_use_reserved_action_key() -> None:
    card = Card(title="t", buttons=(Button(label="x", action="a", params={"action": "b"}),))
    with pytest.raises(ValueError, match="reserved"):
        card_param_map(card)


def test_dingtalk_bodies_match_fixture_keys() -> None:
    fixture = load_fixture("dingtalk_card_create_and_deliver.json")
    official = fixture["request_official_example_trimmed"]
    for space, target in (("IM_ROBOT", "user1"), ("IM_GROUP", "cid1")):
        body = create_and_deliver_body(
            card=review_card(),
            template_id="t",
            out_track_id="o",
            robot_code="r",
            space=space,
            target=target,
            at_user_ids={"u": "n"} if space == "IM_GROUP" else None,
        )
        assert set(body) <= set(official), set(body) - set(official)
        for model in ("imRobotOpenDeliverModel", "imGroupOpenDeliverModel"):
            if model in body:
                assert set(body[model]) <= set(official[model])
        assert body["callbackType"] == "STREAM"
    assert body["openSpaceId"] == "dtv1.card//IM_GROUP.cid1"

    put = load_fixture("dingtalk_card_update.json")["request"]
    body = update_body(card=review_card(), out_track_id="o")
    assert set(body) <= set(put)
    assert set(body["cardUpdateOptions"]) == set(put["cardUpdateOptions"])
    assert body["cardUpdateOptions"]["updateCardDataByKey"] is True


def test_create_and_deliver_robot_space() -> None:
    body = create_and_deliver_body(
        card=review_card(),
        template_id="t",
        out_track_id="o",
        robot_code="r",
        space="IM_ROBOT",
        target="user1",
    )
    assert body["openSpaceId"] == "dtv1.card//IM_ROBOT.user1"
    assert body["imRobotOpenDeliverModel"] == {"spaceType": "IM_ROBOT", "robotCode": "r"}
    assert "imGroupOpenDeliverModel" not in body
    with pytest.raises(ValueError):
        create_and_deliver_body(
            card=review_card(),
            template_id="t",
            out_track_id="o",
            robot_code="r",
            space="IM_SINGLE",  # type: ignore[arg-type]
            target="x",
        )


def test_parse_card_callback_official_payloads() -> None:
    fixture = load_fixture("dingtalk_card_callback.json")
    assert parse_card_callback(fixture["http_or_stream_callback_body"]) == (
        "accept",
        {},
        "XXXXXX",
        "XXXXXX",
    )
    assert parse_card_callback(fixture["variant_seen_in_other_official_doc"]) == (
        "agree",
        {},
        "custom_biz_id",
        "XXXXXX",
    )


def test_parse_card_callback_round_trips_button_params() -> None:
    button = json.loads(card_param_map(review_card())["buttons"])[1]
    inside = {"cardPrivateData": {"actionIds": ["b2"], "params": button["params"]}}
    outside = {"cardPrivateData": {"actionIds": ["b2"]}, "params": button["params"]}
    for content in (json.dumps(inside), inside):
        payload = {"outTrackId": "referral-12", "userId": "u1", "content": content}
        assert parse_card_callback(payload) == (
            "review.more",
            {"rid": "12", "v": "3"},
            "referral-12",
            "u1",
        )
    payload = {"userId": "u1", "value": json.dumps(outside)}
    assert parse_card_callback(payload) == ("review.more", {"rid": "12", "v": "3"}, None, "u1")
    form = {"cardPrivateData": {"params": {"action": "form.submit", "n": 3, "tags": ["a"]}}}
    assert parse_card_callback({"userId": "u", "content": json.dumps(form)})[1] == {
        "n": "3",
        "tags": '["a"]',
    }


@pytest.mark.parametrize(
    "payload",
    [
        "not a mapping",
        {"userId": "u"},
        {"userId": "u", "content": "{not json"},
        {"userId": "u", "content": "[1, 2]"},
        {"userId": "u", "content": '{"cardPrivateData": {"params": {"rid": "1"}}}'},
        {"userId": "u", "content": '{"cardPrivateData": "x"}'},
        {"content": '{"cardPrivateData": {"params": {"action": "a"}}}'},
    ],
)
def test_parse_card_callback_rejects_unusable(payload: Any) -> None:
    with pytest.raises(ValueError):
        parse_card_callback(payload)


def test_callback_response_matches_fixture() -> None:
    fixture = load_fixture("dingtalk_card_callback.json")["callback_response_to_update_card"]
    response = callback_response(resolved_card())
    assert set(response) <= set(fixture)
    assert response["cardUpdateOptions"] == fixture["cardUpdateOptions"]
    assert response["cardData"]["cardParamMap"] == card_param_map(resolved_card())


# --- WeCom ----------------------------------------------------------------------------------


def test_golden_wecom_send() -> None:
    body = message_send_body(
        card=review_card(), task_id="referral-12:v3", agent_id=1000002, touser=["hr1", "hr2"]
    )
    assert body["touser"] == "hr1|hr2"
    assert body["template_card"]["task_id"] == "referral-12_v3"
    assert_golden("wecom_send.json", body)


def test_golden_wecom_update() -> None:
    card = review_card(status="需补充资料")
    body = update_card_body(
        card=card, agent_id=1000002, userids=["hr1"], response_code="rc-1", task_id="referral-12"
    )
    assert body["template_card"]["card_type"] == "button_interaction"
    assert_golden("wecom_update.json", body)


def test_wecom_bodies_match_fixture_keys() -> None:
    send_fixture = load_fixture("wecom_template_card_button_interaction.json")
    body = message_send_body(card=review_card(), task_id="t", agent_id=1, touser=["u"])
    assert set(body) <= set(send_fixture)
    card = body["template_card"]
    assert set(card) <= set(send_fixture["template_card"]), set(card) - set(
        send_fixture["template_card"]
    )
    assert set(card["button_list"][0]) <= set(send_fixture["template_card"]["button_list"][0])
    assert body["enable_duplicate_check"] == 1

    notice_fixture = load_fixture("wecom_template_card_text_notice.json")
    body = message_send_body(card=resolved_card(), task_id="t", agent_id=1, touser=["u"])
    assert body["template_card"]["card_type"] == "text_notice"
    assert set(body["template_card"]) <= set(notice_fixture["template_card"])
    assert body["template_card"]["card_action"]["type"] == 1  # required for text_notice
    assert "task_id" not in body["template_card"]

    update_fixture = load_fixture("wecom_update_template_card.json")
    replace = update_card_body(card=resolved_card(), agent_id=1, userids=["u"], response_code="r")
    assert set(replace) <= set(update_fixture["request_replace_button"])
    assert replace["button"] == {"replace_name": "已通过"}
    full = update_card_body(card=review_card(), agent_id=1, userids=["u"], response_code="r")
    full_fixture = update_fixture["request_replace_with_button_interaction_card"]
    assert set(full) <= set(full_fixture)
    assert set(full["template_card"]) <= set(full_fixture["template_card"])


def test_wecom_truncation_and_folding() -> None:
    fields = tuple(CardField(label=f"很长的字段名{i}", value="值" * 30) for i in range(8))
    card = Card(title="标" * 40, status="待审核", fields=fields, body="正文")
    result = template_card(card, task_id="t")
    assert result["main_title"]["title"] == "标" * 35 + "…"
    rows = result["horizontal_content_list"]
    assert len(rows) == 6
    assert rows[0] == {"keyname": "很长的字…", "value": "值" * 25 + "…"}
    assert result["sub_title_text"].startswith("待审核\n很长的字段名6: ")
    assert len(result["sub_title_text"]) <= 112


def test_wecom_buttons_styles_and_limits() -> None:
    result = template_card(review_card(), task_id="t")
    assert [b["style"] for b in result["button_list"]] == [1, 2, 3]
    assert decode_button_key(result["button_list"][0]["key"]) == (
        "review.pass",
        {"rid": "12", "v": "3"},
    )
    too_many = Card(
        title="t", buttons=tuple(Button(label=str(i), action=f"a{i}") for i in range(7))
    )
    with pytest.raises(ValueError, match="at most 6"):
        template_card(too_many, task_id="t")
    twins = Card(title="t", buttons=(Button(label="1", action="a"), Button(label="2", action="a")))
    with pytest.raises(ValueError, match="unique"):
        template_card(twins, task_id="t")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("referral-12", "referral-12"),
        ("a_b-c@d", "a_b-c@d"),
        ("referral:12/v3 审核", "referral_12_v3___"),
        ("x" * 200, "x" * 128),
    ],
)
def test_sanitize_task_id(raw: str, clean: str) -> None:
    assert sanitize_task_id(raw) == clean
    assert template_card(review_card(), task_id=raw)["task_id"] == clean


def test_sanitize_task_id_rejects_empty() -> None:
    with pytest.raises(ValueError):
        sanitize_task_id("")


def test_button_key_format() -> None:
    assert encode_button_key("review.pass", {"v": "3", "rid": "12"}) == "review.pass|rid=12|v=3"
    assert encode_button_key("a|b", {"k=": "1%|\n"}) == "a%7Cb|k%3D=1%25%7C%0A"
    with pytest.raises(ValueError):
        encode_button_key("", {})
    with pytest.raises(ValueError):
        encode_button_key("a", {"k": "x" * 1100})


@given(
    action=st.text(min_size=1, max_size=30),
    params=st.dictionaries(st.text(max_size=15), st.text(max_size=30), max_size=4),
)
def test_button_key_round_trip(action: str, params: dict[str, str]) -> None:
    key = encode_button_key(action, params)
    assert len(key.encode()) <= 1024
    assert decode_button_key(key) == (action, params)


@pytest.mark.parametrize("key", ["", "|a=1", "a|b", "a|b=1=2", "a|b=1|b=2", "a%ZZ", "a|b=%"])
def test_decode_button_key_rejects_garbage(key: str) -> None:
    with pytest.raises(ValueError):
        decode_button_key(key)


# --- terminal text --------------------------------------------------------------------------


def test_golden_text_card() -> None:
    text = text_card(review_card())
    assert "[1] 通过  [2] 需补充  [3] 拒绝" in text
    assert_golden("text_card.txt", text)


def test_text_card_layout() -> None:
    card = Card(
        title="标题",
        status="已通过",
        fields=(CardField(label="候选人", value="张三"),),
        buttons=(Button(label="撤回", action="a"), Button(label="详情", action="b")),
        footer="#12",
    )
    assert text_card(card).splitlines() == [
        "┌ 标题",
        "│ « 已通过 »",
        "│ 候选人: 张三",
        "│",
        "│ [1] 撤回  [2] 详情",
        "└ #12",
    ]
    assert text_card(Card(title="仅标题")) == "┌ 仅标题"
