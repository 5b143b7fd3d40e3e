"""Benchmark: `统计` for one region and a talent-pool search at 1,000,000 referrals.

Run from the repository root::

    .venv/bin/python -m bench.insight                       # 10,000 and 1,000,000 referrals
    .venv/bin/python -m bench.insight --sizes 10000,100000 --repeat 3

PostgreSQL only (``HRBOT_BENCH_DATABASE_URL``, default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``; the server must let this user create
databases). For each size it creates a fresh ``hrbot_bench_<random>`` database, builds the
schema with ``create_all`` (so the indexes the queries rely on are those of the models), and
fills every table with one ``INSERT … SELECT … FROM generate_series`` statement: 200 stores
in 8 regions, 600 positions, N candidates and referrals over three years, 10 audit events
per referral, and the insight tables the sync would have derived from them (one fact per
referral, three requirement checks, SLA breaches, a pool entry and its tags per candidate).

It then times, as the median of ``--repeat`` runs after a warm-up:

* ``stats`` — ``build_stats`` for one region (1/8 of the data) over the default window (the
  last 365 days) and over all time: every query the `统计` card needs;
* ``统计 chat`` — the whole command through the real dispatcher and outbox (sync check,
  queries, chart rendering, card, outbox row) as that region's HR;
* ``pool`` — ``search_pool`` for two tags in the region, and a free-text word;
* ``人才库 chat`` — the whole pool command;
* once, for contrast: stage durations computed straight from the audit trail (window
  function over the region's events), which is what the facts table saves.

It prints each figure, the ratio of the largest size to the smallest, and the plans of the
region's fact scan and of the pool search at the largest size. Each database is dropped at
the end. A run at 1,000,000 referrals takes about 2 minutes on 2 cores.

This is not a test: pytest never collects it (it lives outside ``tests/``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import asyncpg as pg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.local_chat import LocalChat
from bot.core.context import Settings
from handlers.insight.scope import StatsQuery
from handlers.insight.stats import build_stats
from storage.db import SessionFactory, create_all, make_engine, make_session_factory
from storage.repo.pool import newest_matches, search_pool

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REGIONS, STORES = 8, 25  # stores per region
EVENTS_PER_REFERRAL = 10
REGION = "总部/区域3"
TAGS = (  # (tag, percent of candidates carrying it)
    ("经理推荐", 50), ("零售经验", 40), ("店长经验", 10), ("团队管理", 30),
    ("本科及以上", 35), ("面试高分", 15), ("曾获offer", 25), ("未到岗", 5),
)

_T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", flush=True)


def _h(salt: int) -> str:
    """A cheap deterministic hash of n in SQL (Knuth's multiplicative), 0 .. 2^32-1."""
    return f"((n::bigint * 2654435761 + {salt * 40503}) % 4294967296)"


def base_cte(size: int) -> str:
    """One row per referral n with everything the tables derive from it.

    Every table's INSERT starts from this, so referrals, facts, checks and the pool agree.
    """
    stores = REGIONS * STORES
    tag_flags = ",\n".join(
        f"({_h(10 + i)} % 100) < {pct} AS t{i}" for i, (_, pct) in enumerate(TAGS)
    )
    return f"""
    WITH g AS (
      SELECT n,
        ({_h(1)} % {stores * 3}) AS slot,
        {_h(2)} AS h2, {_h(3)} AS h3, {_h(4)} AS h4,
        now() - interval '1095 days' * (1 - n::float8 / {size}) AS created_at,
        {tag_flags}
      FROM generate_series(1, {size}) AS n
    ), b AS (
      SELECT g.*,
        slot / 3 AS st, slot % 3 AS j, slot + 1 AS position_id,
        (slot / 3) / {STORES} + 1 AS r,
        100 + (slot / 3) * 3 + (h2 % 3)::int AS referrer_id,
        '总部/区域' || ((slot / 3) / {STORES} + 1) || '/门店' || ((slot / 3) % {STORES} + 1)
          AS org_path,
        CASE
          WHEN created_at > now() - interval '30 days'
            THEN (ARRAY['hr_review','needs_info','leader_approval','interviewing','offer'])
                 [1 + (h3 % 5)::int]
          WHEN h3 % 100 < 20 THEN 'hired'
          WHEN h3 % 100 < 60 THEN 'rejected'
          WHEN h3 % 100 < 65 THEN 'withdrawn'
          WHEN h3 % 100 < 70 THEN 'no_show'
          ELSE 'rejected'
        END AS state
      FROM g
    )"""


def _reached() -> str:
    # State bits as handlers.insight.facts.STAGE_BITS; leader approval only for slot 0 jobs.
    return """
      CASE state
        WHEN 'hired' THEN 1 | 8 | 16 | 32 | (CASE WHEN j = 0 THEN 4 ELSE 0 END)
          | (CASE WHEN h4 % 3 = 0 THEN 64 ELSE 0 END)
        WHEN 'no_show' THEN 1 | 8 | 16 | 128 | (CASE WHEN j = 0 THEN 4 ELSE 0 END)
        WHEN 'rejected' THEN 1 | 256 | (CASE WHEN h4 % 2 = 0 THEN 8 ELSE 0 END)
          | (CASE WHEN h4 % 2 = 0 AND j = 0 THEN 4 ELSE 0 END)
        WHEN 'withdrawn' THEN 1 | 512 | 8
        WHEN 'hr_review' THEN 1
        WHEN 'needs_info' THEN 1 | 2
        WHEN 'leader_approval' THEN 1 | 4
        WHEN 'interviewing' THEN 1 | 8
        ELSE 1 | 8 | 16
      END"""


def load_statements(size: int) -> list[tuple[str, str]]:
    """(table, SQL) — one statement per table."""
    base = base_cte(size)
    stores = REGIONS * STORES
    closed = "state IN ('hired','rejected','withdrawn','no_show')"
    reached = _reached()
    tags_array = " || ".join(
        f"CASE WHEN t{i} THEN ARRAY['{tag}'] ELSE ARRAY[]::text[] END"
        for i, (tag, _) in enumerate(TAGS)
    )
    tag_rows = " UNION ALL ".join(
        f"SELECT n, '{tag}' AS tag, org_path, created_at FROM b WHERE t{i}"
        for i, (tag, _) in enumerate(TAGS)
    )
    return [
        ("person", f"""
        INSERT INTO person (id, employee_no, name, org_path, roles, active)
        SELECT 1, 'HQ-HR', 'HQ人事', '总部', '["hr","hr_lead"]'::json, true
        UNION ALL
        SELECT 2 * r, 'HR-R' || r, '区域' || r || '人事', '总部/区域' || r, '["hr"]'::json, true
          FROM generate_series(1, {REGIONS}) AS r
        UNION ALL
        SELECT 2 * r + 1, 'LD-R' || r, '区域' || r || '领导', '总部/区域' || r, '["leader"]'::json,
          true
          FROM generate_series(1, {REGIONS}) AS r
        UNION ALL
        SELECT 100 + k, 'RF-' || k, '经理' || k,
          '总部/区域' || ((k / 3) / {STORES} + 1) || '/门店' || ((k / 3) % {STORES} + 1),
          CASE WHEN k % 3 = 0 THEN '["referrer","hiring_manager"]' ELSE '["referrer"]' END::json,
          true
          FROM generate_series(0, {stores * 3 - 1}) AS k"""),
        ("position", f"""
        INSERT INTO position (id, code, title, org_path, requirements, sla_hours,
          hiring_manager_id, leader_id, leader_approval, open)
        SELECT slot + 1, 'P' || (slot + 1), (ARRAY['店长','导购','收银'])[slot % 3 + 1],
          '总部/区域' || ((slot / 3) / {STORES} + 1) || '/门店' || ((slot / 3) % {STORES} + 1),
          '[]', '{{}}', 100 + (slot / 3) * 3, 2 * ((slot / 3) / {STORES} + 1) + 1,
          slot % 3 = 0, true
        FROM generate_series(0, {stores * 3 - 1}) AS slot"""),
        ("candidate", f"""
        INSERT INTO candidate (id, name, phone, work_history, achievements, tags, source,
          consent, created_at)
        SELECT n, '候选人' || n, '13' || lpad(n::text, 9, '0'), '[]', '', '[]',
          CASE WHEN h4 % 10 = 0 THEN 'import' ELSE 'referral' END, false, created_at
        FROM ({base} SELECT * FROM b) AS x"""),
        ("referral", f"""
        INSERT INTO referral (id, candidate_id, position_id, referrer_id, reason, state, version,
          assignee_id, stage_due_at, stage_entered_at, interview_round, created_at,
          updated_at, closed_at)
        {base}
        SELECT n, n, position_id, referrer_id, '理由', state, 5,
          CASE WHEN {closed} THEN NULL ELSE 2 * r END,
          CASE WHEN {closed} THEN NULL ELSE created_at + interval '24 hours' END,
          created_at, 1, created_at, created_at + interval '10 days',
          CASE WHEN {closed} THEN created_at + interval '10 days' END
        FROM b"""),
        ("referral_event", f"""
        INSERT INTO referral_event (referral_id, action, from_state, to_state, note, data,
          platform, at)
        SELECT rid,
          (ARRAY['referral.submit','referral.route','review.pass','approval.approve',
                 'interview.pass','interview.pass','feedback.request','feedback.hire',
                 'offer.make','offer.hired'])[k + 1],
          (ARRAY['draft','submitted','hr_review','leader_approval','interviewing',
                 'interviewing','interviewing','interviewing','offer','offer'])[k + 1],
          (ARRAY['submitted','hr_review','leader_approval','interviewing','interviewing',
                 'interviewing','interviewing','offer','offer','hired'])[k + 1],
          '', '{{}}', 'dingtalk',
          now() - interval '1095 days' * (1 - rid::float8 / {size}) + interval '1 day' * k
        FROM (SELECT (n - 1) / {EVENTS_PER_REFERRAL} + 1 AS rid,
                     (n - 1) % {EVENTS_PER_REFERRAL} AS k
              FROM generate_series(1, {size * EVENTS_PER_REFERRAL}) AS n) AS e"""),
        ("referral_fact", f"""
        INSERT INTO referral_fact (referral_id, org_key, position_id, referrer_id, source,
          state, created_at, closed_at, reached, hr_review_s, needs_info_s, leader_approval_s,
          interviewing_s, feedback_s, offer_s, score, synced_at)
        {base}, f AS (SELECT b.*, {reached} AS bits FROM b)
        SELECT n, org_path || '/', position_id, referrer_id,
          CASE WHEN h4 % 10 = 0 THEN 'import' ELSE 'referral' END, state, created_at,
          CASE WHEN {closed} THEN created_at + interval '10 days' END, bits,
          CASE WHEN state <> 'hr_review' THEN 3600 * (2 + h2 % 40) END,
          CASE WHEN bits & 2 <> 0 AND state <> 'needs_info' THEN 3600 * (4 + h3 % 60) END,
          CASE WHEN bits & 4 <> 0 AND state <> 'leader_approval'
               THEN 3600 * (12 + h4 % 84) END,
          CASE WHEN bits & 8 <> 0 AND state NOT IN ('interviewing')
               THEN 3600 * (24 + h2 % 240) END,
          CASE WHEN bits & 64 <> 0 THEN 3600 * (1 + h3 % 20) END,
          CASE WHEN bits & 16 <> 0 AND state <> 'offer' THEN 3600 * (48 + h4 % 300) END,
          CASE WHEN bits & 8 <> 0 THEN 40 + (h2 % 60)::int END,
          created_at + interval '10 days'
        FROM f"""),
        ("referral_check", f"""
        INSERT INTO referral_check (referral_id, org_key, created_at, label, outcome, hired)
        {base}
        SELECT n, org_path || '/', created_at, c.label,
          CASE WHEN (h4 + c.salt) % 100 < (CASE WHEN state = 'hired' THEN 75 ELSE 40 END)
               THEN 'met'
               WHEN (h4 + c.salt) % 100 < 90 THEN 'unmet' ELSE 'unknown' END,
          state = 'hired'
        FROM b CROSS JOIN (VALUES ('零售管理经验', 0), ('学历', 37), ('线下客流运营', 71))
          AS c(label, salt)"""),
        ("sla_breach", f"""
        INSERT INTO sla_breach (referral_id, org_key, stage, assignee_id, entered_at, sla_s,
          took_s)
        {base}
        SELECT n, org_path || '/', CASE WHEN j = 0 THEN 'leader_approval' ELSE 'hr_review' END,
          CASE WHEN j = 0 THEN 2 * r + 1 ELSE 2 * r END, created_at,
          CASE WHEN j = 0 THEN 72 ELSE 24 END * 3600,
          CASE WHEN j = 0 THEN 72 ELSE 24 END * 3600 + 3600 * (1 + h2 % 48)
        FROM b WHERE h3 % 10 = 1"""),
        ("talent_pool", f"""
        INSERT INTO talent_pool (candidate_id, org_key, status, referral_id, position_id,
          referrer_id, tags, search, updated_at)
        {base}, p AS (SELECT b.*, {tags_array} AS tags FROM b)
        SELECT n, org_path || '/', state, n, position_id, referrer_id, to_json(tags),
          '候选人' || n || ' ' || array_to_string(tags, ' ') || ' '
            || (ARRAY['店长','导购','收银'])[j + 1],
          created_at + interval '10 days'
        FROM p"""),
        ("pool_tag", f"""
        INSERT INTO pool_tag (candidate_id, tag, source, org_key, created_at, updated_at)
        {base}
        SELECT n, tag, 'derived', org_path || '/', now(), created_at + interval '10 days'
        FROM ({tag_rows}) AS t"""),
        ("insight_setting", """
        INSERT INTO insight_setting (key, value, updated_at)
        SELECT 'sync.cursor', to_json(to_char(max(updated_at) AT TIME ZONE 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')), now() FROM referral
        UNION ALL
        SELECT 'sync.profiles', to_json(to_char(now() AT TIME ZONE 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')), now()"""),
    ]


@dataclass
class Figures:
    size: int
    rows: dict[str, int] = field(default_factory=dict)
    load_s: float = 0.0
    timings: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.timings[name])


async def _timed(repeat: int, run: Callable[[], Awaitable[Any]]) -> list[float]:
    await run()  # warm-up: caches, prepared statements, first matplotlib import
    found = []
    for _ in range(repeat):
        start = time.perf_counter()
        await run()
        found.append((time.perf_counter() - start) * 1000)
    return found


async def load(engine: AsyncEngine, size: int, figures: Figures) -> None:
    await create_all(engine)
    start = time.perf_counter()
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        # Bulk load only: skip the per-row foreign-key triggers (the generator keeps the
        # references right), as pg_restore does.
        await auto.execute(text("SET session_replication_role = replica"))
        await auto.execute(text("SET maintenance_work_mem = '256MB'"))
        for table, sql in load_statements(size):
            t = time.perf_counter()
            result = await auto.execute(text(sql))
            figures.rows[table] = int(result.rowcount or 0)
            say(f"  {table:16} {figures.rows[table]:>12,} rows  {time.perf_counter() - t:6.1f}s")
        await auto.execute(text("SET session_replication_role = origin"))
        for sequence_of in ("person", "position", "candidate", "referral"):
            await auto.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{sequence_of}', 'id'), "
                f"(SELECT max(id) FROM {sequence_of}))"
            ))
        t = time.perf_counter()
        await auto.execute(text("VACUUM ANALYZE"))
        say(f"  VACUUM ANALYZE {time.perf_counter() - t:6.1f}s")
        try:
            await auto.execute(text("CHECKPOINT"))
        except Exception as err:  # needs superuser; only makes the timings steadier
            say(f"  CHECKPOINT skipped ({type(err).__name__})")
    os.sync()
    figures.load_s = time.perf_counter() - start


async def measure(factory: SessionFactory, figures: Figures, repeat: int) -> None:
    settings = Settings()
    now = datetime.now(UTC)

    async def stats(query: StatsQuery) -> dict[str, Any]:
        async with factory() as session:
            return await build_stats(session, query, now=now, settings=settings)

    year = StatsQuery(REGION, now.replace(year=now.year - 1), None)
    every = StatsQuery(REGION, None, None)
    figures.timings["stats region, 365 days"] = await _timed(repeat, lambda: stats(year))
    figures.timings["stats region, all time"] = await _timed(repeat, lambda: stats(every))
    view = await stats(every)
    figures.notes["region referrals (all time)"] = view["total"]
    figures.notes["region slowest node"] = (view["slowest"] or {}).get("stage")

    async def pool(tags: list[str], words: list[str]) -> int:
        async with factory() as session:
            _, total = await search_pool(session=session, key=REGION + "/", tags=tags,
                                         words=words, limit=10)
            return total

    figures.timings["pool region, 2 tags"] = await _timed(
        repeat, lambda: pool(["零售经验", "店长经验"], []))
    figures.notes["pool matches, 2 tags"] = await pool(["零售经验", "店长经验"], [])
    figures.timings["pool region, 1 word"] = await _timed(repeat, lambda: pool([], ["收银"]))

    chat = LocalChat(session_factory=factory, settings=settings)

    async def command(text_: str) -> str:
        [message] = await chat.say("HR-R3", text_)
        return message.card.title

    figures.timings["统计 chat, region"] = await _timed(repeat, lambda: command("统计"))
    figures.timings["人才库 chat, 2 tags"] = await _timed(
        repeat, lambda: command("人才库 零售经验 店长经验"))


NAIVE = """
SELECT to_state, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY secs)
FROM (
  SELECT e.to_state,
    extract(epoch FROM lead(e.at) OVER (PARTITION BY e.referral_id ORDER BY e.at, e.id) - e.at)
      AS secs
  FROM referral_event e
  JOIN referral r ON r.id = e.referral_id
  JOIN position p ON p.id = r.position_id
  WHERE p.org_path LIKE '总部/区域3/%'
) AS s WHERE secs IS NOT NULL GROUP BY to_state
"""


async def naive(engine: AsyncEngine, figures: Figures) -> None:
    """Stage durations straight from the audit trail, once: what the facts table saves."""
    async with engine.connect() as conn:
        start = time.perf_counter()
        await conn.execute(text(NAIVE))
        figures.notes["from the audit trail, ms"] = round((time.perf_counter() - start) * 1000)


async def plans(engine: AsyncEngine) -> None:
    queries = {
        "region facts (stats totals, all time)": (
            "SELECT count(*), sum(CASE WHEN state = 'hired' THEN 1 ELSE 0 END) "
            "FROM referral_fact WHERE org_key LIKE '总部/区域3/%'"
        ),
        "pool search, 2 tags": str(
            newest_matches(key=REGION + "/", tags=["零售经验", "店长经验"], words=[], limit=10)
            .compile(dialect=pg_dialect.dialect(), compile_kwargs={"literal_binds": True})
        ),
    }
    async with engine.connect() as conn:
        for name, sql in queries.items():
            rows = (await conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}"))).all()
            print(f"\n-- plan: {name}")
            for (line,) in rows:
                print(f"   {line}")


async def run_size(base_url: str, size: int, repeat: int, explain: bool) -> Figures:
    import asyncpg

    figures = Figures(size)
    name = f"hrbot_bench_{uuid.uuid4().hex[:10]}"
    admin = base_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        say(f"size {size:,}: loading into {name}")
        await load(engine, size, figures)
        say(f"size {size:,}: loaded in {figures.load_s:.0f}s; measuring")
        await measure(make_session_factory(engine), figures, repeat)
        await naive(engine, figures)
        if explain:
            await plans(engine)
    finally:
        await engine.dispose()
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
        say(f"size {size:,}: dropped {name}")
    return figures


def report(results: list[Figures]) -> None:
    small, large = results[0], results[-1]
    print("\n| measurement | " + " | ".join(f"{r.size:,} referrals" for r in results)
          + f" | ratio {large.size // small.size:,}x data |")
    print("|---|" + "---:|" * len(results) + "---:|")
    for name in small.timings:
        cells = " | ".join(f"{r.median(name):.1f} ms" for r in results)
        print(f"| {name} | {cells} | {large.median(name) / small.median(name):.2f}x |")
    print()
    for r in results:
        rows = ", ".join(f"{t} {n:,}" for t, n in r.rows.items() if n)
        print(f"size {r.size:,}: load {r.load_s:.0f}s; {rows}")
        print(f"  notes: {r.notes}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.insight")
    parser.add_argument("--sizes", default="10000,1000000", help="referrals per run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    url = os.environ.get("HRBOT_BENCH_DATABASE_URL", DEFAULT_PG_URL)
    print(f"python {sys.version.split()[0]}, sizes {sizes}, repeat {args.repeat}")

    async def all_sizes() -> list[Figures]:
        return [await run_size(url, size, args.repeat, size == sizes[-1]) for size in sizes]

    report(asyncio.run(all_sizes()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
