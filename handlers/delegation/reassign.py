"""From a task card: reassign (转交), ask someone's opinion (征询), add an approver (加签).

The task's holder may do all three; their lead or an HR lead in scope may reassign (the
escalation card offers it). A new holder must be able to decide the step in their own
right, and is routed to their delegate if they have one.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from bot.core.text import normalize_text
from handlers.delegation.commands import find_person
from handlers.delegation.moves import hand_over, move_task
from handlers.delegation.rules import DECIDING_ACTION, delegate_for, task_kind, task_view
from handlers.referral.tasks import input_handler, stale
from handlers.referral.workflow import COSIGNED_ACTIONS, TRANSITIONS, StaleAction, may_act
from storage.models import Person, Position, Referral, ReferralEvent
from storage.repo.conversations import set_pending_input
from storage.repo.people import in_scope
from storage.repo.referrals import (
    add_referral_event,
    find_version_event,
    get_referral,
    list_referral_events,
)

router = Router("task_moves")

REFUSE = "task_refused"


async def _load(ctx: Context, rid: str) -> tuple[Referral, Position]:
    referral = None
    if rid.isdigit():
        referral = await get_referral(session=ctx.session, referral_id=int(rid))
    if referral is None:
        raise UserFacingError("not_found", {"referral_id": rid})
    position = await ctx.session.get(Position, referral.position_id)
    assert position is not None
    return referral, position


async def _current(ctx: Context, referral: Referral, version: str) -> bool:
    """False (after answering who handled it) when the card's version is old."""
    if version.isdigit() and int(version) == referral.version:
        return True
    event = await find_version_event(
        session=ctx.session, referral_id=referral.id or 0,
        from_version=int(version) if version.isdigit() else -1,
    )
    await stale(ctx, StaleAction(event), referral)
    return False


async def _may_reassign(ctx: Context, referral: Referral, position: Position) -> bool:
    me = ctx.person
    if referral.assignee_id == me.id:
        return True
    holder = await ctx.session.get(Person, referral.assignee_id) if referral.assignee_id else None
    if holder is not None and holder.lead_id == me.id:
        return True
    return "hr_lead" in me.roles and in_scope(me.org_path, position.org_path)


async def _task(ctx: Context, referral: Referral) -> str:
    kind = await task_kind(ctx.session, referral)
    if kind not in DECIDING_ACTION or referral.assignee_id is None:
        raise UserFacingError(REFUSE, {"reason": "no_task", "rid": referral.id})
    return kind


async def _taker(
    ctx: Context, referral: Referral, position: Position, name: str, action: str
) -> Person:
    """The person a typed name means, if they may decide ``action`` on this referral."""
    rid = referral.id
    person = await find_person(ctx, name, REFUSE, rid=rid)
    if not person.active:
        raise UserFacingError(REFUSE, {"reason": "inactive", "who": person.name, "rid": rid})
    if person.id == referral.referrer_id:
        raise UserFacingError(REFUSE, {"reason": "is_referrer", "who": person.name, "rid": rid})
    if person.id == referral.assignee_id:
        raise UserFacingError(REFUSE, {"reason": "same_person", "who": person.name, "rid": rid})
    if not may_act(person, TRANSITIONS[action].roles, referral, position):
        raise UserFacingError(REFUSE, {"reason": "cannot_act", "who": person.name, "rid": rid})
    return person


def _outcome(ctx: Context, referral: Referral, action: str, **extra: str) -> dict[str, object]:
    return {"action": action, "actor": ctx.person.name, "at": ctx.now, "note": "",
            "to_state": referral.state.value, "assignee": "", **extra}


async def _answer(ctx: Context, referral: Referral, outcome: dict[str, object]) -> None:
    view = await task_view(ctx, referral)
    outcome["assignee"] = outcome["assignee"] or view["assignee"]
    tapped = ctx.params.get("card_key")
    if tapped:
        ctx.update_card(tapped, "action_done", r=view, outcome=outcome)
    else:
        ctx.reply("action_done", r=view, outcome=outcome)


async def _ask(ctx: Context, action: str, requires: str, referral: Referral) -> None:
    await set_pending_input(session=ctx.session, person_id=ctx.person.id or 0, action=action,
                            params=dict(ctx.params), now=ctx.now)
    ctx.reply("input_prompt", r=await task_view(ctx, referral), action=action, requires=requires)


@router.action("task.options")
async def show_options(ctx: Context) -> None:
    referral, position = await _load(ctx, ctx.params.get("rid", ""))
    if not await _current(ctx, referral, ctx.params.get("v", "")):
        return
    await _task(ctx, referral)
    if not await _may_reassign(ctx, referral, position):
        raise UserFacingError(REFUSE, {"reason": "not_holder", "rid": referral.id})
    holder = referral.assignee_id == ctx.person.id
    ctx.reply("task_options", r=await task_view(ctx, referral), can_consult=holder,
              can_cosign=holder and referral.state in COSIGNED_ACTIONS)


@router.action("task.reassign", "task.add_approver", "task.consult")
async def tap_move(ctx: Context) -> None:
    """A button of the options or escalation card: ask for the name first."""
    assert ctx.event.action is not None
    action = ctx.event.action.action_id
    referral, position = await _load(ctx, ctx.params.get("rid", ""))
    if not await _current(ctx, referral, ctx.params.get("v", "")):
        return
    await _check_actor(ctx, referral, position, action)
    requires = {"task.reassign": "assignee", "task.add_approver": "cosigner",
                "task.consult": "consultee"}[action]
    await _ask(ctx, action, requires, referral)


async def _check_actor(ctx: Context, referral: Referral, position: Position, action: str) -> None:
    await _task(ctx, referral)
    if action == "task.reassign":
        if not await _may_reassign(ctx, referral, position):
            raise UserFacingError(REFUSE, {"reason": "not_holder", "rid": referral.id})
        return
    if referral.assignee_id != ctx.person.id:
        raise UserFacingError(REFUSE, {"reason": "not_assignee", "rid": referral.id})
    if action == "task.add_approver" and referral.state not in COSIGNED_ACTIONS:
        raise UserFacingError(REFUSE, {"reason": "no_cosign", "rid": referral.id})


async def reassign(ctx: Context, referral: Referral, version: str, name: str, note: str) -> None:
    """Hand the task to ``name`` (or their delegate); the old holder is told."""
    position = await ctx.session.get(Position, referral.position_id)
    assert position is not None
    if not await _current(ctx, referral, version):
        return
    await _check_actor(ctx, referral, position, "task.reassign")
    kind = await _task(ctx, referral)
    taker = await _taker(ctx, referral, position, name, DECIDING_ACTION[kind])
    delegate = await delegate_for(ctx, referral, taker, kind)
    try:
        move = await move_task(ctx, referral, delegate or taker, action="task.reassign",
                               assignee_for=taker if delegate else None,
                               version=referral.version, note=note)
    except StaleAction as err:
        await stale(ctx, err, referral)
        return
    view = await hand_over(ctx, move)
    previous = move.previous
    if previous is not None and previous.id != ctx.person.id and view is not None:
        ctx.notify(previous, "task_moved", reason="reassign", tasks=[view], to=move.holder.name,
                   by=ctx.person.name, note=note, at=ctx.now)
    await _answer(ctx, referral, _outcome(ctx, referral, "task.reassign", note=note))


async def add_approver(ctx: Context, referral: Referral, version: str, name: str) -> None:
    position = await ctx.session.get(Position, referral.position_id)
    assert position is not None
    if not await _current(ctx, referral, version):
        return
    await _check_actor(ctx, referral, position, "task.add_approver")
    action = COSIGNED_ACTIONS[referral.state]
    taker = await _taker(ctx, referral, position, name, action)
    events = await list_referral_events(session=ctx.session, referral_id=referral.id or 0)
    if any(e.action == "task.add_approver" and e.data.get("cosigner_id") == taker.id
           for e in events):
        raise UserFacingError(REFUSE, {"reason": "already_cosigner", "who": taker.name,
                                       "rid": referral.id})
    await _event(ctx, referral, "task.add_approver", "", {"cosigner_id": taker.id})
    await _answer(ctx, referral, _outcome(ctx, referral, "task.add_approver",
                                          cosigner=taker.name))


async def consult(ctx: Context, referral: Referral, version: str, name: str,
                  question: str) -> None:
    position = await ctx.session.get(Position, referral.position_id)
    assert position is not None
    if not await _current(ctx, referral, version):
        return
    await _check_actor(ctx, referral, position, "task.consult")
    if not question:
        raise UserFacingError(REFUSE, {"reason": "usage_consult", "rid": referral.id})
    person = await find_person(ctx, name, REFUSE, rid=referral.id)
    if person.id == referral.referrer_id:
        raise UserFacingError(REFUSE, {"reason": "is_referrer", "who": person.name,
                                       "rid": referral.id})
    # The question shows the candidate: only people of the position's reporting line see it.
    if not person.active or not (
        in_scope(person.org_path, position.org_path) or in_scope(position.org_path,
                                                                 person.org_path)
    ):
        raise UserFacingError(REFUSE, {"reason": "out_of_scope", "who": person.name,
                                       "rid": referral.id})
    ask = await _event(ctx, referral, "task.consult", question,
                       {"consultee_id": person.id, "asked_by": ctx.person.id})
    ctx.notify(person, "task_consult", key=f"r{referral.id}-ask{ask.id}",
               r=await task_view(ctx, referral), asker=ctx.person.name, question=question,
               ask_id=ask.id)
    await _answer(ctx, referral, _outcome(ctx, referral, "task.consult", consultee=person.name))


async def _event(ctx: Context, referral: Referral, action: str, note: str,
                 data: dict[str, object]) -> ReferralEvent:
    """An audit entry that changes neither state nor holder (no version, no assignee)."""
    return await add_referral_event(
        session=ctx.session,
        event=ReferralEvent(referral_id=referral.id or 0, actor_id=ctx.person.id, action=action,
                            note=note, data=data, platform=ctx.event.platform, at=ctx.now),
    )


async def _open_question(ctx: Context, referral: Referral, ask_id: str) -> ReferralEvent:
    events = await list_referral_events(session=ctx.session, referral_id=referral.id or 0)
    ask = next((e for e in events if str(e.id) == ask_id and e.action == "task.consult"), None)
    answered = any(e.action == "task.consult_reply" and str(e.data.get("ask_id")) == ask_id
                   for e in events)
    if ask is None or answered or ask.data.get("consultee_id") != ctx.person.id:
        raise UserFacingError(REFUSE, {"reason": "not_asked", "rid": referral.id})
    return ask


@router.action("task.consult_reply")
async def tap_reply(ctx: Context) -> None:
    referral, _ = await _load(ctx, ctx.params.get("rid", ""))
    await _open_question(ctx, referral, ctx.params.get("ask", ""))
    await _ask(ctx, "task.consult_reply", "opinion", referral)


@input_handler("task.consult_reply")
async def answer_question(ctx: Context, params: dict[str, str], text: str) -> None:
    referral, _ = await _load(ctx, params.get("rid", ""))
    ask = await _open_question(ctx, referral, params.get("ask", ""))
    await _event(ctx, referral, "task.consult_reply", text, {"ask_id": ask.id})
    asker = await ctx.session.get(Person, ask.data.get("asked_by"))
    view = await task_view(ctx, referral)
    if asker is not None:
        ctx.notify(asker, "consult_reply", r=view, by=ctx.person.name, question=ask.note,
                   answer=text)
    await _answer(ctx, referral, _outcome(ctx, referral, "task.consult_reply"))


def _name_and_rest(text: str) -> tuple[str, str]:
    name, _, rest = normalize_text(text).partition(" ")
    return name, rest.strip()


@input_handler("task.reassign")
async def answer_reassign(ctx: Context, params: dict[str, str], text: str) -> None:
    referral, _ = await _load(ctx, params.get("rid", ""))
    name, note = _name_and_rest(text)
    await reassign(ctx, referral, params.get("v", ""), name, note)


@input_handler("task.add_approver")
async def answer_add_approver(ctx: Context, params: dict[str, str], text: str) -> None:
    referral, _ = await _load(ctx, params.get("rid", ""))
    await add_approver(ctx, referral, params.get("v", ""), _name_and_rest(text)[0])


@input_handler("task.consult")
async def answer_consult(ctx: Context, params: dict[str, str], text: str) -> None:
    referral, _ = await _load(ctx, params.get("rid", ""))
    name, question = _name_and_rest(text)
    await consult(ctx, referral, params.get("v", ""), name, question)


async def _command(ctx: Context, usage: str) -> tuple[Referral, str, str]:
    rid, _, rest = normalize_text(ctx.args).partition(" ")
    name, tail = _name_and_rest(rest)
    if not rid.lstrip("#").isdigit() or not name:
        raise UserFacingError(REFUSE, {"reason": usage})
    referral, _ = await _load(ctx, rid.lstrip("#"))
    return referral, name, tail


@router.command("转交", "reassign")
async def reassign_by_command(ctx: Context) -> None:
    """`转交 12 王总 出差期间由他处理`."""
    referral, name, note = await _command(ctx, "usage_reassign")
    await reassign(ctx, referral, str(referral.version), name, note)


@router.command("加签", "cosign")
async def add_approver_by_command(ctx: Context) -> None:
    """`加签 12 王总`: after my approval, 王总 must approve too."""
    referral, name, _ = await _command(ctx, "usage_cosign")
    await add_approver(ctx, referral, str(referral.version), name)


@router.command("征询", "consult")
async def consult_by_command(ctx: Context) -> None:
    """`征询 12 王总 这位候选人的薪资预期是否合适？`."""
    referral, name, question = await _command(ctx, "usage_consult")
    await consult(ctx, referral, str(referral.version), name, question)
