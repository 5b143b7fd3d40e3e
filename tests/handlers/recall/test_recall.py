"""Recall of no-show candidates through the chat: the profile made at a no-show, the
30/90/180-day prompts, previews with the exact text, human-confirmed sends, hand-over to the
hiring manager, outcomes, campaigns and statistics, and the respect rules."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TypeAlias

import pytest
from sqlmodel import select

from bot.cli.local_chat import LocalChat
from bot.core.context import Settings
from cards.models import Button, Card
from storage.db import SessionFactory
from storage.models import (
    Candidate,
    DueItem,
    RecallContact,
    RecallStatus,
    TalentProfile,
)
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.recall import (
    CONCERN,
    MENTORS,
    NEWS,
    candidate_of,
    contacts,
    fill_profile,
    latest,
    no_show,
    profile_of,
    recorded_no_show,
    refer_text,
    send_by_copy,
)
from tests._support.referrals import act, only_card, person_ids, referral_at, referral_row

Chat: TypeAlias = LocalChat
DB: TypeAlias = SessionFactory


@pytest.fixture
def recall_chat(demo: DB, clock: FakeClock) -> LocalChat:
    # Weekends off as quiet time would hold a prompt falling on a Sunday until Monday.
    settings = Settings(recall_news=NEWS, quiet_weekends=False)
    return LocalChat(session_factory=demo, settings=settings, clock=clock)


# --- 1. The talent profile -----------------------------------------------------------------


async def test_no_show_makes_a_profile_and_the_card_records_words_needs_and_consent(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await referral_at(recall_chat, demo, "interviewing", refer_text(1))
    await recall_chat.say("E011", f"面试 {rid} 通过 85 沟通能力强")
    await act(recall_chat, demo, rid, "E011", "发offer")
    choice = only_card(await act(recall_chat, demo, rid, "E011", "未到岗"),
                       "未到岗原因 · 候选人01")
    await recall_chat.tap("E011", choice, "团队氛围/缺少带教")
    closed_at = (await referral_row(demo, rid)).closed_at
    sent = await recall_chat.tick()

    card = only_card(sent, "人才档案 · 候选人01")
    assert sent[[m.card for m in sent].index(card)].target == "E011"  # who recorded the no-show
    assert card.status == "未确认是否同意联系"
    assert [b.label for b in card.buttons] == [
        "记录原话", "记录需求", "记录提问", "同意联系", "改原因", "不再联系"]
    profile = await profile_of(demo, rid)
    assert (profile.category, profile.source, profile.since, profile.consent) == (
        "team", "no_show", closed_at, False)
    assert profile.org_path == "总部/华东/上海一店"
    # Interview evaluations came along from the referral's audit trail.
    assert profile.evaluations == [{"action": "interview.pass", "round": 1, "score": 85,
                                     "note": "沟通能力强", "by": "李HR"}]
    due = [d for d in await db.all_rows(demo, DueItem)
           if d.subject == f"recall:{profile.id}" and d.done_at is None]
    assert sorted((d.due_at - closed_at, d.payload["stage"]) for d in due) == [
        (timedelta(days=30), "greeting"), (timedelta(days=90), "news"),
        (timedelta(days=180), "opening")]

    await recall_chat.tap("E011", card, "记录需求")
    await recall_chat.say("E011", "想要弹性工作时间；希望有固定导师")
    card = next(c for c in recall_chat.inbox("E011") if c.key == card.key)
    card = await fill_profile(recall_chat, "E011", card)
    profile = await profile_of(demo, rid)
    assert profile.notes == CONCERN and profile.consent
    assert profile.needs == ["想要弹性工作时间", "希望有固定导师"]
    assert card.status == "已同意日后联系"
    assert f"**原话**：{CONCERN}" in card.body and "希望有固定导师" in card.body
    # A second beat makes no second profile and no second card.
    assert [m for m in await recall_chat.tick() if m.card.title.startswith("人才档案")] == []
    assert len(await db.all_rows(demo, TalentProfile)) == 1


async def test_declined_offer_is_profiled_with_the_stated_reason(
    recall_chat: Chat, demo: DB
) -> None:
    rid = await referral_at(recall_chat, demo, "offer", refer_text(2))
    await act(recall_chat, demo, rid, "E011", "拒绝offer", "接受了竞争对手的offer")
    await recall_chat.tick()
    profile = await profile_of(demo, rid)
    assert (profile.source, profile.category, profile.notes) == (
        "declined", "other", "接受了竞争对手的offer")
    assert latest(recall_chat, "E011", "人才档案 · 候选人02")


async def test_profile_is_editable_by_command_and_the_reason_by_card(
    recall_chat: Chat, demo: DB
) -> None:
    rid = await no_show(recall_chat, demo, refer_text(3), "薪资")
    await recall_chat.tick()
    shown = only_card(await recall_chat.say("E011", f"档案 {rid} 问题 晋升路径是什么？"),
                      "人才档案 · 候选人03")
    assert "**提问**：晋升路径是什么？" in shown.body
    await recall_chat.say("E011", f"档案 {rid} 兴趣 运营")
    await recall_chat.say("E011", f"档案 {rid} 同意")
    card = latest(recall_chat, "E011", "人才档案 · 候选人03")
    choice = only_card(await recall_chat.tap("E011", card, "改原因"), "修改召回原因 · 候选人03")
    choice = only_card(await recall_chat.tap("E011", choice, "更多原因…"),
                       "修改召回原因 · 候选人03")
    await recall_chat.tap("E011", choice, "原单位挽留/竞争对手")
    profile = await profile_of(demo, rid)
    assert (profile.category, profile.interest, profile.questions, profile.consent) == (
        "counter_offer", "运营", ["晋升路径是什么？"], True)
    # Someone outside the store's HR scope neither sees nor edits it.
    refused = await recall_chat.say("E041", f"档案 {rid} 备注 随便写写")
    assert [m.card.title for m in refused] == ["没有权限"]
    assert (await profile_of(demo, rid)).notes == ""


async def test_a_rejected_candidate_can_be_kept_for_recall(recall_chat: Chat, demo: DB) -> None:
    rid = await referral_at(recall_chat, demo, "hr_review", refer_text(4))
    await act(recall_chat, demo, rid, "E011", "驳回", "暂无合适岗位")
    shown = only_card(await recall_chat.say("E011", f"入库 {rid} 发展"), "人才档案 · 候选人04")
    assert next(f.value for f in shown.fields if f.label == "来源").startswith("入库")
    profile = await profile_of(demo, rid)
    assert (profile.source, profile.category) == ("pool", "career")
    still_open = await referral_at(recall_chat, demo, "hr_review", refer_text(5))
    refused = await recall_chat.say("E011", f"入库 {still_open}")
    assert [m.card.title for m in refused] == ["召回命令格式"]


# --- 4. Cadence: the clock prompts, a person sends ------------------------------------------


async def test_cadence_prompts_a_greeting_then_news_then_an_opening(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await recorded_no_show(recall_chat, demo, refer_text(6))
    since = (await profile_of(demo, rid)).since

    clock.now = since + timedelta(days=30)
    greeting = only_card(await recall_chat.tick(), "召回预览 · 候选人06")
    assert greeting.status == "问候 · 第30天"
    text = greeting.body.split("\n\n——")[0]
    assert text.startswith("候选人06你好，我是李HR。") and "岗位" not in text  # no job talk
    assert [b.label for b in greeting.buttons] == ["发送", "编辑", "跳过", "换发送人"]
    await recall_chat.tap("E011", greeting, "跳过")

    clock.now = since + timedelta(days=90)
    news = only_card(await recall_chat.tick(), "召回预览 · 候选人06")
    assert news.status == "近况 · 第90天"
    assert f"“{CONCERN}”" in news.body and f"- {MENTORS}" in news.body
    outcome = await send_by_copy(recall_chat, "E011", news)
    assert outcome.status.startswith("已发送")

    clock.now = since + timedelta(days=180)
    opening = only_card(await recall_chat.tick(), "召回预览 · 候选人06")
    assert opening.status == "岗位机会 · 第180天"
    assert "上海一店的店长岗位正在招人" in opening.body
    rows = await contacts(demo)
    assert [(c.stage, c.day, c.template, c.status) for c in rows] == [
        ("greeting", 30, "any_greeting", RecallStatus.SKIPPED),
        ("news", 90, "team_news", RecallStatus.SENT),
        ("opening", 180, "team_opening", RecallStatus.DRAFTED)]
    assert rows[1].sent_at == since + timedelta(days=90) and rows[1].channel == "manual"


async def test_no_consent_means_no_prompt_and_no_draft(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await recorded_no_show(recall_chat, demo, refer_text(7), consent=False)
    since = (await profile_of(demo, rid)).since
    for day in (30, 90, 180):
        clock.now = since + timedelta(days=day)
        assert [m for m in await recall_chat.tick() if "召回" in m.card.title] == []
    assert await contacts(demo) == []


async def test_missing_variable_is_an_error_at_preview_never_a_blank(
    demo: DB, clock: FakeClock
) -> None:
    chat = LocalChat(session_factory=demo, settings=Settings(quiet_weekends=False), clock=clock)
    rid = await recorded_no_show(chat, demo, refer_text(8))
    clock.now = (await profile_of(demo, rid)).since + timedelta(days=90)
    preview = only_card(await chat.tick(), "召回预览 · 候选人08")
    assert preview.status == "无法生成：缺少变量"
    assert "缺少变量：changes" in preview.body and "[recall] news" in preview.body
    assert "发送" not in [b.label for b in preview.buttons]
    contact = (await contacts(demo))[0]
    assert (contact.text, contact.error) == ("", "missing:changes")
    # A forged send does not go out either.
    forged = Button("发送", "recall.send", {"rid": str(contact.id), "v": str(contact.version)})
    assert [m.card.title for m in await chat.tap("E011", preview, forged)] == ["没有发送"]

    prompt = only_card(await chat.tap("E011", preview, "编辑"), "修改召回消息 · 候选人08")
    assert prompt.status == "等待你的回复"
    written = "候选人08你好，我是李HR。今年我们请了三位资深导师，想请你回来看看。"
    await chat.say("E011", written)
    edited = next(c for c in chat.inbox("E011") if c.key == preview.key)
    assert edited.body.startswith(written) and "（已修改）" in edited.fields[-1].value
    assert [b.label for b in edited.buttons] == ["发送", "编辑", "跳过", "换发送人"]
    await send_by_copy(chat, "E011", edited)
    sent = (await contacts(demo))[0]
    assert (sent.text, sent.edited, sent.error, sent.status) == (
        written, True, "", RecallStatus.SENT)


async def test_deployment_templates_override_the_packaged_ones(
    demo: DB, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "any_greeting.txt.j2").write_text(
        "{{ name }}，好久不见！{{ sender }}", encoding="utf-8")
    settings = Settings(recall_templates_dir=str(tmp_path), quiet_weekends=False)
    chat = LocalChat(session_factory=demo, settings=settings, clock=clock)
    rid = await recorded_no_show(chat, demo, refer_text(9))
    clock.now = (await profile_of(demo, rid)).since + timedelta(days=30)
    preview = only_card(await chat.tick(), "召回预览 · 候选人09")
    assert preview.body.startswith("候选人09，好久不见！李HR\n")


# --- 5. The hiring manager as sender --------------------------------------------------------


async def test_hr_hands_a_recall_to_the_hiring_manager_who_sends_it_as_themself(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await recorded_no_show(recall_chat, demo, refer_text(10))
    clock.now = (await profile_of(demo, rid)).since + timedelta(days=90)
    preview = only_card(await recall_chat.tick(), "召回预览 · 候选人10")

    choice = only_card(await recall_chat.tap("E011", preview, "换发送人"), "选择发送人 · 候选人10")
    assert [b.label for b in choice.buttons] == ["孙店长", "张经理"]  # the position's HM first
    sent = await recall_chat.tap("E011", choice, "孙店长")
    mine = only_card(sent, "请你发送召回消息 · 候选人10")
    assert [m.target for m in sent if m.card == mine] == ["E021"]
    assert mine.body.startswith("候选人10你好，我是孙店长。")  # in the sender's own name
    assert f"**原话**：{CONCERN}" in mine.body and "李HR 把这条召回交给你" in mine.body
    assert [b.label for b in mine.buttons] == ["发送", "编辑", "跳过"]
    hr_card = next(c for c in recall_chat.inbox("E011") if c.key == preview.key)
    assert hr_card.status.startswith("已交给他人发送") and "孙店长" in hr_card.body

    # HR's old card is stale now; the manager's send is the one that counts.
    assert [m.card.title for m in await recall_chat.tap("E011", preview, "发送")] == [
        "已处理 · 候选人10"]
    await send_by_copy(recall_chat, "E021", mine)
    contact = (await contacts(demo))[0]
    ids = await person_ids(demo)
    assert contact.status == RecallStatus.SENT
    assert (contact.prepared_by, contact.sender_id, contact.decided_by) == (
        ids["E011"], ids["E021"], ids["E021"])


# --- 6. Outcomes ----------------------------------------------------------------------------


async def test_outcomes_are_recorded_and_a_later_hire_counts_as_rehired(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await recorded_no_show(recall_chat, demo, refer_text(11))
    clock.now = (await profile_of(demo, rid)).since + timedelta(days=90)
    preview = only_card(await recall_chat.tick(), "召回预览 · 候选人11")
    # Nothing to record before the message went out.
    forged = Button("已回复", "recall.outcome", {"rid": "1", "v": "1", "outcome": "replied"})
    assert [m.card.title for m in await recall_chat.tap("E011", preview, forged)] == ["没有发送"]

    outcome = await send_by_copy(recall_chat, "E011", preview)
    assert [b.label for b in outcome.buttons] == ["已回复", "有意向", "已返岗", "不再联系"]
    outcome = only_card(await recall_chat.tap("E011", outcome, "有意向"), "召回 · 候选人11")
    assert [b.label for b in outcome.buttons] == ["已返岗", "不再联系"]
    assert [f.value for f in outcome.fields if f.label == "结果"] == ["已回复、有意向"]

    # They come back through a new referral and are hired: the daily check notices.
    clock.advance(days=5)
    again = await referral_at(recall_chat, demo, "offer", refer_text(11))
    await act(recall_chat, demo, again, "E011", "已入职")
    clock.advance(days=1)
    await recall_chat.tick()
    contact = (await contacts(demo))[0]
    assert contact.rehired_at == (await referral_row(demo, again)).closed_at
    assert contact.replied_at is not None and contact.interested_at is not None


# --- 7. Respect -----------------------------------------------------------------------------


async def test_opt_out_stops_every_future_prompt(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await recorded_no_show(recall_chat, demo, refer_text(12))
    profile = await profile_of(demo, rid)
    clock.now = profile.since + timedelta(days=30)
    preview = only_card(await recall_chat.tick(), "召回预览 · 候选人12")
    await recall_chat.say("E011", f"档案 {rid} 不再联系")

    # The waiting draft is withdrawn: its send button does nothing now.
    assert [m.card.title for m in await recall_chat.tap("E011", preview, "发送")] == [
        "已处理 · 候选人12"]
    assert [c.status for c in await contacts(demo)] == [RecallStatus.CANCELLED]
    assert [d for d in await db.all_rows(demo, DueItem)
            if d.subject == f"recall:{profile.id}" and d.done_at is None] == []
    for day in (90, 180, 400):
        clock.now = profile.since + timedelta(days=day)
        assert [m for m in await recall_chat.tick() if "召回" in m.card.title] == []
    campaign = only_card(await recall_chat.say("E011", "召回 原因=团队氛围"),
                         "召回活动 · 团队氛围/缺少带教")
    assert campaign.status == "匹配 0 人" and "已不再联系 1 人" in campaign.body
    assert campaign.buttons == ()


async def test_one_message_per_candidate_within_the_minimum_gap(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await recorded_no_show(recall_chat, demo, refer_text(13))
    since = (await profile_of(demo, rid)).since
    clock.now = since + timedelta(days=20)
    await recall_chat.say("E011", "召回 原因=团队")
    campaign = latest(recall_chat, "E011", "召回活动")
    previews = await recall_chat.tap("E011", campaign, "生成 1 条预览")
    await send_by_copy(recall_chat, "E011", only_card(previews, "召回预览 · 候选人13"))

    # Day 30 comes ten days after that message: the prompt waits until day 50.
    clock.now = since + timedelta(days=30)
    assert [m for m in await recall_chat.tick() if "召回" in m.card.title] == []
    again = only_card(await recall_chat.say("E011", "召回 原因=团队"),
                      "召回活动 · 团队氛围/缺少带教")
    assert again.status == "匹配 0 人" and "近期联系过 1 人" in again.body
    clock.now = since + timedelta(days=50)
    prompt = only_card(await recall_chat.tick(), "召回预览 · 候选人13")
    assert prompt.status == "问候 · 第30天"


async def test_a_second_draft_cannot_be_sent_inside_the_gap(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await recorded_no_show(recall_chat, demo, refer_text(14))
    clock.now = (await profile_of(demo, rid)).since + timedelta(days=30)
    first = only_card(await recall_chat.tick(), "召回预览 · 候选人14")
    handed = only_card(await recall_chat.tap("E011", first, "换发送人"), "选择发送人 · 候选人14")
    to_manager = only_card(await recall_chat.tap("E011", handed, "孙店长"),
                           "请你发送召回消息 · 候选人14")
    copy = only_card(await recall_chat.tap("E021", to_manager, "发送"), "请复制并发送 · 候选人14")
    # Meanwhile another recall message reached the same candidate (confirmed elsewhere).
    async with demo() as session:
        contact = (await session.exec(select(RecallContact))).one()
        session.add(RecallContact(profile_id=contact.profile_id, stage="news", category="team",
                                  text="另一条", status=RecallStatus.SENT,
                                  confirmed_at=clock.now, sent_at=clock.now))
        await session.commit()
    refused = await recall_chat.tap("E021", copy, "已发送")
    assert [m.card.title for m in refused] == ["没有发送"]
    assert "最近已收到过召回消息" in refused[0].card.body
    assert (await contacts(demo))[0].status == RecallStatus.HANDED


# --- Guards ---------------------------------------------------------------------------------


async def test_stale_and_foreign_taps_change_nothing(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    rid = await recorded_no_show(recall_chat, demo, refer_text(15))
    clock.now = (await profile_of(demo, rid)).since + timedelta(days=30)
    preview = only_card(await recall_chat.tick(), "召回预览 · 候选人15")
    assert [m.card.title for m in await recall_chat.tap("E041", preview, "发送")] == ["没有权限"]
    copy = only_card(await recall_chat.tap("E011", preview, "发送"), "请复制并发送 · 候选人15")
    await recall_chat.tap("E011", copy, "已发送")
    again = await recall_chat.tap("E011", copy, "已发送")
    assert [m.card.title for m in again] == ["已处理 · 候选人15"]
    rows = await contacts(demo)
    assert len(rows) == 1 and rows[0].status == RecallStatus.SENT


@pytest.mark.parametrize(("text", "problem"), [
    ("召回", "请至少写一个条件"),
    ("召回 原因=天气", "不认识原因“天气”"),
    ("召回 颜色=红", "不认识“颜色=红”"),
    ("召回 原因=团队 天数=很久", "天数“很久”要写成"),
    ("召回 原因=团队 阶段=周报", "不认识阶段“周报”"),
])
async def test_campaign_command_mistakes_are_explained(
    text: str, problem: str, recall_chat: Chat
) -> None:
    card = only_card(await recall_chat.say("E011", text), "召回命令格式")
    assert problem in card.body


async def test_campaign_filters_by_position_time_and_tag(demo: DB, clock: FakeClock) -> None:
    # No cadence prompt falls in this test's 200 days: a waiting draft would be left out.
    recall_chat = LocalChat(session_factory=demo, clock=clock,
                            settings=Settings(recall_cadence_days=(365,)))
    early = await recorded_no_show(recall_chat, demo, refer_text(16))
    clock.advance(days=100)
    late = await recorded_no_show(recall_chat, demo, refer_text(17))
    async with demo() as session:
        candidate = await session.get(Candidate, (await candidate_of(demo, late)).id)
        assert candidate is not None
        candidate.tags = ["零售经验"]
        session.add(candidate)
        await session.commit()
    clock.advance(days=100)

    def count(card: Card) -> str:
        return card.status

    title = "召回活动 · 团队氛围/缺少带教"
    assert count(only_card(await recall_chat.say("E011", "召回 原因=团队 天数=150"), title)) \
        == "匹配 1 人"
    assert count(only_card(await recall_chat.say("E011", "召回 原因=团队 天数=90-150"),
                           title)) == "匹配 1 人"
    assert count(only_card(await recall_chat.say("E011", "召回 原因=团队 标签=零售经验"),
                           title)) == "匹配 1 人"
    assert count(only_card(await recall_chat.say("E011", "召回 原因=团队 岗位=导购"),
                           title)) == "匹配 0 人"
    everyone = only_card(await recall_chat.say("E011", "召回 岗位=店长"), "召回活动 · 全部原因")
    assert everyone.status == "匹配 2 人"
    assert (await profile_of(demo, early)).id != (await profile_of(demo, late)).id


# --- The reference scenario (SCENARIOS.md R3) ----------------------------------------------


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_reference_case_twelve_no_shows_who_missed_mentoring(
    recall_chat: Chat, demo: DB, clock: FakeClock
) -> None:
    """15 no-shows last year, 12 of them because the team was too young and nobody could
    mentor them; this year three senior mentors joined. A campaign with the mentoring
    template reaches exactly those 12, each preview naming their concern; HR confirms 10 and
    skips 2; the statistics show it."""
    team = [await recorded_no_show(recall_chat, demo, refer_text(20 + i)) for i in range(12)]
    others = [
        await recorded_no_show(recall_chat, demo, refer_text(40), "家庭原因", "家里老人需要照顾"),
        await recorded_no_show(recall_chat, demo, refer_text(41), "家庭原因", "孩子刚上小学"),
        await recorded_no_show(recall_chat, demo, refer_text(42), "薪资", "比上一家低了 10%"),
    ]
    assert len(team) + len(others) == 15
    clock.advance(days=300)  # this year; the cadence prompts are not part of the campaign

    card = only_card(await recall_chat.say("E011", "召回 原因=团队氛围 天数=180"),
                     "召回活动 · 团队氛围/缺少带教")
    assert card.status == "匹配 12 人"
    assert card.body.count(f"“{CONCERN}”") == 5  # a sample, before anything is drafted
    assert await contacts(demo) == []
    sent = await recall_chat.tap("E011", card, "生成 12 条预览")

    previews = [m.card for m in sent if m.card.title.startswith("召回预览")]
    names = {(await candidate_of(demo, rid)).name for rid in team}
    assert {p.title.removeprefix("召回预览 · ") for p in previews} == names
    for preview in previews:
        text = preview.body.split("\n\n——")[0]
        assert f"你当时说“{CONCERN}”" in text and MENTORS in text
        assert preview.status == "近况 · 召回活动"
    assert next(c for c in recall_chat.inbox("E011") if c.key == card.key).status \
        == "已生成 12 条预览"
    again = await recall_chat.tap("E011", card, "生成 12 条预览")  # a second tap drafts nothing
    assert [m.card.status for m in again] == ["已生成 12 条预览"]

    outcomes = [await send_by_copy(recall_chat, "E011", p) for p in previews[:10]]
    for preview in previews[10:]:
        await recall_chat.tap("E011", preview, "跳过")
    # Six answered, five of them came back (SCENARIOS.md: 5 of the 12).
    for outcome in outcomes[:5]:
        await recall_chat.tap("E011", outcome, "已返岗")
    await recall_chat.tap("E011", outcomes[5], "已回复")

    stats = only_card(await recall_chat.say("E011", "召回统计"), "召回效果")
    assert stats.status == "已发送 10 条 · 回复率 60% · 返岗率 50%"
    assert {f.label: f.value for f in stats.fields} == {
        "预览": "12", "已发送": "10", "已回复": "6", "有意向": "5", "已返岗": "5",
        "不再联系": "0"}
    assert ("- 团队氛围/缺少带教 · 近况：发送 10，回复 6（60%），返岗 5（50%），跳过 2"
            "（team_news）") in stats.body
    rows = await contacts(demo)
    assert sorted(c.status.value for c in rows) == ["sent"] * 10 + ["skipped"] * 2
    assert {c.template for c in rows} == {"team_news"}
    assert all(c.campaign_id == rows[0].campaign_id for c in rows)
