"""Card actions and text commands that move a referral: review, approval, interviews, offer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.context import Context, Outgoing
from bot.core.errors import UserFacingError
from bot.core.log import dispatch_log
from bot.core.routing import Router
from bot.core.text import normalize_text
from handlers.delegation.rules import acting_for, is_move, task_view
from handlers.referral.announce import announce, awaiting_feedback
from handlers.referral.supplement import apply_supplement_fields
from handlers.referral.views import referral_view
from handlers.referral.workflow import (
    NO_SHOW_CATEGORIES,
    TRANSITIONS,
    StaleAction,
    apply_transition,
    may_act,
)
from storage.models import Person, Referral, ReferralEvent, ReferralState
from storage.repo.conversations import (
    clear_pending_input,
    get_pending_input,
    set_pending_input,
)
from storage.repo.positions import get_position
from storage.repo.referrals import (
    find_version_event,
    get_referral,
    list_referral_events,
    list_referrals_in_state,
)

router = Router("tasks")
S = ReferralState

CANCEL_WORDS = {"取消", "cancel", "算了"}

# Typed answers to buttons of other task modules (转交, 加签, ...), by pending action id.
InputHandler = Callable[[Context, dict[str, str], str], Awaitable[None]]
INPUT_HANDLERS: dict[str, InputHandler] = {}


def input_handler(action: str) -> Callable[[InputHandler], InputHandler]:
    """Register what answers the text typed after a ``action`` button asked for it."""

    def register(func: InputHandler) -> InputHandler:
        INPUT_HANDLERS[action] = func
        return func

    return register


async def _load(
    ctx: Context, rid: str, version: str | None = None, command: str | None = None
) -> tuple[Referral, int]:
    """The referral a card or command names; a malformed or unknown id is refused and logged."""
    try:
        referral_id = int(rid)
        ver = int(version) if version is not None else None
    except (TypeError, ValueError):
        if command is not None:  # a typo in a typed command, not a forged card
            raise UserFacingError("command_usage", {"command": command}) from None
        dispatch_log.warning("forged action params from person=%s", ctx.person.id)
        raise UserFacingError("bad_action") from None
    referral = await get_referral(session=ctx.session, referral_id=referral_id)
    if referral is None:
        raise UserFacingError("not_found", {"referral_id": referral_id})
    return referral, referral.version if ver is None else ver


async def _decision_after(ctx: Context, event: ReferralEvent) -> ReferralEvent | None:
    """The first decision taken after a task moved (a delegate's approval, say)."""
    for later in await list_referral_events(session=ctx.session, referral_id=event.referral_id):
        if (later.id or 0) > (event.id or 0) and "from_version" in later.data and not is_move(
            later
        ):
            return later
    return None


async def _name(ctx: Context, person_id: object) -> str:
    person = await ctx.session.get(Person, person_id) if isinstance(person_id, int) else None
    return person.name if person else ""


async def stale(ctx: Context, err: StaleAction, referral: Referral) -> None:
    """Who handled this card and when; a card whose task moved on says where it went."""
    event, moved_to = err.event, ""
    if event is not None and is_move(event):
        decision = await _decision_after(ctx, event)
        if decision is None:
            moved_to = await _name(ctx, event.data.get("assignee_id"))
        else:
            event = decision
    action = event.action if event else ""
    if event is not None and event.data.get("cosigned"):
        action = "task.cosigned"
    ctx.reply(
        "stale_action",
        r=await task_view(ctx, referral),
        by=await _name(ctx, event.actor_id) if event else "",
        by_for=await _name(ctx, event.data.get("actor_for")) if event else "",
        auto=bool(event and event.data.get("auto")),
        moved_to=moved_to,
        at=event.at if event else None,
        action=action,
    )



async def run_transition(
    ctx: Context,
    referral: Referral,
    action: str,
    version: int,
    note: str = "",
    data: dict[str, object] | None = None,
) -> None:
    try:
        moved = await apply_transition(
            ctx, referral, action, version=version, note=note, data=data
        )
    except StaleAction as err:
        await stale(ctx, err, referral)
        return
    await announce(ctx, moved)


async def _precheck(ctx: Context, referral: Referral, action: str, version: int) -> bool:
    """Before asking for input or writing anything: refuse foreign scopes, then stale cards."""
    transition = TRANSITIONS[action]
    position = await get_position(session=ctx.session, position_id=referral.position_id)
    assert position is not None
    principal = await acting_for(ctx.session, referral)
    if not may_act(ctx.person, transition.roles, referral, position, principal):
        raise UserFacingError("forbidden", {"action": action, "referral_id": referral.id})
    if referral.version != version or referral.state not in transition.sources:
        event = await find_version_event(
            session=ctx.session, referral_id=referral.id or 0, from_version=version
        )
        await stale(ctx, StaleAction(event), referral)
        return False
    return True


@router.action(*TRANSITIONS)
async def tap_action(ctx: Context) -> None:
    """Any workflow button: acts at once, or asks for the reason / items / category first."""
    assert ctx.event.action is not None
    action = ctx.event.action.action_id
    referral, version = await _load(ctx, ctx.params.get("rid", ""), ctx.params.get("v", ""))
    requires = TRANSITIONS[action].requires
    if requires == "category" and ctx.params.get("category") not in NO_SHOW_CATEGORIES:
        if await _precheck(ctx, referral, action, version):
            page = ctx.params.get("page", "0")
            choice = {
                "r": await referral_view(ctx, referral),
                "categories": NO_SHOW_CATEGORIES,
                "page": int(page) if page.isdigit() else 0,
            }
            # The choice replaces the offer card, so its buttons cannot be tapped again.
            if ctx.params.get("card_key"):
                ctx.update_card(ctx.params["card_key"], "no_show_categories", **choice)
            else:
                ctx.reply("no_show_categories", **choice)
        return
    if requires in ("reason", "items", "note") and not ctx.params.get("note"):
        if await _precheck(ctx, referral, action, version):
            await set_pending_input(
                session=ctx.session,
                person_id=ctx.person.id or 0,
                action=action,
                params=dict(ctx.params),
                now=ctx.now,
            )
            # Keyed under the task's version, so the answer closes it with the task's cards.
            prompt = ctx.card(
                "input_prompt",
                key=f"r{referral.id}v{version}-prompt-{ctx.person.id}",
                r=await referral_view(ctx, referral),
                action=action,
                requires=requires,
            )
            ctx.outgoing.append(Outgoing(card=prompt))
        return
    data: dict[str, object] = {}
    if requires == "category":
        data["category"] = ctx.params["category"]
    await run_transition(ctx, referral, action, version, ctx.params.get("note", ""), data)


async def answer_pending(ctx: Context) -> None:
    """The text a person typed after a button asked for it."""
    pending = await get_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
    assert pending is not None
    await clear_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
    text = ctx.args.strip()
    if text.lower() in CANCEL_WORDS:
        ctx.reply("input_cancelled", action=pending.action)
        return
    ctx.params = dict(pending.params)
    if pending.action in INPUT_HANDLERS:
        await INPUT_HANDLERS[pending.action](ctx, dict(pending.params), text)
        return
    # A typed answer is answered below it, in view; the tapped card and the prompt are
    # closed where they are (handlers.referral.closing) rather than updated out of sight.
    ctx.params.pop("card_key", None)
    referral, version = await _load(ctx, pending.params.get("rid", ""), pending.params.get("v"))
    data: dict[str, object] = {}
    if pending.action == "review.need_info":
        data["items"] = _split_items(text)
    await run_transition(ctx, referral, pending.action, version, text, data)


def _split_items(text: str) -> list[str]:
    for sep in ("；", ";", "、", "\n"):
        text = text.replace(sep, "\n")
    return [item.strip() for item in text.split("\n") if item.strip()]


# Text commands pick the action that fits the referral's current state.
_VIEWERS = frozenset({"referrer", "hr", "leader", "hiring_manager"})
_APPROVE = {
    S.HR_REVIEW: "review.pass",
    S.LEADER_APPROVAL: "approval.approve",
    S.INTERVIEWING: "interview.pass",
    S.OFFER: "offer.hired",
}
_REJECT = {
    S.HR_REVIEW: "review.reject",
    S.LEADER_APPROVAL: "approval.reject",
    S.INTERVIEWING: "interview.fail",
    S.OFFER: "offer.declined",
}


async def _by_command(ctx: Context, table: dict[ReferralState, str], need_text: bool) -> None:
    parts = normalize_text(ctx.args).split(maxsplit=1)
    if not parts:
        raise UserFacingError("command_usage", {"command": "reject" if need_text else "approve"})
    command = "reject" if need_text else "approve"
    referral, version = await _load(ctx, parts[0].lstrip("#"), command=command)
    note = parts[1] if len(parts) > 1 else ""
    position = await get_position(session=ctx.session, position_id=referral.position_id)
    assert position is not None
    action = table.get(referral.state)
    if action is None:
        # Nothing to approve here; only people who may see the referral learn its state.
        if not may_act(ctx.person, _VIEWERS, referral, position):
            raise UserFacingError("forbidden", {"action": command, "referral_id": referral.id})
        await stale(ctx, StaleAction(None), referral)
        return
    feedback = referral.assignee_id == ctx.person.id and await awaiting_feedback(
        ctx.session, referral
    )
    if action.startswith("interview.") and feedback:
        action = {"interview.pass": "feedback.hire", "interview.fail": "feedback.no"}[action]
    if need_text and not note:
        raise UserFacingError("command_usage", {"command": "reject"})
    await run_transition(ctx, referral, action, version, note)


@router.command("通过", "approve", "pass")
async def approve_by_command(ctx: Context) -> None:
    """`通过 12` — pass the review, approve, record an interview pass or a hire."""
    await _by_command(ctx, _APPROVE, need_text=False)


@router.command("驳回", "拒绝", "reject")
async def reject_by_command(ctx: Context) -> None:
    """`驳回 12 原因` — reject at whatever stage the referral is in."""
    await _by_command(ctx, _REJECT, need_text=True)


@router.command("需补充", "needinfo")
async def need_info_by_command(ctx: Context) -> None:
    """`需补充 12 近三年业绩；离职原因`."""
    parts = normalize_text(ctx.args).split(maxsplit=1)
    if len(parts) < 2:
        raise UserFacingError("command_usage", {"command": "needinfo"})
    referral, version = await _load(ctx, parts[0].lstrip("#"))
    await run_transition(
        ctx, referral, "review.need_info", version, parts[1], {"items": _split_items(parts[1])}
    )


@router.command("补充", "supplement")
async def supplement_referral(ctx: Context) -> None:
    """`补充 [编号] 内容` from the referrer of a referral that needs more information."""
    text = normalize_text(ctx.args)
    head, _, rest = text.partition(" ")
    waiting = await list_referrals_in_state(
        session=ctx.session, referrer_id=ctx.person.id or 0, state=S.NEEDS_INFO
    )
    if head.lstrip("#").isdigit() and rest.strip():
        referral, version = await _load(ctx, head.lstrip("#"))
        text = rest
    elif len(waiting) == 1 and text:
        referral, version = waiting[0], waiting[0].version
    else:
        raise UserFacingError("supplement_usage", {"waiting": [r.id for r in waiting]})
    if not await _precheck(ctx, referral, "referral.supplement", version):
        return
    await apply_supplement_fields(ctx, referral, text)
    await run_transition(ctx, referral, "referral.supplement", version, text)


@router.command("撤回", "withdraw")
async def withdraw_by_command(ctx: Context) -> None:
    """`撤回 12 候选人已接受其他offer` — the referrer (or HR) withdraws an open referral."""
    parts = normalize_text(ctx.args).split(maxsplit=1)
    if len(parts) < 2:
        raise UserFacingError("command_usage", {"command": "withdraw"})
    referral, version = await _load(ctx, parts[0].lstrip("#"), command="withdraw")
    await run_transition(ctx, referral, "referral.withdraw", version, parts[1])


_PASS_WORDS = {"通过", "pass", "passed"}
_FAIL_WORDS = {"未通过", "不通过", "fail", "failed"}


@router.command("面试", "interview")
async def record_interview(ctx: Context) -> None:
    """`面试 12 通过 85 沟通能力强` / `面试 12 未通过 缺乏团队管理经验` — a round's result."""
    parts = normalize_text(ctx.args).split(maxsplit=2)
    if len(parts) < 2 or parts[1].lower() not in _PASS_WORDS | _FAIL_WORDS:
        raise UserFacingError("command_usage", {"command": "interview"})
    referral, version = await _load(ctx, parts[0].lstrip("#"), command="interview")
    rest = parts[2] if len(parts) > 2 else ""
    if parts[1].lower() in _FAIL_WORDS:
        if not rest:
            raise UserFacingError("command_usage", {"command": "interview"})
        await run_transition(ctx, referral, "interview.fail", version, rest)
        return
    score_text, _, note = rest.partition(" ")
    data: dict[str, object] = {"round": referral.interview_round + 1}
    if score_text.isdigit() and 0 <= int(score_text) <= 100:
        data["score"] = int(score_text)
    else:
        note = rest
    await run_transition(ctx, referral, "interview.pass", version, note, data)
