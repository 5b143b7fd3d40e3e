"""What is happening to my referrals, and what is waiting for me."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.events import ConversationKind
from bot.core.log import dispatch_log
from bot.core.routing import Router
from bot.core.text import normalize_text
from handlers.referral.announce import task_card_name
from handlers.referral.permissions import PERMISSIONS, VIEW
from handlers.referral.views import card_key, referral_view
from handlers.referral.workflow import may_act
from storage.models import Candidate, Position, Referral
from storage.repo.audit import record_audit
from storage.repo.conversations import get_draft, get_pending_input
from storage.repo.referrals import (
    get_referral,
    list_assigned_referrals,
    list_referrals_by_referrer,
)

router = Router("progress")

_VIEWERS = frozenset({"referrer", "hr", "leader", "hiring_manager"})


@router.command("进度", "progress", "status")
async def show_progress(ctx: Context) -> None:
    """`进度` lists my referrals; `进度 12` shows one referral's timeline."""
    arg = normalize_text(ctx.args).lstrip("#")
    if arg.isdigit():
        await _show_one(ctx, int(arg))
        return
    rows = []
    for referral in await list_referrals_by_referrer(
        session=ctx.session, referrer_id=ctx.person.id or 0
    ):
        candidate = await ctx.session.get(Candidate, referral.candidate_id)
        position = await ctx.session.get(Position, referral.position_id)
        rows.append(
            {
                "id": referral.id,
                "state": referral.state.value,
                "candidate": candidate.name if candidate else "",
                "position": position.title if position else "",
                "updated_at": referral.updated_at,
            }
        )
    _answer_privately(ctx, "progress_list", rows=rows)
    note_in_group(ctx, "progress")


@router.action("progress.show")
async def tap_progress(ctx: Context) -> None:
    rid = ctx.params.get("rid", "")
    if not rid.isdigit():
        raise UserFacingError("bad_action")
    await _show_one(ctx, int(rid))


async def visible_referral(ctx: Context, referral_id: int, action: str) -> Referral:
    """The referral, if the actor may see it: its assignee, or a viewer role in scope.

    A permitted read of the full profile is audited; a refusal (a forged or guessed id) is
    logged.

    Raises:
        UserFacingError: No such referral, or not the actor's to see (``action`` names why).
    """
    referral = await get_referral(session=ctx.session, referral_id=referral_id)
    if referral is None:
        raise UserFacingError("not_found", {"referral_id": referral_id})
    position = await ctx.session.get(Position, referral.position_id)
    assert position is not None
    allowed = referral.assignee_id == ctx.person.id or may_act(
        ctx.person, PERMISSIONS[VIEW], referral, position
    )
    if not allowed:
        # The handler's savepoint is rolled back on refusal: the log line and the inbox row's
        # outcome ("…!forbidden") are what keep it on record.
        dispatch_log.warning(
            "refused: event=%s actor=%s action=%s referral=%s",
            ctx.event.event_id, ctx.person.id, action, referral.id,
        )
        raise UserFacingError("forbidden", {"action": action, "referral_id": referral.id})
    await record_audit(
        session=ctx.session, at=ctx.now, action="view", candidate_id=referral.candidate_id,
        referral_id=referral.id, actor_id=ctx.person.id, platform=ctx.event.platform,
        detail={"via": action},
    )
    return referral


async def _show_one(ctx: Context, referral_id: int) -> None:
    referral = await visible_referral(ctx, referral_id, "progress")
    _answer_privately(ctx, "progress", r=await referral_view(ctx, referral))
    note_in_group(ctx, "progress")


@router.command("待办", "todo", "todos")
async def show_todos(ctx: Context) -> None:
    """My open tasks, each re-sent as its task card so one tap finishes it."""
    referrals = await list_assigned_referrals(session=ctx.session, assignee_id=ctx.person.id or 0)
    draft = await get_draft(session=ctx.session, person_id=ctx.person.id or 0)
    pending = await get_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
    views = [await referral_view(ctx, r) for r in referrals]
    _answer_privately(
        ctx,
        "todos",
        tasks=views,
        draft=draft.fields if draft else None,
        pending=pending.action if pending else None,
    )
    for referral, view in zip(referrals, views, strict=True):
        name = await task_card_name(ctx.session, referral)
        if name is not None:
            _answer_privately(ctx, name, key=card_key(referral, name), r=view)
    note_in_group(ctx, "todos")


def _in_group(ctx: Context) -> bool:
    return ctx.event.conversation.kind == ConversationKind.GROUP


def _answer_privately(ctx: Context, name: str, key: str | None = None, **context: object) -> None:
    """Full records and task cards go to the asker's 1:1 chat when asked in a group: everyone
    in the group would otherwise read the candidate's name, reason and evidence."""
    if _in_group(ctx):
        ctx.notify(ctx.person, name, key=key, **context)
    else:
        ctx.reply(name, key=key, **context)


def note_in_group(ctx: Context, what: str) -> None:
    """Asked in a group, answered in the asker's 1:1 chat: the group is told where it went."""
    if _in_group(ctx):
        ctx.reply("sent_privately", what=what)
