"""Consent is taken when the referral is made (a button on the submitted card), and every card
that shows a candidate's full profile to someone is an audited read."""

from __future__ import annotations

from bot.cli.local_chat import LocalChat
from storage.db import SessionFactory
from storage.models import AuditRecord, Candidate, Person
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.referrals import REFER_SM, act, only_card


async def ids(demo: SessionFactory) -> dict[str, int]:
    return {p.employee_no: p.id or 0 for p in await db.all_rows(demo, Person)}


async def test_task_cards_reminders_and_escalations_are_audited_reads(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    sent = await chat.say("E020", REFER_SM)
    rid = int(next(f.value for m in sent for f in m.card.fields if f.label == "编号")[1:])
    people = await ids(demo)
    reads = [(r.action, r.actor_id, r.detail.get("via")) for r in
             await db.all_rows(demo, AuditRecord) if r.referral_id == rid]
    assert ("view", people["E011"], "review_task") in reads
    clock.advance(hours=30)  # past the 24 h review deadline: reminder and escalation
    await chat.tick()
    vias = {r.detail.get("via") for r in await db.all_rows(demo, AuditRecord)
            if r.actor_id == people["E011"] or r.detail.get("via") == "escalation"}
    assert "review_task-reminder" in vias
    await act(chat, demo, rid, "E011", "通过")
    approval = [r for r in await db.all_rows(demo, AuditRecord)
                if r.actor_id == people["E010"] and r.detail.get("via") == "approval_task"]
    assert len(approval) == 1 and approval[0].platform == "shell"


async def test_consent_is_recorded_from_the_submitted_card(
    chat: LocalChat, demo: SessionFactory
) -> None:
    submitted = only_card(await chat.say("E020", REFER_SM), "推荐已提交 · 张三")
    assert [b.label for b in submitted.buttons] == ["查看进度", "候选人已同意"]
    # Only the referrer can vouch for the candidate's consent.
    refused = await chat.tap("E011", submitted, "候选人已同意")
    assert refused[0].card.title == "没有权限"
    assert [c.consent for c in await db.all_rows(demo, Candidate)] == [False]
    await chat.tap("E020", submitted, "候选人已同意")
    [candidate] = await db.all_rows(demo, Candidate)
    assert candidate.consent and candidate.consent_at is not None
    consents = [r for r in await db.all_rows(demo, AuditRecord) if r.action == "consent"]
    assert len(consents) == 1 and consents[0].actor_id == (await ids(demo))["E020"]
