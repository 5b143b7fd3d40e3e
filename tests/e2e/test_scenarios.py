"""The reference scenarios end to end, through the real dispatcher, transaction and outbox."""

from __future__ import annotations

from bot.cli.local_chat import LocalChat
from storage.db import SessionFactory
from storage.models import ReferralState
from tests._support import db
from tests._support.clock import FakeClock

REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"


def titles(messages) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(m.target, m.card.title) for m in messages]


def check(card, label: str) -> str:  # type: ignore[no-untyped-def]
    line = next(ln for ln in card.body.splitlines() if label in ln)
    return line


async def test_r1_referral_supplement_review_approval_progress(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    # A vague reason is sent back; the draft keeps what was typed.
    sent = await chat.say("E020", "推荐 店长 张三 13800138000 人不错")
    assert titles(sent) == [("E020", "推荐还差一点")]
    assert "不够具体" in sent[0].card.body
    assert (await db.counts(demo))["referrals"] == 0

    # Completing the draft with field lines submits it; HR gets the review card.
    sent = await chat.say(
        "E020",
        "理由: 曾将社区商场月客流提升30%\n经历: 2025.03-至今 万达广场 零售 店长\n学历: 本科",
    )
    assert titles(sent) == [("E020", "推荐已提交 · 张三"), ("E011", "推荐审核 · 张三 · 店长")]
    review = sent[1].card
    assert "❌ 零售管理经验" in check(review, "零售管理经验")
    assert (await db.counts(demo))["drafts"] == 0

    # HR asks for more; the referrer supplements the previous mall's results the same day.
    clock.advance(hours=2)
    await chat.tap("E011", review, "需补充")
    sent = await chat.say("E011", "前一家商场的业绩；团队留存率")
    assert ("E020", "需要补充材料 · 张三") in titles(sent)
    assert (await db.referral(demo, 1)).state == ReferralState.NEEDS_INFO
    clock.advance(hours=3)
    sent = await chat.say(
        "E020", "补充 1 经历: 2021.01-2025.02 印象城 商场 楼层经理\n业绩: 团队留存率90%"
    )
    rechecked = next(m.card for m in sent if m.target == "E011")
    assert "✅ 零售管理经验" in check(rechecked, "零售管理经验")
    assert "✅ 团队建设" in check(rechecked, "团队建设")

    # HR passes, the leader approves (within the 3-day SLA) from the card.
    await chat.tap("E011", rechecked, "通过")
    approval = chat.inbox("E010")[-1]
    assert approval.title == "推荐审批 · 张三 · 店长"
    clock.advance(hours=30)
    await chat.tap("E010", approval, "同意")
    referral = await db.referral(demo, 1)
    assert referral.state == ReferralState.INTERVIEWING
    assert chat.inbox("E010")[-1].status.startswith("领导审批通过 · 赵总")

    # Progress shows each stage and how long it took.
    sent = await chat.say("E020", "进度 1")
    body = sent[0].card.body.splitlines()
    assert [line.split(" · ")[0] for line in body[:5]] == [
        "✔ 已提交",
        "✔ 待HR审核",
        "✔ 需补充材料",
        "✔ 待HR审核",
        "✔ 待领导审批",
    ]
    assert "用时 1.2 天" in body[4]
    assert "用时 3.0 小时" in body[2]
    assert body[5].startswith("▶ 面试中")


async def test_r2_hiring_manager_feedback_then_offer_and_hire(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", REFER)
    await chat.tap("E011", chat.inbox("E011")[-1], "通过")
    await chat.tap("E010", chat.inbox("E010")[-1], "同意")
    interview = chat.inbox("E011")[-1]
    await chat.tap("E011", interview, "第1轮通过")
    assert (await db.referral(demo, 1)).interview_round == 1
    await chat.tap("E011", chat.inbox("E011")[-1], "请用人经理反馈")
    feedback = chat.inbox("E021")[-1]
    assert feedback.title == "候选人反馈 · 张三 · 店长"
    assert [b.label for b in feedback.buttons] == ["录用", "再面一轮", "不合适", "转交"]
    await chat.tap("E021", feedback, "录用")
    sent = await chat.say("E021", "技术能力符合要求")
    assert (await db.referral(demo, 1)).state == ReferralState.OFFER
    offer = next(m.card for m in sent if m.target == "E011")
    await chat.tap("E011", offer, "已入职")
    referral = await db.referral(demo, 1)
    assert referral.state == ReferralState.HIRED and referral.closed_at is not None
    actions = [e.action for e in await db.events(demo, 1)]
    assert actions[-3:] == ["feedback.request", "feedback.hire", "offer.hired"]
    hire = next(e for e in await db.events(demo, 1) if e.action == "feedback.hire")
    assert hire.note == "技术能力符合要求" and hire.actor_id is not None


async def test_duplicate_referral_keeps_first_referrer(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", REFER)
    sent = await chat.say("E030", "推荐 店长 张三丰 138-0013-8000 带领团队获得区域销售冠军")
    assert titles(sent) == [("E030", "候选人已在推荐流程中")]
    assert "张**" in sent[0].card.body and "张经理" not in sent[0].card.body
    assert (await db.counts(demo))["referrals"] == 1
    assert [e.action for e in await db.events(demo, 1)][-1] == "referral.duplicate"


async def test_group_cards_mask_phone_numbers(chat: LocalChat) -> None:
    sent = await chat.say("E020", REFER, group="上海一店")
    group_card = next(m.card for m in sent if m.target == "group:上海一店")
    shown = str(group_card.to_dict())
    assert "13800138000" not in shown and "138****8000" in shown
    hr_card = next(m.card for m in sent if m.target == "E011")
    assert "13800138000" in str(hr_card.to_dict())


async def test_leaderless_position_goes_straight_to_interviews(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", "推荐 导购 李四 13900139000 连续三个月门店销售业绩第一")
    await chat.tap("E011", chat.inbox("E011")[-1], "通过")
    assert (await db.referral(demo, 1)).state == ReferralState.INTERVIEWING
    assert chat.inbox("E010") == []


async def test_interview_score_and_withdraw_by_command(
    chat: LocalChat, demo: SessionFactory
) -> None:
    await chat.say("E020", "推荐 导购 李四 13900139000 连续三个月门店销售业绩第一")
    await chat.say("E011", "通过 1")
    await chat.say("E011", "面试 1 通过 85 沟通能力强")
    passed = [e for e in await db.events(demo, 1) if e.action == "interview.pass"]
    assert passed[0].data["score"] == 85 and passed[0].note == "沟通能力强"
    assert (await db.referral(demo, 1)).interview_round == 1
    sent = await chat.say("E011", "面试 1 优秀")
    assert sent[0].card.title == "命令格式"
    await chat.say("E020", "撤回 1 候选人已接受其他offer")
    referral = await db.referral(demo, 1)
    assert referral.state == ReferralState.WITHDRAWN and referral.closed_at is not None
    assert await db.pending_due(demo, 1) == []
