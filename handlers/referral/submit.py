"""Submitting a referral: completeness, concreteness, duplicates, then into HR review."""

from __future__ import annotations

from typing import Any

from bot.core.context import Context, Outgoing
from bot.core.routing import Router
from handlers.referral.announce import send_task_card
from handlers.referral.closing import submitted_card_key
from handlers.referral.form import (
    is_concrete_reason,
    normalize_email,
    normalize_phone,
    parse_education,
    parse_fields,
    parse_referral,
    parse_work_history,
)
from handlers.referral.views import referral_view
from handlers.referral.workflow import reschedule_sla
from storage.models import (
    Attachment,
    Candidate,
    Person,
    Position,
    Referral,
    ReferralEvent,
    ReferralState,
)
from storage.repo.candidates import find_candidate, save_candidate
from storage.repo.conversations import delete_draft, get_draft, save_draft
from storage.repo.people import nearest_with_role
from storage.repo.positions import find_open_positions, list_open_positions
from storage.repo.referrals import (
    active_referral_for_candidate,
    add_referral_event,
    create_referral,
)

router = Router("referral")


@router.command("推荐", "refer", "referral")
async def submit_referral(ctx: Context) -> None:
    """`推荐 店长 张三 138… 理由` or the multi-line `字段: 值` form."""
    assert ctx.person.id is not None
    form = parse_referral(ctx.args)
    draft = await get_draft(session=ctx.session, person_id=ctx.person.id)
    earlier = dict(draft.fields) if draft else {}
    fields = dict(form.fields)
    if not _other_candidate(earlier, fields):
        # Fields given after an incomplete referral complete it; they never wipe it.
        await _submit(ctx, {**earlier, **fields}, form.unknown_labels)
    else:
        await _submit(ctx, fields, form.unknown_labels, earlier=earlier)


def _other_candidate(earlier: dict[str, str], fields: dict[str, str]) -> bool:
    """A new referral names someone else than the draft: the draft is not its first half."""
    old, new = earlier.get("name", "").strip(), fields.get("name", "").strip()
    return bool(earlier) and bool(fields) and bool(old) and bool(new) and old != new


async def continue_draft(ctx: Context) -> bool:
    """Plain `字段: 值` lines after an incomplete referral complete its draft."""
    assert ctx.person.id is not None
    draft = await get_draft(session=ctx.session, person_id=ctx.person.id)
    if draft is None:
        return False
    form = parse_fields(ctx.args)
    if form.fields:
        await _submit(ctx, {**draft.fields, **form.fields}, form.unknown_labels)
        return True
    answered = await _answer_for_the_gap(ctx, dict(draft.fields), ctx.args.strip())
    if answered is None:
        return False
    await _submit(ctx, answered, [])
    return True


async def _answer_for_the_gap(
    ctx: Context, fields: dict[str, str], text: str
) -> dict[str, str] | None:
    """A draft lacking exactly one field takes a plain sentence as that field, as its card
    says ("直接回复缺少的项即可"); with several gaps a bare sentence is ambiguous."""
    if not text:
        return None
    problems, _, _ = await _check(ctx, fields)
    gaps = {p["field"] for p in problems if p["code"] in ("missing", "vague", "invalid")}
    if len(gaps) != 1:
        return None
    gap = gaps.pop()
    if gap == "contact":
        gap = "email" if "@" in text else "phone"
    if gap in ("name", "position", "phone", "email") and len(text.split()) > 3:
        return None
    return {**fields, gap: text}


async def _submit(
    ctx: Context,
    fields: dict[str, str],
    unknown: list[str],
    earlier: dict[str, str] | None = None,
) -> None:
    """``earlier``: a draft about someone else, kept if this referral goes through and
    replaced (the card says so) if this one becomes the draft instead."""
    assert ctx.person.id is not None
    problems, position, parsed = await _check(ctx, fields)
    if problems or position is None:
        await save_draft(session=ctx.session, person_id=ctx.person.id, fields=fields, now=ctx.now)
        ctx.reply(
            "referral_incomplete",
            fields=fields,
            problems=problems,
            unknown=unknown,
            replaced=(earlier or {}).get("name", ""),
            positions=[p.title for p in await list_open_positions(session=ctx.session)],
        )
        return
    existing = await find_candidate(
        session=ctx.session, phone=parsed["phone"], email=parsed["email"]
    )
    if existing is not None:
        active = await active_referral_for_candidate(
            session=ctx.session, candidate_id=existing.id or 0
        )
        if active is not None:
            await _report_duplicate(ctx, active, existing, keep_draft=bool(earlier))
            return
    candidate = existing or Candidate(name=fields["name"], created_at=ctx.now)
    candidate.name = fields["name"]
    candidate.phone = parsed["phone"] or candidate.phone
    candidate.email = parsed["email"] or candidate.email
    candidate.education = parsed["education"] or candidate.education
    candidate.work_history = [*candidate.work_history, *parsed["history"]]
    if fields.get("achievements"):
        candidate.achievements = "\n".join(
            x for x in (candidate.achievements, fields["achievements"]) if x
        )
    await save_candidate(session=ctx.session, candidate=candidate)
    referral = await _create(ctx, candidate, position, fields)
    if not earlier:
        await delete_draft(session=ctx.session, person_id=ctx.person.id)
    view = await referral_view(ctx, referral)
    # Keyed, so the card can follow the referral's state (handlers.referral.closing).
    card = ctx.card("referral_submitted", key=submitted_card_key(referral), r=view,
                    draft_kept=(earlier or {}).get("name", ""))
    ctx.outgoing.append(Outgoing(card=card))
    if referral.assignee_id is not None:
        hr = await ctx.session.get(Person, referral.assignee_id)
        assert hr is not None
        await send_task_card(ctx, referral, hr)


async def _check(
    ctx: Context, fields: dict[str, str]
) -> tuple[list[dict[str, Any]], Position | None, dict[str, Any]]:
    """Every problem at once, so the referrer fixes all of them in one reply."""
    problems: list[dict[str, Any]] = []
    raw_phone, raw_email = fields.get("phone", "").strip(), fields.get("email", "").strip()
    phone = normalize_phone(raw_phone) if raw_phone else None
    email = normalize_email(raw_email) if raw_email else None
    for name in ("position", "name", "reason"):
        if not fields.get(name, "").strip():
            problems.append({"field": name, "code": "missing"})
    if not raw_phone and not raw_email:
        problems.append({"field": "contact", "code": "missing"})
    if raw_phone and phone is None:
        problems.append({"field": "phone", "code": "invalid", "value": raw_phone})
    if raw_email and email is None:
        problems.append({"field": "email", "code": "invalid", "value": raw_email})
    reason = fields.get("reason", "").strip()
    if reason and not is_concrete_reason(reason):
        problems.append({"field": "reason", "code": "vague", "value": reason[:50]})
    if len(fields.get("name", "")) > 50:
        problems.append({"field": "name", "code": "too_long"})
    history, bad = parse_work_history(fields.get("experience", ""))
    problems += [{"field": "experience", "code": "invalid", "value": b[:60]} for b in bad]
    position = None
    title = fields.get("position", "").strip()
    if title:
        matches = await find_open_positions(session=ctx.session, word=title)
        if len(matches) == 1:
            position = matches[0]
        else:
            code = "unknown" if not matches else "ambiguous"
            problems.append(
                {
                    "field": "position",
                    "code": code,
                    "value": title[:30],
                    "options": [f"{p.title}（{p.code}）" for p in matches],
                }
            )
    parsed = {
        "phone": phone,
        "email": email,
        "education": parse_education(fields.get("education", "")),
        "history": [e.to_dict() for e in history],
    }
    return problems, position, parsed


async def _report_duplicate(
    ctx: Context, active: Referral, candidate: Candidate, keep_draft: bool = False
) -> None:
    first = await ctx.session.get(Person, active.referrer_id)
    assert first is not None and active.id is not None
    # The first referrer keeps the credit; the second attempt is on record for disputes.
    await add_referral_event(
        session=ctx.session,
        event=ReferralEvent(
            referral_id=active.id,
            actor_id=ctx.person.id,
            action="referral.duplicate",
            from_state=active.state,
            to_state=active.state,
            platform=ctx.event.platform,
            at=ctx.now,
        ),
    )
    if not keep_draft:
        await delete_draft(session=ctx.session, person_id=ctx.person.id or 0)
    ctx.reply(
        "referral_duplicate",
        own=first.id == ctx.person.id,
        first_referrer=first.name,
        first_at=active.created_at,
        candidate=candidate.name,
        referral_id=active.id,
    )


async def _create(
    ctx: Context, candidate: Candidate, position: Position, fields: dict[str, str]
) -> Referral:
    hr = await nearest_with_role(
        session=ctx.session, role="hr", org_path=position.org_path, exclude=[ctx.person.id or 0]
    )
    sla = ctx.settings.sla("hr_review", position.sla_hours)
    referral = await create_referral(
        session=ctx.session,
        referral=Referral(
            candidate_id=candidate.id or 0,
            position_id=position.id or 0,
            referrer_id=ctx.person.id or 0,
            reason=fields["reason"].strip(),
            state=ReferralState.HR_REVIEW,
            assignee_id=hr.id if hr else None,
            stage_due_at=ctx.now + sla if sla else None,
            stage_entered_at=ctx.now,
            created_at=ctx.now,
            updated_at=ctx.now,
        ),
    )
    assert referral.id is not None
    for attachment in ctx.event.attachments:
        ctx.session.add(
            Attachment(
                referral_id=referral.id,
                kind=attachment.kind,
                filename=attachment.filename,
                platform=ctx.event.platform,
                ref=attachment.ref,
                created_at=ctx.now,
            )
        )
    for from_state, to_state, action in (
        (ReferralState.DRAFT, ReferralState.SUBMITTED, "referral.submit"),
        (ReferralState.SUBMITTED, ReferralState.HR_REVIEW, "referral.route"),
    ):
        await add_referral_event(
            session=ctx.session,
            event=ReferralEvent(
                referral_id=referral.id,
                actor_id=ctx.person.id,
                action=action,
                from_state=from_state,
                to_state=to_state,
                platform=ctx.event.platform,
                at=ctx.now,
                data={"assignee_id": hr.id if hr else None, "version": 1},
            ),
        )
    await reschedule_sla(ctx, referral, hr, "hr_review", sla)
    return referral
