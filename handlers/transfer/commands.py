"""The transfer's own commands and buttons: apply, list, show, withdraw, and the 延期 /
返回总部 answers to a fixed term ending. Approval buttons are the engine's."""

from __future__ import annotations

from datetime import date

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from bot.core.text import normalize_text
from handlers.sla.calendar import is_working_day
from handlers.transfer.definition import TRANSFER
from handlers.transfer.effects import case_date, close_ending_cards, local_start
from handlers.transfer.form import DATE_PATTERN, apply_transfer, open_transfer, refuse
from handlers.workflow.actions import CaseAction
from handlers.workflow.cards import case_view
from handlers.workflow.resolvers import has_role_over, target_store_manager
from handlers.workflow.routes import load_case, run_action, show_case, show_cases
from handlers.workflow.stats import show_stage_stats
from storage.models import Case, PendingInput
from storage.repo.cases import list_open_cases
from storage.repo.conversations import clear_pending_input, set_pending_input
from storage.repo.people import get_person

router = Router("transfer")

_WITHDRAW = {"撤回", "withdraw"}
_HELP = {"帮助", "help", "?", "？"}
_STATS = {"统计", "stats"}


@router.command("调岗", "transfer")
async def transfer(ctx: Context) -> None:
    """`调岗` lists mine, `调岗 3` shows one, `调岗 撤回 3 原因`, `调岗 统计` the time per
    step, else a new application."""
    text = normalize_text(ctx.args)
    words = text.split()
    if not words:
        await show_cases(ctx, TRANSFER)
    elif words[0].lstrip("#").isdigit() and len(words) == 1:
        await show_case(ctx, TRANSFER, int(words[0].lstrip("#")))
    elif words[0] in _HELP:
        ctx.reply("transfer/usage", missing=[], typed="")
    elif words[0].lower() in _WITHDRAW:
        await _withdraw(ctx, words[1:])
    elif words[0].lower() in _STATS and len(words) == 1:
        await show_stage_stats(ctx, TRANSFER)
    else:
        await apply_transfer(ctx, text)


async def _withdraw(ctx: Context, words: list[str]) -> None:
    if not words or not words[0].lstrip("#").isdigit():
        raise UserFacingError("transfer/usage", {"missing": ["case"], "typed": " ".join(words)})
    case = await load_case(ctx, TRANSFER, int(words[0].lstrip("#")))
    # A reason asked for earlier is answered by this command instead.
    await clear_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
    await run_action(ctx, TRANSFER, case.id or 0, "withdraw", case.version,
                     note=" ".join(words[1:]))


async def _ending_case(ctx: Context) -> tuple[Case, CaseAction]:
    """The in-effect fixed-term case a 延期/返回总部 button is about, if the tapper may act."""
    assert ctx.event.action is not None
    act = CaseAction.unpack(ctx.event.action.action_id, ctx.params)
    case = await load_case(ctx, TRANSFER, act.case_id)
    manager = await target_store_manager(ctx.session, case, ())
    if not (has_role_over(ctx.person, "hr", case.org_path)
            or has_role_over(ctx.person, "hr_lead", case.org_path)
            or (manager is not None and manager.id == ctx.person.id)):
        raise UserFacingError("workflow/forbidden", {"wf": TRANSFER.name, "case_id": case.id})
    follow_up = await list_open_cases(session=ctx.session, workflow=TRANSFER.name,
                                      open_states=TRANSFER.open_states,
                                      subject_person_id=case.subject_person_id)
    if case.state != "in_effect" or case.version != act.version or follow_up:
        raise refuse("ending_handled", None, case_id=case.id)
    return case, act


@router.action("transfer.return")
async def tap_return(ctx: Context) -> None:
    """返回总部: the same workflow again, back to the home org when the term ends."""
    case, _ = await _ending_case(ctx)
    subject = await get_person(session=ctx.session, person_id=case.subject_person_id)
    until = case_date(case, "until")
    assert subject is not None and until is not None
    effective = await _working_on_or_after(ctx, until)
    await open_transfer(ctx, subject, str(case.data["home_org"]), effective, None, "",
                        kind="return", previous=case.id, home_org=str(case.data["home_org"]))
    await close_ending_cards(ctx, TRANSFER, case, "return")


@router.action("transfer.extend")
async def tap_extend(ctx: Context) -> None:
    """延期: ask for the new end date (typed next)."""
    case, act = await _ending_case(ctx)
    await set_pending_input(session=ctx.session, person_id=ctx.person.id or 0,
                            action="transfer.extend_date",
                            params={"case": str(case.id), "v": str(act.version)}, now=ctx.now)
    ctx.reply("transfer/extend_prompt", wf=TRANSFER.name, c=await case_view(ctx, TRANSFER, case))


async def answer_extend_date(ctx: Context, pending: PendingInput) -> None:
    """The new end date of an extension: the same workflow again, same store."""
    text = normalize_text(ctx.event.text or "")
    await clear_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
    if text in {"取消", "cancel", "算了"}:
        ctx.reply("workflow/input_cancelled", wf=TRANSFER.name, action="extend")
        return
    case = await load_case(ctx, TRANSFER, int(pending.params.get("case", "0")))
    match = DATE_PATTERN.match(text)
    old_until = case_date(case, "until")
    assert old_until is not None
    try:
        y, m, d = match.groups() if match else ("", "0", "0")
        new_until = date(int(y or old_until.year), int(m), int(d))
    except ValueError:
        raise refuse("bad_date", None, value=text) from None
    if case.state != "in_effect" or str(case.version) != pending.params.get("v"):
        raise refuse("ending_handled", None, case_id=case.id)
    if new_until <= old_until:
        raise refuse("end_before_start", None, value=new_until.isoformat())
    subject = await get_person(session=ctx.session, person_id=case.subject_person_id)
    assert subject is not None
    effective = await _working_on_or_after(ctx, old_until)
    await open_transfer(ctx, subject, subject.org_path, effective, new_until, "",
                        kind="extend", previous=case.id, home_org=str(case.data["home_org"]))
    await close_ending_cards(ctx, TRANSFER, case, "extend")


async def _working_on_or_after(ctx: Context, day: date) -> date:
    from datetime import timedelta

    today = ctx.now.astimezone(ctx.settings.tz).date()
    day = max(day, today)
    while not await is_working_day(ctx, local_start(ctx, day)):
        day += timedelta(days=1)
    return day
