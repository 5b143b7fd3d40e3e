"""Files that came with a referral, sent on request to whoever may see the referral.

The bot keeps the platform's handle (DingTalk downloadCode, WeCom media id), not the bytes;
the platform's adapter turns it into a download link or a file message. A file can only be
sent on the platform it came from: a DingTalk download code means nothing to WeCom.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from handlers.referral.progress import note_in_group, visible_referral
from storage.models import TERMINAL_STATES, Attachment
from storage.repo.attachments import list_attachments
from storage.repo.referrals import list_referrals_by_referrer

router = Router("attachments")


async def _send(ctx: Context, referral_id: int, only: int | None = None) -> None:
    await visible_referral(ctx, referral_id, "attachments")
    files = await list_attachments(session=ctx.session, referral_id=referral_id)
    if only is not None:
        files = [f for f in files if f.id == only]
    here = [f for f in files if f.platform == ctx.event.platform]
    elsewhere = [f for f in files if f.platform != ctx.event.platform]
    for f in here:
        ctx.send_file(
            {"kind": f.kind, "filename": f.filename, "platform": f.platform, "ref": f.ref},
            "attachment_file", rid=referral_id, filename=f.filename,
        )
    if not here:
        ctx.reply(
            "attachments_none", rid=referral_id,
            elsewhere=sorted({f.platform for f in elsewhere}),
        )
    else:
        note_in_group(ctx, "attachments")  # files always go to the asker's 1:1 chat


@router.command("附件", "files", "attachments")
async def send_attachments(ctx: Context) -> None:
    """`附件 12` — the files that came with referral 12, sent to you."""
    rid = ctx.args.strip().lstrip("#")
    if not rid.isdigit():
        raise UserFacingError("command_usage", {"command": "attachments"})
    await _send(ctx, int(rid))


@router.action("attachment.send")
async def tap_attachment(ctx: Context) -> None:
    rid, aid = ctx.params.get("rid", ""), ctx.params.get("aid", "")
    if not (rid.isdigit() and aid.isdigit()):
        raise UserFacingError("bad_action")
    await _send(ctx, int(rid), only=int(aid))


async def attach_loose_files(ctx: Context) -> bool:
    """A file sent on its own (a résumé after the referral) joins the sender's newest open
    referral; returns False when the event brought no file."""
    if not ctx.event.attachments:
        return False
    referrals = await list_referrals_by_referrer(
        session=ctx.session, referrer_id=ctx.person.id or 0, limit=20
    )
    open_ones = [r for r in referrals if r.state not in TERMINAL_STATES]
    if not open_ones:
        ctx.reply("attachment_added", rid=None, files=[a.filename for a in ctx.event.attachments])
        return True
    referral = open_ones[0]
    for attachment in ctx.event.attachments:
        ctx.session.add(
            Attachment(
                referral_id=referral.id or 0, kind=attachment.kind, filename=attachment.filename,
                platform=ctx.event.platform, ref=attachment.ref, created_at=ctx.now,
            )
        )
    await ctx.session.flush()
    ctx.reply(
        "attachment_added", rid=referral.id, files=[a.filename for a in ctx.event.attachments]
    )
    return True
