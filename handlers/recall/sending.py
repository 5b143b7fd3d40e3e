"""The preview card's buttons: send, edit, skip, hand to another sender; then the outcome.

Nothing reaches a candidate without a person's tap. On WeCom the tap creates a mass-send task
(``add_msg_template``) that the sender still confirms in their own client, and the outbox
polls its result; elsewhere the card shows the text to copy and the sender taps "已发送"
once they sent it themself.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.events import Platform
from handlers.recall.common import (
    card_version,
    contact_view,
    forbidden,
    is_hr_for,
    load_contact,
    may_handle,
    parse_id,
    router,
    typed_text,
)
from handlers.recall.drafts import compose, send_preview
from handlers.recall.rules import contact_block, opt_out, text_problem
from storage.models import (
    Candidate,
    PendingInput,
    Person,
    Position,
    RecallContact,
    RecallStatus,
    TalentProfile,
)
from storage.repo.conversations import clear_pending_input, set_pending_input
from storage.repo.people import in_scope, list_people
from storage.repo.recall import update_contact

S = RecallStatus
WECOM = Platform.WECOM.value
# WeCom dispatches a new mass-send task for a while (41063); the first look can wait.
FIRST_POLL_AFTER = timedelta(minutes=1)
MAX_SENDERS = 5
CANCEL_WORDS = {"取消", "cancel", "算了"}
OUTCOMES = ("replied", "interested", "rehired", "opted_out")


async def _show(ctx: Context, name: str, contact: RecallContact, profile: TalentProfile,
                **extra: object) -> None:
    """Replace the tapped card (or answer with a new one when nothing was tapped)."""
    await ctx.session.refresh(contact)
    view = await contact_view(ctx, contact, profile)
    key = ctx.params.get("card_key")
    if key:
        ctx.update_card(key, name, r=view, **extra)
    else:
        ctx.reply(name, r=view, **extra)


async def _tapped(
    ctx: Context, *statuses: RecallStatus
) -> tuple[RecallContact, TalentProfile] | None:
    """The contact the card names if this person may act and the card is still current;
    a stale card is answered with what happened to it (None then)."""
    contact, profile = await load_contact(ctx, ctx.params.get("rid"))
    if not may_handle(ctx.person, profile, contact):
        raise forbidden()
    if contact.version != card_version(ctx) or contact.status not in statuses:
        ctx.reply("recall_closed", r=await contact_view(ctx, contact, profile), stale=True)
        return None
    return contact, profile


async def _lost(ctx: Context, contact: RecallContact, profile: TalentProfile) -> None:
    """Another tap changed the contact between our read and our write: say what it did."""
    await ctx.session.refresh(contact)
    ctx.reply("recall_closed", r=await contact_view(ctx, contact, profile), stale=True)


async def _change(ctx: Context, contact: RecallContact, **values: object) -> bool:
    assert contact.id is not None
    return await update_contact(
        session=ctx.session, contact_id=contact.id, expected_version=contact.version,
        values={**values, "updated_at": ctx.now},
    )


async def _respected(ctx: Context, contact: RecallContact, profile: TalentProfile) -> bool:
    """Refuse (and say why) when the candidate may not get a message now."""
    block = await contact_block(
        ctx.session, profile, now=ctx.now, min_days=ctx.settings.recall_min_days_between
    )
    if block is None:
        return True
    if block.reason in ("opted_out", "no_consent"):
        await _change(ctx, contact, status=S.CANCELLED)
    ctx.reply("recall_blocked", reason=block.reason, until=block.until,
              candidate=(await contact_view(ctx, contact, profile))["candidate"]["name"])
    return False


@router.action("recall.send")
async def send_recall(ctx: Context) -> None:
    """[发送]: on WeCom a task the sender confirms in their client; elsewhere the text to copy."""
    tapped = await _tapped(ctx, S.DRAFTED, S.HANDED)
    if tapped is None:
        return
    contact, profile = tapped
    if contact.error or text_problem(contact.text):
        raise UserFacingError("recall_blocked", {"reason": "no_text"})
    if not await _respected(ctx, contact, profile):
        return
    candidate = await ctx.session.get(Candidate, profile.candidate_id)
    assert candidate is not None and contact.id is not None
    external = candidate.wecom_external_userid
    if not (external and ctx.person.wecom_userid and WECOM in ctx.settings.platforms):
        if await _change(ctx, contact, channel="manual", sender_id=ctx.person.id):
            await _show(ctx, "recall_copy", contact, profile)
        else:
            await _lost(ctx, contact, profile)
        return
    if not await _change(ctx, contact, status=S.QUEUED, channel=WECOM, sender_id=ctx.person.id,
                         decided_by=ctx.person.id, confirmed_at=ctx.now):
        await _lost(ctx, contact, profile)  # someone else's tap won: no second task
        return
    await ctx.session.refresh(contact)
    card = ctx.card("recall_outcome", r=await contact_view(ctx, contact, profile))
    ctx.deliver(ctx.person, "recall", platform=WECOM, card=card,
                handle={"recall_id": contact.id, "external_userid": external,
                        "text": contact.text})
    # The outbox retries this row until WeCom knows the outcome: that is the polling.
    ctx.deliver(ctx.person, "recall_poll", platform=WECOM, card=card,
                handle={"recall_id": contact.id, "external_userid": external,
                        "queued_at": ctx.now.isoformat()},
                not_before=ctx.now + FIRST_POLL_AFTER)
    await _show(ctx, "recall_outcome", contact, profile)


@router.action("recall.sent")
async def mark_sent(ctx: Context) -> None:
    """[已发送] on the copy card: the sender says the message went out."""
    tapped = await _tapped(ctx, S.DRAFTED, S.HANDED)
    if tapped is None:
        return
    contact, profile = tapped
    if not await _respected(ctx, contact, profile):
        return
    if not await _change(ctx, contact, status=S.SENT, sender_id=ctx.person.id,
                         decided_by=ctx.person.id, confirmed_at=ctx.now, sent_at=ctx.now):
        await _lost(ctx, contact, profile)
        return
    await _show(ctx, "recall_outcome", contact, profile)


@router.action("recall.skip")
async def skip_recall(ctx: Context) -> None:
    """[跳过]: this message is not sent; the candidate's later prompts still come."""
    tapped = await _tapped(ctx, S.DRAFTED, S.HANDED)
    if tapped is None:
        return
    contact, profile = tapped
    if not await _change(ctx, contact, status=S.SKIPPED, decided_by=ctx.person.id):
        await _lost(ctx, contact, profile)
        return
    await _show(ctx, "recall_closed", contact, profile, stale=False)


@router.action("recall.edit")
async def ask_for_text(ctx: Context) -> None:
    """[编辑]: the next message the person types becomes the text."""
    tapped = await _tapped(ctx, S.DRAFTED, S.HANDED)
    if tapped is None:
        return
    contact, profile = tapped
    await set_pending_input(
        session=ctx.session, person_id=ctx.person.id or 0, action="recall.edit",
        params=dict(ctx.params), now=ctx.now,
    )
    ctx.reply("recall_prompt", r=await contact_view(ctx, contact, profile), what="edit",
              cancelled=False)


async def answer_edit(ctx: Context, pending: PendingInput) -> None:
    """The typed text replaces the draft (and clears a missing-variable error)."""
    await clear_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
    ctx.params = dict(pending.params)
    tapped = await _tapped(ctx, S.DRAFTED, S.HANDED)
    if tapped is None:
        return
    contact, profile = tapped
    text = typed_text(ctx)
    if ctx.args.strip().lower() in CANCEL_WORDS:
        ctx.reply("recall_prompt", r=await contact_view(ctx, contact, profile), what="edit",
                  cancelled=True)
        return
    problem = text_problem(text)
    if problem is not None:
        raise UserFacingError("recall_blocked", {"reason": problem})
    if not await _change(ctx, contact, text=text, error="", edited=True, channel=""):
        await _lost(ctx, contact, profile)
        return
    await ctx.session.refresh(contact)
    handover = contact.status == S.HANDED and contact.sender_id == ctx.person.id
    await _show(ctx, "recall_preview", contact, profile, handover=handover)


async def sender_choices(ctx: Context, profile: TalentProfile) -> list[Person]:
    """Who may send instead: the position's hiring manager first, then hiring managers of the
    same store or above it."""
    position = await ctx.session.get(Position, profile.position_id) if profile.position_id \
        else None
    chosen: list[Person] = []
    if position is not None and position.hiring_manager_id is not None:
        manager = await ctx.session.get(Person, position.hiring_manager_id)
        if manager is not None:
            chosen.append(manager)
    for person in await list_people(session=ctx.session):
        if "hiring_manager" in person.roles and in_scope(person.org_path, profile.org_path):
            chosen.append(person)
    unique = {p.id: p for p in chosen if p.active and p.id != ctx.person.id}
    return list(unique.values())[:MAX_SENDERS]


@router.action("recall.sender")
async def change_sender(ctx: Context) -> None:
    """[换发送人]: pick a hiring manager, who gets the profile and the draft to send as
    themself."""
    tapped = await _tapped(ctx, S.DRAFTED)
    if tapped is None:
        return
    contact, profile = tapped
    if not is_hr_for(ctx.person, profile):
        raise forbidden()
    choices = await sender_choices(ctx, profile)
    if "sender" not in ctx.params:
        if not choices:
            raise UserFacingError("recall_blocked", {"reason": "no_senders"})
        view = await contact_view(ctx, contact, profile)
        senders = [{"id": p.id, "name": p.name} for p in choices]
        key = ctx.params.get("card_key")
        if key:
            ctx.update_card(key, "recall_senders", r=view, senders=senders)
        else:
            ctx.reply("recall_senders", r=view, senders=senders)
        return
    sender = next((p for p in choices if p.id == parse_id(ctx.params["sender"])), None)
    if sender is None:
        raise forbidden()
    values: dict[str, object] = {"status": S.HANDED, "sender_id": sender.id, "channel": ""}
    if not contact.edited:
        # The draft speaks in the sender's name: it is the hiring manager who writes now.
        template, text, error = await compose(ctx, profile, contact.stage, sender)
        values.update(template=template, text=text, error=error)
    if not await _change(ctx, contact, **values):
        await _lost(ctx, contact, profile)
        return
    await _show(ctx, "recall_closed", contact, profile, stale=False)
    await send_preview(ctx, sender, contact, profile, handover=True)


@router.action("recall.outcome")
async def record_outcome(ctx: Context) -> None:
    """[已回复] [有意向] [已返岗] [不再联系] after a message went out."""
    contact, profile = await load_contact(ctx, ctx.params.get("rid"))
    if not may_handle(ctx.person, profile, contact):
        raise forbidden()
    outcome = ctx.params.get("outcome", "")
    if outcome not in OUTCOMES:
        raise UserFacingError("bad_action")
    if contact.status != S.SENT:
        raise UserFacingError("recall_blocked", {"reason": "not_sent"})
    now = ctx.now
    values: dict[str, object] = {}
    # A later stage implies the earlier ones: nobody is re-hired without having answered.
    ladder = {"replied": ("replied",), "interested": ("replied", "interested"),
              "rehired": ("replied", "interested", "rehired"), "opted_out": ("opted_out",)}
    for step in ladder[outcome]:
        if getattr(contact, f"{step}_at") is None:
            values[f"{step}_at"] = now
    if values:
        await _change(ctx, contact, **values)
    if outcome == "opted_out" and profile.opted_out_at is None:
        await opt_out(ctx.session, profile, version=profile.version, now=now)
        await ctx.session.refresh(profile)
    await _show(ctx, "recall_outcome", contact, profile)
