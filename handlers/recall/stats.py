"""`召回统计`: how recall messages did, per template and per reason category.

Rates are over messages that went out (sent): replies, interest and re-hires. Drafts that
were skipped or withdrawn are counted separately so the prompts' yield shows too.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bot.core.context import Context
from handlers.recall.common import forbidden, router
from storage.models import RecallContact, RecallStatus
from storage.repo.people import in_scope
from storage.repo.recall import list_all_contacts

READERS = frozenset({"hr", "hr_lead", "admin"})


def _row(key: str, contacts: list[RecallContact]) -> dict[str, Any]:
    sent = [c for c in contacts if c.sent_at is not None]
    replied = sum(c.replied_at is not None for c in sent)
    rehired = sum(c.rehired_at is not None for c in sent)

    def rate(part: int) -> int:
        return round(part * 100 / len(sent)) if sent else 0

    return {
        "key": key,
        "drafted": len(contacts),
        "sent": len(sent),
        "delivered": sum(c.delivered_at is not None for c in sent),
        "skipped": sum(c.status == RecallStatus.SKIPPED for c in contacts),
        "failed": sum(c.status == RecallStatus.FAILED for c in contacts),
        "replied": replied,
        "interested": sum(c.interested_at is not None for c in sent),
        "rehired": rehired,
        "opted_out": sum(c.opted_out_at is not None for c in sent),
        "reply_rate": rate(replied),
        "rehire_rate": rate(rehired),
    }


def recall_figures(contacts: list[RecallContact]) -> dict[str, Any]:
    """Totals plus one row per template and per category, most sent first."""
    by_template: dict[str, list[RecallContact]] = defaultdict(list)
    by_category: dict[str, list[RecallContact]] = defaultdict(list)
    for contact in contacts:
        by_template[contact.template].append(contact)
        by_category[contact.category].append(contact)

    def rows(groups: dict[str, list[RecallContact]]) -> list[dict[str, Any]]:
        return sorted((_row(k, v) for k, v in groups.items()),
                      key=lambda r: (-r["sent"], r["key"]))

    return {"total": _row("", contacts), "templates": rows(by_template),
            "categories": rows(by_category)}


@router.command("召回统计", "recall stats", "recallstats")
async def show_recall_stats(ctx: Context) -> None:
    """Response and re-hire rates of the recall messages in the person's scope."""
    if not READERS & set(ctx.person.roles):
        raise forbidden()
    contacts = [c for c, p in await list_all_contacts(session=ctx.session)
                if in_scope(ctx.person.org_path, p.org_path)]
    ctx.reply("recall_stats", stats=recall_figures(contacts))
