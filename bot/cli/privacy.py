"""`hrbot gdpr export|erase|rekey` and `hrbot audit`: data-subject requests from the terminal.

Every export and erasure is itself audited, with the operating system user as the actor.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.privacy.gdpr import anonymize_candidate, export_candidate
from handlers.referral.form import normalize_phone
from storage.crypto import Keyring, current_keyring, use_keyring
from storage.db import SessionFactory
from storage.models import (
    AuditRecord,
    Candidate,
    ContactLookup,
    Inbox,
    Outbox,
    Person,
    Referral,
    ReferralDraft,
    ReferralEvent,
)
from storage.repo.audit import list_candidate_trail, record_audit
from storage.repo.candidates import find_candidate


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


async def run_privacy(factory: SessionFactory, args: argparse.Namespace) -> int:
    """Run one ``gdpr`` or ``audit`` subcommand; returns the process exit status."""
    now = datetime.now(UTC)
    async with factory() as session:
        if args.command == "gdpr" and args.gdpr == "rekey":
            return await _rekey(factory, plaintext=args.plaintext)
        candidate = None
        if getattr(args, "candidate", None) is not None:
            candidate = await session.get(Candidate, args.candidate)
        elif getattr(args, "phone", None):
            phone = normalize_phone(args.phone)
            candidate = await find_candidate(session=session, phone=phone, email=None)
        else:
            print("give --candidate ID or --phone NUMBER", file=sys.stderr)
            return 2
        if candidate is None or candidate.id is None:
            print("no such candidate", file=sys.stderr)
            return 1
        if args.command == "audit":
            await _print_trail(session, candidate.id)
            return 0
        if args.gdpr == "export":
            data = await export_candidate(session, candidate)
            await record_audit(session=session, at=now, action="export",
                               candidate_id=candidate.id, actor=_operator(), platform="cli")
            await session.commit()
            text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
            if args.out == "-":
                print(text)
            else:
                Path(args.out).write_text(text + "\n", encoding="utf-8")
            return 0
        await anonymize_candidate(session, candidate, now=now, action="erase",
                                  actor=_operator(), platform="cli")
        await session.commit()
        print(f"candidate {candidate.id} anonymised")
        return 0


async def _print_trail(session: AsyncSession, candidate_id: int) -> None:
    names = {p.id: p.name for p in (await session.exec(select(Person))).all()}
    for row in await list_candidate_trail(session=session, candidate_id=candidate_id):
        if isinstance(row, AuditRecord):
            who = names.get(row.actor_id, "") if row.actor_id else row.actor
            what = row.action
        else:
            who = names.get(row.actor_id, "") if row.actor_id else "system"
            what = f"{row.action} {row.from_state or ''}→{row.to_state or ''}"
        ref = f" #{row.referral_id}" if row.referral_id else ""
        print(f"{row.at.isoformat(timespec='seconds')}  {who or '-'}  {row.platform or '-'}  "
              f"{what}{ref}")


async def _rekey(factory: SessionFactory, *, plaintext: bool) -> int:
    """Rewrite every contact under the newest key (or as plaintext), rebuilding the indexes."""
    ring = current_keyring()
    count = 0
    async with factory() as session:
        rows = list((await session.exec(select(Candidate).order_by(col(Candidate.id)))).all())
        with use_keyring(Keyring() if plaintext else ring):
            for candidate in rows:
                # Values were opened with the full ring on load; marking them changed makes
                # the flush seal them again with the ring in force now.
                candidate.phone = candidate.phone and str(candidate.phone)
                candidate.email = candidate.email and str(candidate.email)
                flag_modified(candidate, "phone")
                flag_modified(candidate, "email")
                session.add(candidate)
                count += 1
            await session.commit()
    sealed = await _reseal_columns(factory, Keyring() if plaintext else ring)
    print(f"{count} candidates rewritten, {sealed} rows of payloads and free text resealed")
    return 0


# Every column sealed whole with the data key besides the candidate's contacts: after a
# rotation they must be rewritten too, or dropping the old key would make them unreadable.
_SEALED_COLUMNS: tuple[tuple[type, tuple[str, ...]], ...] = (
    (Referral, ("reason",)),
    (ReferralEvent, ("note", "data")),
    (ReferralDraft, ("fields",)),
    (Inbox, ("payload",)),
    (Outbox, ("payload",)),
    (ContactLookup, ("mobiles",)),
)
_PAGE = 500


async def _reseal_columns(factory: SessionFactory, ring: Keyring) -> int:
    count = 0
    for model, columns in _SEALED_COLUMNS:
        last_id = 0
        while True:
            async with factory() as session:
                # Opened with the full ring in force (old keys included), sealed with ``ring``.
                rows: list[Any] = list((await session.exec(
                    select(model).where(col(model.id) > last_id)  # type: ignore[attr-defined]  # every sealed table has an id
                    .order_by(col(model.id)).limit(_PAGE)  # type: ignore[attr-defined]  # every sealed table has an id
                )).all())
                if not rows:
                    break
                last_id = rows[-1].id
                with use_keyring(ring):
                    for row in rows:
                        for column in columns:
                            flag_modified(row, column)
                        session.add(row)
                    await session.commit()
                count += len(rows)
    return count
