"""Benchmark: a full directory sync of a large fake org from both platforms, within their
rate limits, and a second sync with no changes that writes nothing.

Run from the repository root::

    .venv/bin/python -m bench.directory_sync                      # 3,000 people, ~150 stores
    .venv/bin/python -m bench.directory_sync --people 50000 --stores 2000
    .venv/bin/python -m bench.directory_sync --unthrottled        # raw speed, limits off

The org is written as a directory CSV (总部 → regions → stores; every store has a leader,
everyone has a lead) and served by the sandbox's fake DingTalk and WeCom contact APIs over
loopback (``sandbox/contacts.py``). The real readers (``bot/adapters/*/contacts.py``) read it
with their rate limits on: DingTalk 20 calls/s per app and API (the client's limiter),
WeCom 9,000 calls/min per API (under the documented 10,000/min per corp and API). For each
platform the script prints the wall time, the calls per API, and the least time the limits
allow for those calls, then plans and applies the sync to a fresh SQLite database (every
person new), runs it again and checks that the second run changes and audits nothing. The
process's peak resident memory (``ru_maxrss``, the sandbox included) is printed at the end.

Not a test: pytest never collects it. The exit status is 1 if the second sync wrote anything
or a read broke a limit.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlmodel import func, select

from bot.adapters.dingtalk import contacts as dt
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.ratelimit import RateLimiter
from bot.adapters.wecom import contacts as wx
from bot.adapters.wecom.client import WeComClient
from bot.config.directory import DEFAULT_ROLE_RULES
from bot.config.schema import DingTalkConfig, WeComConfig
from bot.core.context import JobContext, Settings
from bot.pipeline.directory import OrgSnapshot
from handlers.admin.directory_sync import SyncPolicy, sync_snapshots
from sandbox import SandboxSettings, start_sandbox
from storage.db import create_all, make_engine, make_session_factory, session_scope
from storage.models import AuditRecord

KEY, SECRET, CORP, WX_SECRET = "benchkey", "benchsecret", "wwbench", "benchwx"
AES = "c2FuZGJveC1hZXMta2V5LWZvci13ZWNvbS10ZXN0czA"
DINGTALK_PER_SECOND = 20.0
DINGTALK_BURST = 20
WECOM_PER_MINUTE = wx.PER_MINUTE


def write_org(path: Path, people: int, stores: int) -> None:
    """总部 (1 boss) → 10 regions (1 leader each) → stores (1 leader + staff)."""
    regions = 10
    rows = [["employee_no", "name", "org_path", "roles", "dingtalk_user_id",
             "dingtalk_union_id", "wecom_userid", "lead"],
            ["B0", "总经理", "总部", "leader", "dt_b0", "un_b0", "b0", ""]]
    for r in range(regions):
        rows.append([f"R{r}", f"区总{r}", f"总部/区域{r}", "leader", f"dt_r{r}", f"un_r{r}",
                     f"r{r}", "B0"])
    staff = people - 1 - regions
    for n in range(staff):
        store = n % stores
        region = store % regions
        head = n < stores  # the first person of each store leads it
        rows.append([f"S{n}", f"员工{n}", f"总部/区域{region}/门店{store}",
                     "leader" if head else "", f"dt_s{n}", f"un_s{n}", f"s{n}",
                     f"R{region}" if head else f"S{store}"])
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def least_seconds(platform: str, calls: dict[str, int]) -> float:
    """The shortest time the per-API limits allow for these calls (the busiest API decides;
    DingTalk's client lets a burst of 20 start at once, then 20 a second)."""
    if platform == "dingtalk":
        return max(0, max(calls.values()) - DINGTALK_BURST) / DINGTALK_PER_SECOND
    return max(calls.values()) / (WECOM_PER_MINUTE / 60)


async def read(platform: str, url: str, http: httpx.AsyncClient, unthrottled: bool
               ) -> tuple[OrgSnapshot, float]:
    now = lambda: datetime.now(UTC)  # noqa: E731
    started = time.perf_counter()
    if platform == "dingtalk":
        limiter = RateLimiter(rate=1e9, burst=10**9) if unthrottled else RateLimiter()
        client = DingTalkClient(DingTalkConfig(app_key=KEY, app_secret=SECRET, robot_code=KEY,
                                               card_template_id="t", api_base=url,
                                               oapi_base=url), http, now, limiter=limiter)
        org = await dt.fetch_org(client)
    else:
        wecom = WeComClient(WeComConfig(corp_id=CORP, agent_id=1, secret=WX_SECRET, token="t",
                                        encoding_aes_key=AES, api_base=url), http, now)
        org = await wx.fetch_org(wecom, per_minute=10**9 if unthrottled else WECOM_PER_MINUTE)
    return org, time.perf_counter() - started


async def main(people: int, stores: int, unthrottled: bool) -> int:
    logging.basicConfig(level=logging.WARNING)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        org_csv = Path(tmp) / "org.csv"
        write_org(org_csv, people, stores)
        runner, url = await start_sandbox(SandboxSettings(
            people_csv=org_csv, dingtalk_app_key=KEY, dingtalk_app_secret=SECRET,
            wecom_corp_id=CORP, wecom_secret=WX_SECRET))
        print(f"org: {people} people in {stores + 11} departments "
              f"({'limits off' if unthrottled else 'within the rate limits'})")
        snapshots = []
        try:
            async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(
                    max_connections=32)) as http:
                for platform in ("dingtalk", "wecom"):
                    org, seconds = await read(platform, url, http, unthrottled)
                    snapshots.append(org)
                    calls = org.api_calls
                    floor = least_seconds(platform, calls)
                    print(f"{platform}: {len(org.members)} members, {len(org.units)} "
                          f"departments in {seconds:.1f} s; {sum(calls.values())} calls "
                          f"({', '.join(f'{k} {v}' for k, v in sorted(calls.items()))}); "
                          f"the limits allow it in no less than {floor:.1f} s")
                    if not unthrottled and seconds < floor * 0.9:
                        print(f"  FAIL: faster than the {platform} limits allow")
                        failed = True
        finally:
            await runner.cleanup()
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await create_all(engine)
        factory = make_session_factory(engine)
        policy = SyncPolicy(rules=DEFAULT_ROLE_RULES)
        for run in ("first", "second"):
            started = time.perf_counter()
            async with session_scope(factory) as session:
                job = JobContext(session=session, now=datetime.now(UTC), settings=Settings())
                outcome = await sync_snapshots(job, snapshots, policy, actor="bench")
            seconds = time.perf_counter() - started
            async with session_scope(factory) as session:
                audits = (await session.exec(select(func.count()).select_from(AuditRecord))
                          ).one()
            print(f"{run} sync: {seconds:.1f} s, {outcome.created} created, {outcome.updated} "
                  f"updated, {len(outcome.plan.conflicts)} conflicts, {audits} audit rows so far")
            if run == "second" and (outcome.created or outcome.updated or outcome.deactivated
                                    or outcome.plan.changes):
                print("  FAIL: the second sync changed something")
                failed = True
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak resident memory of the process (fakes included): {peak:.0f} MiB")
        await engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--stores", type=int, default=150)
    parser.add_argument("--unthrottled", action="store_true", help="rate limits off")
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.people, options.stores, options.unthrottled)))
