"""Files that came with a referral reach the people who may see it, on the platform they came
from; elsewhere the bot says where to ask, and outsiders get nothing."""

from __future__ import annotations

from bot.cli.local_chat import LocalChat
from bot.core.events import Attachment, CardAction, Conversation, Event, EventKind, Platform
from bot.pipeline.messenger import OutboundMessage
from storage.db import SessionFactory
from storage.models import Attachment as AttachmentRow
from tests._support import db

REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"


def dingtalk(n: int, actor: str, text: str = "", **kw: object) -> Event:
    return Event(platform=Platform.DINGTALK, event_id=f"dt-{n}", kind=EventKind.MESSAGE,
                 actor_id=actor, conversation=Conversation(id=actor), text=text, **kw)


async def refer_with_resume(chat: LocalChat) -> int:
    sent = await chat.feed(dingtalk(1, "dt_zhang", REFER, attachments=(
        Attachment(kind="file", filename="张三简历.pdf", ref="DLCODE-1"),
        Attachment(kind="picture", filename="photo.jpg", ref="DLCODE-2"),
    )))
    card = next(m.card for m in sent if m.card.title.startswith("推荐已提交"))
    return int(next(f.value for f in card.fields if f.label == "编号").lstrip("#"))


def files(sent: list[OutboundMessage]) -> list[tuple[str, str, str]]:
    return [(m.target, m.file["filename"], m.file["ref"]) for m in sent if m.kind == "file"]


async def test_hr_gets_the_files_on_the_platform_they_came_from(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await refer_with_resume(chat)
    rows = await db.all_rows(demo, AttachmentRow)
    assert {(r.filename, r.platform, r.ref) for r in rows} == {
        ("张三简历.pdf", "dingtalk", "DLCODE-1"), ("photo.jpg", "dingtalk", "DLCODE-2")}
    review = next(c for c in chat.messenger.cards_for("dingtalk", "dt_li")
                  if c.title.startswith("推荐审核"))
    assert f"**附件**：张三简历.pdf、photo.jpg（发送「附件 {rid}」获取）" in review.body

    sent = await chat.feed(dingtalk(2, "dt_li", f"附件 {rid}"))
    assert files(sent) == [
        ("dt_li", "张三简历.pdf", "DLCODE-1"), ("dt_li", "photo.jpg", "DLCODE-2")]
    assert all(m.platform == "dingtalk" for m in sent)
    assert sent[0].card.title == f"推荐 #{rid} 的附件 · 张三简历.pdf"


async def test_one_file_from_the_progress_card(chat: LocalChat, demo: SessionFactory) -> None:
    rid = await refer_with_resume(chat)
    [progress] = [m.card for m in await chat.feed(dingtalk(3, "dt_li", f"进度 {rid}"))]
    assert [b.label for b in progress.buttons] == ["📎 张三简历.pdf", "📎 photo.jpg"]
    button = progress.buttons[1]
    sent = await chat.feed(Event(
        platform=Platform.DINGTALK, event_id="dt-4", kind=EventKind.CARD_ACTION,
        actor_id="dt_li", conversation=Conversation(id="dt_li"),
        action=CardAction(button.action, dict(button.params))))
    assert files(sent) == [("dt_li", "photo.jpg", "DLCODE-2")]


async def test_on_another_platform_the_bot_says_where_to_ask(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await refer_with_resume(chat)
    sent = await chat.feed(Event(
        platform=Platform.WECOM, event_id="wc-1", kind=EventKind.MESSAGE, actor_id="lihr",
        conversation=Conversation(id="lihr"), text=f"附件 {rid}"))
    assert files(sent) == []
    [card] = [m.card for m in sent]
    assert "附件是在钉钉里发来的" in card.body


async def test_outsiders_and_bad_commands_get_no_files(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await refer_with_resume(chat)
    # 钱总 leads 华南: the 上海 referral is outside his scope.
    [refused] = [m.card for m in await chat.feed(dingtalk(5, "dt_qian", f"附件 {rid}"))]
    assert refused.title == "没有权限"
    [usage] = [m.card for m in await chat.feed(dingtalk(6, "dt_li", "附件 张三"))]
    assert "附件 12" in usage.body
    [missing] = [m.card for m in await chat.feed(dingtalk(7, "dt_li", "附件 999"))]
    assert "999" in missing.body or "999" in missing.title


async def test_a_referral_without_files_says_so(chat: LocalChat, demo: SessionFactory) -> None:
    sent = await chat.say("E020", REFER)
    rid = int(next(f.value for m in sent for f in m.card.fields if f.label == "编号").lstrip("#"))
    [card] = [m.card for m in await chat.say("E011", f"附件 {rid}")]
    assert "这条推荐没有附件" in card.body


async def test_a_file_sent_on_its_own_joins_the_senders_open_referral(
    chat: LocalChat, demo: SessionFactory
) -> None:
    rid = await refer_with_resume(chat)
    sent = await chat.feed(dingtalk(8, "dt_zhang", "", attachments=(
        Attachment(kind="file", filename="张三_证书.pdf", ref="DLCODE-3"),)))
    [card] = [m.card for m in sent]
    assert card.title == f"已附到推荐 #{rid}" and "张三_证书.pdf" in card.body
    rows = await db.all_rows(demo, AttachmentRow)
    assert ("张三_证书.pdf", rid) in {(r.filename, r.referral_id) for r in rows}


async def test_a_file_without_an_open_referral_is_answered_not_lost(
    chat: LocalChat, demo: SessionFactory
) -> None:
    sent = await chat.feed(dingtalk(9, "dt_zhang", "", attachments=(
        Attachment(kind="file", filename="简历.pdf", ref="DLCODE-9"),)))
    [card] = [m.card for m in sent]
    assert card.title == "收到文件，但没有可附加的推荐" and "简历.pdf" in card.body
    assert await db.all_rows(demo, AttachmentRow) == []
