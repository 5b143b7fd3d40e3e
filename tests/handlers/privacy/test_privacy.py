"""Personal data: encryption at rest (with and without a key, rotation), blind-index duplicate
detection, consent, erasure and export (chat and CLI), retention, and the audit trail."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.cli.commands import main
from bot.cli.local_chat import LocalChat
from bot.core.context import JobContext, Settings
from handlers.privacy.retention import purge_expired, schedule_retention
from storage.crypto import DataKeyError, Keyring, decrypt, encrypt, parse_keyring, use_keyring
from storage.db import SessionFactory, make_engine, make_session_factory
from storage.models import AuditRecord, Candidate, DueItem, Referral
from tests._support import db
from tests._support.clock import FakeClock
from tests._support.referrals import referral_at, submit

CHECKED: dict[str, int] = {"keyrings": 0, "erasures": 0, "audit_rows": 0}
K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()
PHONE = "13800138000"


async def _raw_contacts(factory: SessionFactory) -> list[tuple[str | None, str | None]]:
    async with factory() as session:
        rows = await session.exec(text("SELECT phone, phone_hash FROM candidate"))  # type: ignore[call-overload]
        return [tuple(r) for r in rows.all()]


def test_keyring_parsing_and_rotation() -> None:
    old, both = parse_keyring(f"a:{K1}"), parse_keyring(f"b:{K2},a:{K1}")
    sealed_old = encrypt(PHONE, old)
    assert sealed_old.startswith("enc1:a:") and PHONE not in sealed_old
    assert encrypt(PHONE, old) != sealed_old  # fresh nonce each time
    assert decrypt(sealed_old, both) == PHONE  # the new ring still opens old rows
    assert encrypt(PHONE, both).startswith("enc1:b:")  # ... and seals with the newest
    with pytest.raises(DataKeyError):
        decrypt(encrypt(PHONE, both), old)
    with pytest.raises(DataKeyError):
        parse_keyring("a:" + base64.b64encode(b"short").decode())
    with pytest.raises(DataKeyError):
        decrypt(sealed_old[:-4] + "AAAA", old)  # tampered
    assert encrypt(PHONE, Keyring()) == PHONE and decrypt(PHONE, old) == PHONE
    CHECKED["keyrings"] += 8


@pytest.mark.parametrize("keyed", [False, True], ids=["plaintext", "encrypted"])
async def test_contacts_at_rest_and_duplicates(
    keyed: bool, chat: LocalChat, demo: SessionFactory
) -> None:
    with use_keyring(parse_keyring(f"a:{K1}") if keyed else Keyring()):
        rid = await submit(chat)
        sent = await chat.say("E030", f"推荐 店长 张三 {PHONE} 曾将社区商场月客流提升30%")
        assert [m.card.title for m in sent if "重复" in m.card.title or "已" in m.card.title]
        rows = await db.all_rows(demo, Candidate)
        assert [c.phone for c in rows] == [PHONE]  # one candidate, read back in clear
    (stored, index), = await _raw_contacts(demo)
    assert index and PHONE not in index
    assert (stored == PHONE) is (not keyed)
    assert rid > 0
    CHECKED["keyrings"] += 1


async def test_rotation_keeps_duplicates_found(chat: LocalChat, demo: SessionFactory) -> None:
    with use_keyring(parse_keyring(f"a:{K1}")):
        await submit(chat)
    with use_keyring(parse_keyring(f"b:{K2},a:{K1}")):
        sent = await chat.say("E030", f"推荐 店长 张三 {PHONE} 曾将社区商场月客流提升30%")
        assert len(await db.all_rows(demo, Candidate)) == 1
        assert all(m.card.title != "推荐已提交" for m in sent)


async def test_consent_is_recorded_by_the_referrer(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    rid = await submit(chat)
    assert [m.card.title for m in await chat.say("E011", f"候选人同意 {rid}")] == ["没有权限"]
    sent = await chat.say("E020", f"候选人同意 {rid}")
    assert sent[0].card.title == "已记录候选人同意"
    candidate, = await db.all_rows(demo, Candidate)
    assert candidate.consent and candidate.consent_at == clock.now
    actions = [a.action for a in await db.all_rows(demo, AuditRecord)]
    assert actions.count("consent") == 1


async def test_erase_from_chat_needs_hr_lead(chat: LocalChat, demo: SessionFactory) -> None:
    rid = await submit(chat)
    candidate, = await db.all_rows(demo, Candidate)
    assert [m.card.title for m in await chat.say("E011", f"删除候选人 {candidate.id}")] == [
        "没有权限"]
    sent = await chat.say("E002", f"删除候选人 {candidate.id}")
    assert sent[0].card.title == "候选人信息已删除"
    erased, = await db.all_rows(demo, Candidate)
    assert (erased.name, erased.phone, erased.email, erased.work_history) == (
        "已匿名", None, None, [])
    assert erased.phone_hash is None
    referral = await db.referral(demo, rid)
    assert referral.reason == ""
    audit = [a for a in await db.all_rows(demo, AuditRecord) if a.action == "erase"]
    assert len(audit) == 1 and audit[0].actor_id is not None and audit[0].platform
    sent = await chat.say("E002", f"删除候选人 {candidate.id}")
    assert sent[0].card.title == "没找到这位候选人"
    CHECKED["erasures"] += 1


async def test_retention_anonymises_only_quiet_closed_candidates(
    chat: LocalChat, demo: SessionFactory, clock: FakeClock
) -> None:
    closed = await referral_at(chat, demo, "hr_review")
    await chat.say("E011", f"驳回 {closed} 零售经验不足")
    await submit(chat, "推荐 导购 李四 13900139000 曾将社区商场月客流提升30%")
    later = clock.now + timedelta(days=731)
    async with demo() as session:
        job = JobContext(session=session, now=later, settings=Settings(retention_days=730))
        assert await schedule_retention(job)
        assert not await schedule_retention(job)  # once a day
        item, = [d for d in (await session.exec(select(DueItem))).all()
                 if d.kind == "retention.sweep"]
        await purge_expired(job, item)
        await session.commit()
    names = sorted(c.name for c in await db.all_rows(demo, Candidate))
    assert names == sorted(["李四", "已匿名"])  # the open referral keeps 李四
    audit = [a for a in await db.all_rows(demo, AuditRecord) if a.action == "anonymize"]
    assert [a.actor for a in audit] == ["system:retention"]
    rows = await db.all_rows(demo, Referral)
    assert len(rows) == 2  # rows kept, counts stay right
    CHECKED["erasures"] += 1


async def test_cli_export_erase_and_audit(
    tmp_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cli.db"}"\n',
                      encoding="utf-8")

    def cli(*argv: str) -> int:
        # The command line runs its own event loop, so it cannot share the test's.
        return main(["--config", str(config), *argv])

    assert await asyncio.to_thread(cli, "demo", "seed") == 0
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    factory = make_session_factory(engine)
    try:
        chat = LocalChat(session_factory=factory, settings=Settings(), clock=clock)
        rid = await submit(chat)
        await chat.say("E011", f"进度 {rid}")  # a read of the full profile
        candidate, = await db.all_rows(factory, Candidate)
        out = tmp_path / "export.json"
        assert await asyncio.to_thread(
            cli, "gdpr", "export", "--candidate", str(candidate.id), "--out", str(out)) == 0
        data = json.loads(out.read_text(encoding="utf-8"))
        assert data["candidate"]["phone"] == PHONE and "phone_hash" not in data["candidate"]
        assert [r["id"] for r in data["referrals"]] == [rid]
        assert {a["action"] for a in data["audit"]} == {"view"}
        capsys.readouterr()
        assert await asyncio.to_thread(cli, "audit", "--candidate", str(candidate.id)) == 0
        trail = capsys.readouterr().out
        lines = [line.split("  ", 1)[1] for line in trail.splitlines()]
        assert lines[0] == "张经理  shell  referral.submit draft→submitted #1"
        assert f"李HR  shell  view #{rid}" in lines
        assert lines[-1].endswith("  cli  export")
        assert PHONE not in trail
        assert await asyncio.to_thread(cli, "gdpr", "erase", "--phone", PHONE) == 0
        erased, = await db.all_rows(factory, Candidate)
        assert erased.name == "已匿名"
        rows = await db.all_rows(factory, AuditRecord)
        # The review card sent to 李HR, then 李HR's 进度, then the export and the erasure.
        assert [(a.action, a.detail.get("via")) for a in rows] == [
            ("view", "review_task"), ("view", "progress"), ("export", None), ("erase", None)]
        CHECKED["audit_rows"] += len(rows)
    finally:
        await engine.dispose()
