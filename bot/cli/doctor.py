"""`hrbot doctor`: checks a configuration against the platforms and the database.

One line per check, ``✔`` or ``✘`` and what to do; exit status 1 when anything is ``✘``.
`hrbot doctor --guide` prints the setup guide made from the same table (docs/setup.md).
Secrets are never printed; nothing is sent to any person.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from alembic.script import ScriptDirectory

from bot.cli.doctor_dingtalk import Check
from bot.config.schema import Config
from storage.db import make_engine, make_session_factory, session_scope
from storage.migrate import alembic_config, current_revision
from storage.repo.ops import ping, read_queues

BACKLOG_WARN = 1000  # pending outbox messages that mean deliveries are stuck
LAG_WARN_S = 3600.0  # a due item an hour late means the clock loop is not running


async def database(config: Config, now: Callable[[], datetime]) -> list[Check]:
    """Reachable, at the newest migration, and no stuck outbox or due items."""
    url = config.database.url
    try:
        revision = await current_revision(url)
    except Exception as err:  # any driver error: the message says which
        return [Check("database", False, f"unreachable ({type(err).__name__}): check "
                      "[database] url / HRBOT_DATABASE_URL")]
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    checks = [Check("database schema", revision == head, (
        f"at {revision}" if revision == head
        else f"at {revision or 'nothing'}, newest is {head}: run `hrbot db upgrade`"))]
    if revision != head:
        return checks
    engine = make_engine(url)
    try:
        async with session_scope(make_session_factory(engine)) as session:
            await ping(session=session)
            queues = await read_queues(session=session, now=now())
    finally:
        await engine.dispose()
    checks.append(Check("outbox", queues.outbox_depth < BACKLOG_WARN, (
        f"{queues.outbox_depth} messages waiting, oldest {queues.outbox_oldest_age:.0f} s")
        + ("" if queues.outbox_depth < BACKLOG_WARN else
           ": deliveries are stuck; see the ✘ lines above and the log")))
    checks.append(Check("due items", queues.due_lag < LAG_WARN_S, (
        f"most overdue {queues.due_lag:.0f} s late") + ("" if queues.due_lag < LAG_WARN_S
        else ": is `hrbot serve` running (its clock sends reminders)?")))
    return checks


async def diagnose(config: Config, http: httpx.AsyncClient,
                   now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[Check]:
    """Every check for this configuration, in order."""
    from bot.cli import doctor_dingtalk, doctor_wecom

    checks: list[Check] = []
    if not config.platforms():
        checks.append(Check("platforms", False, (
            "neither [dingtalk] nor [wecom] is configured: see config.example.toml")))
    if config.dingtalk is not None:
        checks += await doctor_dingtalk.run(config, http, now)
    if config.wecom is not None:
        checks += await doctor_wecom.run(config.wecom, http)
    local = await database(config, now)
    checks += local
    if all(c.ok for c in local[:1]):
        checks += await directory(config, http, now, {c.name for c in checks if c.ok})
    return checks


async def directory(config: Config, http: httpx.AsyncClient, now: Callable[[], datetime],
                    passed: set[str]) -> list[Check]:
    """The directory's people as each platform with a working token sees them."""
    from bot.adapters.dingtalk.client import DingTalkClient
    from bot.adapters.wecom.client import WeComClient
    from bot.cli import doctor_directory, doctor_wecom
    from storage.repo.people import list_people

    engine = make_engine(config.database.url)
    try:
        async with session_scope(make_session_factory(engine)) as session:
            people = await list_people(session=session)
    finally:
        await engine.dispose()
    checks = []
    if config.dingtalk is not None and "dingtalk token" in passed:
        client = DingTalkClient(config.dingtalk, http, now)
        checks.append(await doctor_directory.dingtalk_people(client, people))
    if config.wecom is not None and "wecom token" in passed:
        wecom = WeComClient(config.wecom, http)
        _, token = await doctor_wecom.token(wecom)
        if token:
            checks.append(await doctor_directory.wecom_people(wecom, token, people))
    return checks


def render(checks: list[Check]) -> str:
    return "\n".join(f"{'✔' if c.ok else '✘'} {c.name}: {c.detail}" for c in checks)


async def doctor(config: Config, *, guide: bool = False, print_: Callable[[str], None] = print
                 ) -> int:
    """Run the checks (or print the guide); 0 when all pass, 1 otherwise."""
    if guide:
        from bot.cli.doctor_table import guide as setup_guide

        print_(setup_guide().rstrip("\n"))
        return 0
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
        checks = await diagnose(config, http)
    print_(render(checks))
    return 0 if all(c.ok for c in checks) else 1
