"""Help, open positions, and the answer to anything not understood."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.routing import Router
from handlers.referral.attachments import attach_loose_files
from handlers.referral.phrasing import answer_by_phrasing
from handlers.referral.submit import continue_draft
from storage.repo.positions import list_open_positions

router = Router("info")


@router.command("帮助", "help", "?", "？")
async def show_help(ctx: Context) -> None:
    ctx.reply("help")


@router.command("岗位", "positions", "jobs")
async def list_positions(ctx: Context) -> None:
    positions = await list_open_positions(session=ctx.session)
    ctx.reply(
        "positions",
        positions=[
            {
                "title": p.title,
                "code": p.code,
                "org_path": p.org_path,
                "requirements": [r.get("label", "") for r in p.requirements],
            }
            for p in positions
        ],
    )


async def not_understood(ctx: Context) -> None:
    """Text that is no command: a file for a referral, the rest of a draft, otherwise help."""
    if not ctx.args.strip() and await attach_loose_files(ctx):
        return
    if await answer_by_phrasing(ctx):
        return
    if await continue_draft(ctx):
        return
    ctx.reply("help", unknown=ctx.args[:40], suggestion=ctx.suggestion[:120])
