"""A group sees only what a group should: typed identifiers masked on every group message, and
full records or task cards asked for in a group answered in the asker's 1:1 chat."""

from __future__ import annotations

from bot.cli.local_chat import LocalChat
from bot.core.events import Conversation, ConversationKind, Event, EventKind, Platform
from bot.core.log import mask_identifiers
from tests._support.referrals import submit
from tests.handlers.referral.test_attachments import refer_with_resume

PHONE, EMAIL, ID_CARD = "13712345678", "zhang.san@example.com", "11010119900307777X"
REFER = f"推荐 店长 张三 {PHONE} 曾将社区商场月客流提升30%，邮箱 {EMAIL} 身份证 {ID_CARD}"


def dingtalk(n: int, actor: str, text: str, conversation: Conversation) -> Event:
    return Event(platform=Platform.DINGTALK, event_id=f"grp-{n}", kind=EventKind.MESSAGE,
                 actor_id=actor, conversation=conversation, text=text)


def _texts(cards: list) -> str:  # type: ignore[type-arg]
    return "\n".join(
        f"{c.title}\n{c.status}\n{c.body}\n{c.footer}\n"
        + "\n".join(f"{f.label}:{f.value}" for f in c.fields)
        for c in cards
    )


def test_mask_identifiers() -> None:
    masked = mask_identifiers(f"{PHONE} {EMAIL} {ID_CARD} 单号 12345678901234567890")
    assert masked == "137****5678 z***@example.com 110101********777X 单号 12345678901234567890"


async def test_identifiers_typed_in_a_group_are_masked(chat: LocalChat) -> None:
    await chat.say("E020", REFER, group="上海一店")
    seen = _texts(chat.group("上海一店"))
    assert "推荐已提交" in seen
    for secret in (PHONE, EMAIL, ID_CARD):
        assert secret not in seen
    assert "137****5678" in seen or "z***@example.com" in seen


async def test_todo_and_progress_in_a_group_go_to_the_dm(chat: LocalChat) -> None:
    rid = await submit(chat, REFER)
    before = len(chat.inbox("E011"))
    for text in ("待办", f"进度 {rid}", "进度"):
        group_before = len(chat.group("人事群"))
        await chat.say("E011", text, group="人事群")
        note = chat.group("人事群")[group_before:]
        assert [c.title for c in note] == ["已私信发给你"], text
        assert not note[0].buttons and "张三" not in _texts(note)
    private = chat.inbox("E011")[before:]
    titles = [c.title for c in private]
    assert any(t.startswith("推荐审核 · 张三") for t in titles)  # the task card, buttons and all
    assert any(t.startswith("推荐进度 · 张三") for t in titles)
    assert any(c.buttons for c in private)
    # In the DM itself nothing changes: the answer comes right there.
    sent = await chat.say("E011", f"进度 {rid}")
    assert sent[0].card.title.startswith("推荐进度 · 张三")


async def test_files_asked_for_in_a_group_go_to_the_dm(chat: LocalChat) -> None:
    rid = await refer_with_resume(chat)
    group = Conversation(id="cid-hq", kind=ConversationKind.GROUP)
    sent = await chat.feed(dingtalk(3, "dt_li", f"附件 {rid}", conversation=group))
    assert {m.target for m in sent if m.kind == "file"} == {"dt_li"}  # to 李HR only
    in_group = [m for m in sent if m.target == "cid-hq"]
    assert [m.card.title for m in in_group] == ["已私信发给你"]
    assert "张三" not in _texts([m.card for m in in_group])
