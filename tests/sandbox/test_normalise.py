"""Card normalisers: platform payloads → title, status, fields, body, buttons for the page."""

from __future__ import annotations

import json

from sandbox.normalise import find_button, page_card
from sandbox.state import DINGTALK, WECOM, CardState
from tests._support.paths import PLATFORM_DATA

FIXTURES = PLATFORM_DATA


def dingtalk(params: dict[str, str], private: dict[str, dict[str, str]] | None = None
             ) -> CardState:
    return CardState("c1", DINGTALK, {"params": params, "private": private or {}})


def wecom(name: str) -> CardState:
    body = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return CardState("t:u", WECOM, body["template_card"])


def test_dingtalk_private_data_overrides_for_its_user_only() -> None:
    card = dingtalk({"title": "审批", "status": "待处理"}, {"dt_li": {"status": "你已通过"}})
    assert page_card(card, "dt_li")["status"] == "你已通过"
    assert page_card(card, "dt_zhang")["status"] == "待处理"


def test_dingtalk_unknown_template_shows_its_variables() -> None:
    shape = page_card(dingtalk({"lastMessage": "卡片", "markdown": "**你好**"}))
    assert shape["title"] == "互动卡片" and shape["body"] == "**你好**"
    shape = page_card(dingtalk({"name": "张三", "job": "店长"}))
    assert shape["fields"] == [{"label": "name", "value": "张三"},
                               {"label": "job", "value": "店长"}]


def test_dingtalk_buttons_get_unique_ids_and_can_be_found_by_label() -> None:
    buttons = [{"text": "查看", "action": "show", "params": {"action": "show", "id": "1"}},
               {"text": "查看下一条", "action": "show", "params": {"action": "show", "id": "2"}}]
    shape = page_card(dingtalk({"title": "x", "buttons": json.dumps(buttons)}))
    assert [b["id"] for b in shape["buttons"]] == ["show", "show#2"]
    assert find_button(shape, "show#2")["params"] == {"action": "show", "id": "2"}  # type: ignore[index]
    assert find_button(shape, "查看")["id"] == "show"  # type: ignore[index]
    assert find_button(shape, "missing") is None
    hidden = page_card(dingtalk({"title": "x", "buttons": json.dumps(buttons),
                                 "has_buttons": "false"}))
    assert hidden["buttons"] == []


def test_wecom_text_notice_and_vote_cards() -> None:
    notice = page_card(wecom("wecom_template_card_text_notice.json"))
    assert notice["title"] == "欢迎使用企业微信" and notice["source"] == "企业微信"
    assert notice["fields"][0] == {"label": "核心数据", "value": "100"}
    assert notice["body"] == "企业微信真好用呀真好用\n下载企业微信还能抢红包！"
    assert notice["buttons"] == []
    vote = page_card(wecom("wecom_template_card_vote_interaction.json"))
    assert vote["buttons"] == [{"id": "key", "label": "提交", "style": "primary",
                                "enabled": True}]


def test_wecom_button_found_by_action_name_of_an_encoded_key() -> None:
    card = CardState("t:u", WECOM, {
        "card_type": "button_interaction", "main_title": {"title": "审核"},
        "button_list": [{"text": "通过", "style": 1, "key": "review.pass|rid=12"},
                        {"text": "驳回", "style": 3, "key": "review.reject|rid=12"}],
    })
    shape = page_card(card)
    assert find_button(shape, "review.reject")["id"] == "review.reject|rid=12"  # type: ignore[index]
    assert [b["style"] for b in shape["buttons"]] == ["primary", "danger"]


# The published template's variables, as dingtalk-stream's card_instance.py fills them
# (CarouselCardInstance: msgTitle, staticMsgContent, sys_full_json_obj.msgButtons with
# "request": true); the markdown is hrbot's status line, field lines, body and footer.
def test_published_template_card_reads_back_status_fields_body_and_request_buttons() -> None:
    layout = {"order": ["msgTitle", "staticMsgContent", "msgButtons"], "msgButtons": [
        {"text": "通过", "color": "blue", "id": "hb1.abc", "request": True,
         "params": {"action": "review.pass", "rid": "1"}},
        {"text": "说明", "color": "gray", "id": "link", "url": "https://example.com"}]}
    card = CardState("c1", DINGTALK, {"params": {
        "flowStatus": "3", "msgTitle": "推荐审核 · 张三", "msgContent": "",
        "staticMsgContent": "**待HR审核**\n**岗位**：店长\n\n理由正文\n\n> 48小时内处理",
        "sys_full_json_obj": json.dumps(layout, ensure_ascii=False)}, "private": {}},
        {"cardTemplateId": "382e4302-551d-4880-bf29-a30acfab2e71.schema"})
    shape = page_card(card)
    assert (shape["title"], shape["status"], shape["body"], shape["footer"]) == (
        "推荐审核 · 张三", "待HR审核", "理由正文", "48小时内处理")
    assert shape["fields"] == [{"label": "岗位", "value": "店长"}]
    [button] = shape["buttons"]  # the link button calls nobody back
    assert (button["id"], button["label"], button["style"], button["component_id"]) == (
        "review.pass", "通过", "primary", "hb1.abc")
