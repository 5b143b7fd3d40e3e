"""Erasure reaches every table, and the payload tables hold no contact data in clear.

Seeds every table that can hold a candidate's data through the real chat (inbox, outbox,
drafts, reasons, notes, audit, pool), erases, and scans the whole SQLite file (every
PostgreSQL table) for the phone, email and name.
"""

from __future__ import annotations

import argparse
import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel, select

from bot.cli.local_chat import LocalChat
from bot.cli.privacy import run_privacy
from bot.core.context import JobContext, Settings
from handlers.privacy.retention import purge_expired
from storage.crypto import Keyring, parse_keyring, use_keyring
from storage.db import SessionFactory
from storage.models import Candidate, DueItem, Inbox, Outbox, Person, ReferralDraft
from storage.repo.personal_data import prune_payloads
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.referrals import submit

BOTH = pytest.mark.parametrize("db_kind", ["sqlite", "postgres"], indirect=True)
KEY = base64.b64encode(b"7" * 32).decode()
NAME, PHONE, EMAIL = "欧阳明远", "13712345678", "oymy@example.com"
FORM = (
    f"推荐\n岗位: 店长\n姓名: {NAME}\n电话: {PHONE}\n邮箱: {EMAIL}\n"
    f"理由: 曾将社区商场月客流提升30%，有事可发 {EMAIL}"
)


def _forms(value: str) -> list[bytes]:
    # JSON columns may hold the text as UTF-8 or as \\u escapes, depending on the writer.
    return [value.encode(), json.dumps(value).strip('"').encode()]


def _found(blob: bytes) -> list[str]:
    return [v for v in (NAME, PHONE, EMAIL) if any(f in blob for f in _forms(v))]


async def _seed(chat: LocalChat, demo: SessionFactory) -> int:
    rid = await submit(chat, FORM)
    # A second referrer's half-typed referral of the same person stays as a draft.
    await chat.say("E030", f"推荐 店长 {NAME} {PHONE}")
    await chat.say("E011", f"进度 {rid}")
    await chat.say("E011", f"需补充 {rid} 请{NAME}补充简历，联系 {PHONE}")
    assert await db.all_rows(demo, ReferralDraft), "the draft table was not seeded"
    return rid


async def _table_dump(factory: SessionFactory) -> dict[str, bytes]:
    dumps: dict[str, bytes] = {}
    async with factory.kw["bind"].connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table.name}"'))).all()
            dumps[table.name] = repr([tuple(r) for r in rows]).encode() + b"".join(
                str(v).encode() for r in rows for v in r)
    return dumps


@BOTH
async def test_erasure_leaves_no_trace_anywhere(
    chat: LocalChat, demo: SessionFactory, tmp_path: Path, db_kind: str
) -> None:
    with use_keyring(Keyring()):  # in clear, so only the erasure can make the scan pass
        await _seed(chat, demo)
        assert "inbox" in {t for t, blob in (await _table_dump(demo)).items() if _found(blob)}
        candidate, = await db.all_rows(demo, Candidate)
        sent = await chat.say("E002", f"删除候选人 {candidate.id}")
        assert sent[0].card.title == "候选人信息已删除"
    leaks = {t: _found(blob) for t, blob in (await _table_dump(demo)).items() if _found(blob)}
    assert leaks == {}
    if db_kind == "sqlite":
        await demo.kw["bind"].dispose()  # closes the last connection: the WAL is checkpointed away
        blob = b"".join(p.read_bytes() for p in tmp_path.glob("hrbot.db*"))
        assert _found(blob) == []


@BOTH
async def test_payload_tables_are_sealed_with_a_key(
    chat: LocalChat, demo: SessionFactory, db_kind: str
) -> None:
    with use_keyring(parse_keyring(f"a:{KEY}")):
        rid = await _seed(chat, demo)
        dumps = await _table_dump(demo)
        # Read back through the models, everything is still there in clear.
        draft, = await db.all_rows(demo, ReferralDraft)
        assert PHONE in json.dumps(draft.fields, ensure_ascii=False)
        referral = await db.referral(demo, rid)
        assert EMAIL in referral.reason
    for table in ("inbox", "outbox", "referral_draft", "referral", "referral_event"):
        assert _found(dumps[table]) == [], table


@BOTH
async def test_retention_empties_handled_payloads(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock, db_kind: str
) -> None:
    await submit(chat, FORM)
    async with demo() as session:
        recent = JobContext(session=session, now=clock.now + timedelta(days=6),
                            settings=Settings(payload_retention_days=7))
        await purge_expired(recent, DueItem(kind="retention.sweep", subject="r"))
        await session.commit()
    assert all(row.payload for row in await db.all_rows(demo, Inbox))  # inside the window
    async with demo() as session:
        later = JobContext(session=session, now=clock.now + timedelta(days=8),
                           settings=Settings(payload_retention_days=7))
        await purge_expired(later, DueItem(kind="retention.sweep", subject="r"))
        await session.commit()
    inbox, outbox = await db.all_rows(demo, Inbox), await db.all_rows(demo, Outbox)
    assert inbox and all(row.payload == {} and row.processed_at for row in inbox)
    assert outbox and all(row.payload == {} for row in outbox if row.status == "sent")
    async with demo() as session:
        still = (await session.exec(select(Outbox).where(Outbox.status != "sent"))).all()
    assert all(row.payload for row in still)


async def test_erase_checks_scope_not_only_role(chat: LocalChat, demo: SessionFactory) -> None:
    # A regional HR lead (华南) may not erase a candidate referred to a 上海 store.
    async with demo() as session:
        session.add(Person(employee_no="E099", name="华南HR负责人", org_path="总部/华南",
                           roles=["hr", "hr_lead"]))
        await session.commit()
    await submit(chat, FORM)
    candidate, = await db.all_rows(demo, Candidate)
    sent = await chat.say("E099", f"删除候选人 {candidate.id}")
    assert [m.card.title for m in sent] == ["没有权限"]
    kept, = await db.all_rows(demo, Candidate)
    assert (kept.name, kept.phone, kept.anonymized_at) == (NAME, PHONE, None)
    sent = await chat.say("E002", f"删除候选人 {candidate.id}")  # HQ's HR lead may
    assert sent[0].card.title == "候选人信息已删除"


async def test_rotation_reseals_payloads_so_the_old_key_can_go(
    chat: LocalChat, demo: SessionFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = f"a:{KEY}", "b:" + base64.b64encode(b"8" * 32).decode()
    with use_keyring(parse_keyring(old)):
        rid = await _seed(chat, demo)
    with use_keyring(parse_keyring(f"{new},{old}")):
        args = argparse.Namespace(command="gdpr", gdpr="rekey", plaintext=False)
        assert await run_privacy(demo, args) == 0
    assert "rows of payloads and free text resealed" in capsys.readouterr().out
    dumps = await _table_dump(demo)
    for table in ("inbox", "outbox", "referral_draft", "referral", "referral_event"):
        assert b"enc1:a:" not in dumps[table], table
    with use_keyring(parse_keyring(new)):  # the old key is gone: everything still opens
        assert EMAIL in (await db.referral(demo, rid)).reason
        assert all(row.payload for row in await db.all_rows(demo, Inbox))
        draft, = await db.all_rows(demo, ReferralDraft)
        assert PHONE in json.dumps(draft.fields, ensure_ascii=False)


@BOTH
async def test_pruning_sealed_payloads_touches_each_row_once(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock, db_kind: str
) -> None:
    with use_keyring(parse_keyring(f"a:{KEY}")):
        await submit(chat, FORM)
        cut = clock.now + timedelta(days=8)
        async with demo() as session:
            inbox, outbox = await prune_payloads(session=session, handled_before=cut)
            assert inbox >= 1 and outbox >= 1
            # Emptied rows are left alone the next day: the sweep does not rewrite history.
            assert await prune_payloads(session=session, handled_before=cut) == (0, 0)
            await session.commit()
        assert all(row.payload == {} for row in await db.all_rows(demo, Inbox))
