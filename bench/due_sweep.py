"""Benchmark: one due-item sweep costs the same with 1,000 or 1,000,000 open future items.

Run from the repository root::

    .venv/bin/python -m bench.due_sweep
    .venv/bin/python -m bench.due_sweep --sizes 1000,1000000 --backends sqlite,postgres

For each backend (a SQLite file in a temporary directory; PostgreSQL at
``HRBOT_BENCH_DATABASE_URL``, default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``,
where a fresh ``hrbot_bench_<random>`` database is created per size and dropped afterwards;
if that server is unreachable, SQLite only) and for each size, it creates the schema,
bulk-inserts that many open ``sla.remind`` items due over the next 90 days in one SQL
statement, runs ANALYZE (VACUUM ANALYZE and CHECKPOINT on PostgreSQL, a WAL checkpoint on
SQLite, so the load's aftermath is not timed), and then times, on 100 fresh items due now:

* the claim step alone: ``claim_due_items(limit=100)`` in one transaction;
* a full ``DueRunner.sweep()``: the claim plus 100 per-item transactions (no-op handler).

Each figure is the median of ``--repeat`` runs (default 5, after one untimed warm-up), each
on 100 new due-now rows; the sizes are measured alternately, round by round, so background
load on the machine falls on all of them alike. The partial index ``ix_due_item_open``
(``due_at WHERE done_at IS NULL``) lets the claim read only the rows that are due, so the
largest size should cost within 2x of the smallest. The script prints both figures, their
ratio and a verdict, the pages the claim's SELECT touched (PostgreSQL, a figure free of
timing noise), and the claim's query plan for the largest size. Exit status 1 means the 2x
target was missed.

This is not a test: pytest never collects it (it lives outside ``tests/``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    closing,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.context import JobContext, Settings
from bot.pipeline.clock import DueRunner
from storage.db import SessionFactory, create_all, make_engine, make_session_factory, session_scope
from storage.models import DueItem
from storage.repo.due import claim_due_items

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
KIND = "sla.remind"
BATCH = 100  # due-now items per measurement, and the claim's limit
SPREAD = timedelta(days=90)  # future items are due evenly over this span
LEASE = timedelta(seconds=60)
TARGET_RATIO = 2.0

_T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", flush=True)


async def noop_handler(job: JobContext, item: DueItem) -> None:
    """The job of every benchmarked item: nothing, so only the clock's own cost is timed."""


@dataclass
class Result:
    backend: str
    size: int
    claim_ms: list[float] = field(default_factory=list)
    sweep_ms: list[float] = field(default_factory=list)
    buffers: int | None = None  # pages the claim's SELECT touched (PostgreSQL)

    @property
    def claim_median(self) -> float:
        return statistics.median(self.claim_ms)

    @property
    def sweep_median(self) -> float:
        return statistics.median(self.sweep_ms)


@dataclass
class Backend:
    """Where one size's fresh database lives and how to fill it fast."""

    name: str
    version: str
    fresh: Callable[[], AbstractAsyncContextManager[str]]  # yields a fresh database's URL

    async def bulk_insert(self, engine: AsyncEngine, count: int, start: datetime) -> None:
        """Insert ``count`` open items due from ``start`` evenly over ``SPREAD``, in SQL."""
        span = int(SPREAD.total_seconds())
        async with engine.begin() as conn:
            if self.name == "sqlite":
                # Same text form SQLAlchemy writes for SQLite DATETIME, so comparisons hold.
                await conn.execute(
                    text(
                        "WITH RECURSIVE seq(n) AS ("
                        " SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :count)"
                        " INSERT INTO due_item"
                        " (kind, subject, due_at, payload, attempts, cancelled, error, created_at)"
                        " SELECT :kind, 'referral:' || n,"
                        " strftime('%Y-%m-%d %H:%M:%S', :start + (n * :span) / :count,"
                        " 'unixepoch') || '.000000',"
                        " '{}', 0, 0, '', :created FROM seq"
                    ),
                    {
                        "count": count,
                        "kind": KIND,
                        "start": int(start.timestamp()),
                        "span": span,
                        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
                    },
                )
                await conn.execute(text("ANALYZE"))
            else:
                await conn.execute(
                    text(
                        "INSERT INTO due_item"
                        " (kind, subject, due_at, payload, attempts, cancelled, error, created_at)"
                        " SELECT CAST(:kind AS varchar), 'referral:' || n,"
                        " CAST(:start AS timestamptz)"
                        " + make_interval(secs => n * CAST(:span AS float8)"
                        " / CAST(:count AS int)),"
                        " '{}'::json, 0, false, '', now()"
                        " FROM generate_series(1, CAST(:count AS int)) AS n"
                    ),
                    {"count": count, "kind": KIND, "start": start, "span": span},
                )
                await conn.execute(text("ANALYZE due_item"))

    async def settle(self, engine: AsyncEngine, url: str) -> None:
        """Let the bulk load's aftermath finish before anything is timed.

        Otherwise the largest database could still be paying for its load while it is timed
        and the small one not: PostgreSQL's insert-triggered autovacuum would start on a
        million fresh rows and its checkpointer would be flushing them; SQLite's WAL would
        still hold them. A long-lived table with a million open items has been vacuumed and
        checkpointed, so that is the state to measure.
        """
        if self.name == "sqlite":
            path = make_url(url).database
            with closing(sqlite3.connect(str(path), isolation_level=None)) as raw:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            async with engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text("VACUUM ANALYZE due_item"))
                try:
                    await auto.execute(text("CHECKPOINT"))  # needs superuser (or pg_checkpoint)
                except DBAPIError as err:
                    say(f"postgres: CHECKPOINT skipped ({type(err.orig).__name__})")
        os.sync()  # write back the load's dirty pages now, not during the timings


async def insert_due_now(
    engine: AsyncEngine, tag: str, age: timedelta = timedelta(seconds=1)
) -> None:
    """Add ``BATCH`` items due ``age`` ago (100 rows: a plain executemany is enough)."""
    now = datetime.now(UTC)
    rows = [
        {
            "kind": KIND,
            "subject": f"referral:now-{tag}-{i}",
            "due_at": now - age - timedelta(milliseconds=i),
            "payload": {},
            "attempts": 0,
            "cancelled": False,
            "error": "",
            "created_at": now,
        }
        for i in range(BATCH)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(DueItem.__table__), rows)  # type: ignore[arg-type]


async def close_items(engine: AsyncEngine, ids: Sequence[int]) -> None:
    """Mark claimed items done, untimed, so they leave the open index like a real run would."""
    table = DueItem.__table__
    async with engine.begin() as conn:
        await conn.execute(
            update(table)
            .where(table.c.id.in_(list(ids)))  # type: ignore[attr-defined]
            .values(done_at=datetime.now(UTC), claimed_until=None)
        )


async def timed_claim(factory: SessionFactory) -> tuple[float, list[int]]:
    started = time.perf_counter()
    async with session_scope(factory) as session:
        ids = await claim_due_items(
            session=session, now=datetime.now(UTC), owner="bench-claim", lease=LEASE, limit=BATCH
        )
    return (time.perf_counter() - started) * 1000, ids


async def timed_sweep(runner: DueRunner) -> tuple[float, int]:
    started = time.perf_counter()
    completed = await runner.sweep()
    return (time.perf_counter() - started) * 1000, completed


class ClaimCapture:
    """Remembers the last claim statement the driver saw, with its bound parameters."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statement: str | None = None
        self.parameters: tuple[Any, ...] = ()
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("UPDATE due_item SET") and "IN (SELECT" in statement:
            self.statement = statement
            self.parameters = tuple(parameters)


def inner_select(
    statement: str, parameters: Sequence[Any], dialect: str
) -> tuple[str, tuple[Any, ...]]:
    """Cut the claim's ``id IN (SELECT ...)`` out of the UPDATE, with its own parameters."""
    open_at = statement.index("(SELECT")
    depth = 0
    close_at = -1
    for index in range(open_at, len(statement)):
        if statement[index] == "(":
            depth += 1
        elif statement[index] == ")":
            depth -= 1
            if depth == 0:
                close_at = index
                break
    sql = statement[open_at + 1 : close_at]
    if dialect == "sqlite":
        offset = statement[:open_at].count("?")
        return sql, tuple(parameters[offset : offset + sql.count("?")])
    numbers = list(dict.fromkeys(int(n) for n in re.findall(r"\$(\d+)", sql)))
    renumber = {old: new for new, old in enumerate(numbers, start=1)}
    sql = re.sub(r"\$(\d+)", lambda m: f"${renumber[int(m.group(1))]}", sql)
    return sql, tuple(parameters[old - 1] for old in numbers)


async def explain(
    engine: AsyncEngine, capture: ClaimCapture, dialect: str, show: bool
) -> int | None:
    """Plan the claim's inner SELECT and the whole UPDATE on 100 due rows; print if ``show``.

    Returns the buffers (8 kB pages) the inner SELECT touched on PostgreSQL, a figure that,
    unlike a timing, does not depend on what else the machine is doing; None on SQLite.
    """
    if capture.statement is None:
        say("no claim statement captured; cannot EXPLAIN")
        return None
    select_sql, select_params = inner_select(capture.statement, capture.parameters, dialect)
    # The captured parameters hold the last claim's "now"; rows due an hour ago are due then.
    await insert_due_now(engine, "explain", age=timedelta(hours=1))
    queries = [
        ("claim inner SELECT", select_sql, select_params),
        ("whole claim UPDATE", capture.statement, capture.parameters),
    ]
    buffers: int | None = None
    async with engine.connect() as conn:
        for label, sql, params in queries:
            if dialect == "sqlite":
                rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)).all()
                depth: dict[int, int] = {0: 0}
                lines = []
                for node, parent, _unused, detail in rows:
                    depth[node] = depth.get(parent, 0) + 1
                    lines.append("  " * depth[node] + str(detail))
            else:
                # ANALYZE runs it for real (locks, updates) inside a transaction rolled back below.
                explained = f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) {sql}"
                rows = (await conn.exec_driver_sql(explained, params)).all()
                lines = ["  " + str(row[0]) for row in rows]
                if buffers is None:  # the first Buffers line is the top node's, all included
                    found = re.search(r"Buffers: shared((?: \w+=\d+)+)", "\n".join(lines))
                    if found:
                        counts = dict(kv.split("=") for kv in found.group(1).split())
                        buffers = int(counts.get("hit", 0)) + int(counts.get("read", 0))
            if show:
                how = "EXPLAIN QUERY PLAN" if dialect == "sqlite" else "EXPLAIN ANALYZE"
                print(f"\n  -- {label} plan ({how}):")
                print("\n".join(lines), flush=True)
        await conn.rollback()
    if show:
        print(flush=True)
    return buffers


@dataclass
class Prepared:
    """One size's database, filled and settled, ready to be measured."""

    result: Result
    engine: AsyncEngine
    factory: SessionFactory
    runner: DueRunner
    capture: ClaimCapture


async def prepare(stack: AsyncExitStack, backend: Backend, size: int) -> Prepared:
    url = await stack.enter_async_context(backend.fresh())
    engine = make_engine(url)
    stack.push_async_callback(engine.dispose)  # runs before the database is dropped
    capture = ClaimCapture(engine)
    await create_all(engine)
    say(f"{backend.name}: inserting {size:,} future items")
    started = time.perf_counter()
    await backend.bulk_insert(engine, size, datetime.now(UTC) + timedelta(hours=1))
    await backend.settle(engine, url)
    say(f"{backend.name}: inserted, analysed and settled in {time.perf_counter() - started:.1f}s")
    factory = make_session_factory(engine)
    runner = DueRunner(
        session_factory=factory,
        handlers={KIND: noop_handler},
        settings=Settings(),
        owner="bench-sweep",
        lease=LEASE,
        batch=BATCH,
    )
    return Prepared(Result(backend.name, size), engine, factory, runner, capture)


async def measure_claim(p: Prepared, tag: str, keep: bool) -> None:
    await insert_due_now(p.engine, tag)
    ms, ids = await timed_claim(p.factory)
    if len(ids) != BATCH:
        raise RuntimeError(f"claim returned {len(ids)} items, expected {BATCH}")
    await close_items(p.engine, ids)
    if keep:
        p.result.claim_ms.append(ms)


async def measure_sweep(p: Prepared, tag: str, keep: bool) -> None:
    await insert_due_now(p.engine, tag)
    ms, completed = await timed_sweep(p.runner)
    if completed != BATCH:
        raise RuntimeError(f"sweep completed {completed} items, expected {BATCH}")
    if keep:
        p.result.sweep_ms.append(ms)


async def run_backend(backend: Backend, sizes: list[int], repeat: int) -> list[Result]:
    """Fill one database per size, then time the sizes in alternation, round by round.

    Alternating (and reversing the order every round) exposes every size to the same
    background load, so a busy moment on the machine does not land on one size only.
    """
    async with AsyncExitStack() as stack:
        prepared = [await prepare(stack, backend, size) for size in sizes]
        for round_no in range(repeat + 1):  # round 0 is an untimed warm-up
            keep = round_no > 0
            order = prepared if round_no % 2 == 0 else prepared[::-1]
            for p in order:
                await measure_claim(p, f"c{round_no}", keep)
            for p in order:
                await measure_sweep(p, f"s{round_no}", keep)
            if not keep:
                say(f"{backend.name}: warm-up round done")
                continue
            figures = ", ".join(
                f"{p.result.size:,}: claim {p.result.claim_ms[-1]:.2f} ms,"
                f" sweep {p.result.sweep_ms[-1]:.1f} ms"
                for p in prepared
            )
            say(f"{backend.name}: round {round_no}/{repeat}: {figures}")
        for p in prepared:
            async with p.engine.connect() as conn:
                still_open = (
                    await conn.execute(text("SELECT count(*) FROM due_item WHERE done_at IS NULL"))
                ).scalar_one()
            if still_open != p.result.size:
                raise RuntimeError(f"{still_open} open items, expected the {p.result.size:,}")
        largest = max(p.result.size for p in prepared)
        for p in prepared:
            show = p.result.size == largest
            if show:
                say(f"{backend.name} {largest:,}: claim query plan")
            p.result.buffers = await explain(p.engine, p.capture, backend.name, show)
        return [p.result for p in prepared]


def sqlite_backend(workdir: Path) -> Backend:
    @asynccontextmanager
    async def fresh() -> AsyncIterator[str]:
        path = workdir / f"bench_{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            for leftover in workdir.glob(f"{path.name}*"):
                leftover.unlink()

    return Backend(name="sqlite", version=f"SQLite {sqlite3.sqlite_version}", fresh=fresh)


async def postgres_backend(url_text: str) -> Backend | None:
    """A backend making one fresh database per size, or None if the server is unreachable."""
    import asyncpg

    base: URL = make_url(url_text)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as err:
        say(f"PostgreSQL not reachable at {base!r} ({err}); continuing with SQLite only")
        return None
    try:
        version = str(await conn.fetchval("SHOW server_version"))
        force = int(await conn.fetchval("SHOW server_version_num")) >= 130000
    finally:
        await conn.close()

    @asynccontextmanager
    async def fresh() -> AsyncIterator[str]:
        name = f"hrbot_bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(dsn, timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        say(f"postgres: created database {name}")
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            admin = await asyncpg.connect(dsn, timeout=5)
            try:
                suffix = " WITH (FORCE)" if force else ""
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}"{suffix}')
            finally:
                await admin.close()
            say(f"postgres: dropped database {name}")

    return Backend(name="postgres", version=f"PostgreSQL {version}", fresh=fresh)


def _paired(large: Sequence[float], small: Sequence[float]) -> float:
    return statistics.median(a / b for a, b in zip(large, small, strict=True))


def report(results: list[Result], sizes: list[int], versions: dict[str, str]) -> bool:
    """Print the table and verdicts; True if every backend stayed within the target."""
    print()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}")
    print(f"load average at the end (1, 5, 15 min): {load}")
    print(f"python {platform.python_version()}; " + "; ".join(versions.values()))
    print()
    header = (
        f"{'backend':<9} {'future items':>12} {'claim ms':>9} {'(min-max)':>15}"
        f" {'sweep ms':>9} {'(min-max)':>15} {'claim pages':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        claim_range = f"{min(r.claim_ms):.2f}-{max(r.claim_ms):.2f}"
        sweep_range = f"{min(r.sweep_ms):.1f}-{max(r.sweep_ms):.1f}"
        pages = "-" if r.buffers is None else str(r.buffers)
        print(
            f"{r.backend:<9} {r.size:>12,} {r.claim_median:>9.2f} {claim_range:>15}"
            f" {r.sweep_median:>9.1f} {sweep_range:>15} {pages:>11}"
        )
    print("(ms: median of the timed runs; claim pages: buffers the claim's SELECT touched)")
    print()
    small, large = min(sizes), max(sizes)
    all_ok = True
    for backend in dict.fromkeys(r.backend for r in results):
        by_size = {r.size: r for r in results if r.backend == backend}
        if small == large or small not in by_size or large not in by_size:
            continue
        claim_ratio = by_size[large].claim_median / by_size[small].claim_median
        sweep_ratio = by_size[large].sweep_median / by_size[small].sweep_median
        ok = claim_ratio <= TARGET_RATIO and sweep_ratio <= TARGET_RATIO
        all_ok = all_ok and ok
        print(
            f"{backend}: ratio {large:,}/{small:,}: claim {claim_ratio:.2f}x,"
            f" sweep {sweep_ratio:.2f}x; within {TARGET_RATIO:g}x: {'yes' if ok else 'no'}"
        )
        # The sizes ran side by side in every round; the median of those paired ratios is
        # less sensitive to a busy machine than the ratio of the medians.
        paired_claim = _paired(by_size[large].claim_ms, by_size[small].claim_ms)
        paired_sweep = _paired(by_size[large].sweep_ms, by_size[small].sweep_ms)
        print(
            f"{' ' * len(backend)}  median of per-round ratios: claim {paired_claim:.2f}x,"
            f" sweep {paired_sweep:.2f}x"
        )
    print(f"within {TARGET_RATIO:g}x: {'yes' if all_ok else 'no'}")
    return all_ok


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", default="1000,1000000", help="future item counts, comma-separated"
    )
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite and/or postgres")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(wanted) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if not sizes or args.repeat < 1:
        parser.error("--sizes needs at least one count and --repeat at least 1")

    say(f"due sweep benchmark: sizes {sizes}, backends {wanted}, {args.repeat} runs each")
    results: list[Result] = []
    versions: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="hrbot_bench_") as tmp:
        backends: list[Backend] = []
        for name in wanted:
            if name == "sqlite":
                backends.append(sqlite_backend(Path(tmp)))
            else:
                url = os.environ.get("HRBOT_BENCH_DATABASE_URL", DEFAULT_PG_URL)
                pg = await postgres_backend(url)
                if pg is not None:
                    backends.append(pg)
        for backend in backends:
            versions[backend.name] = backend.version
            results.extend(await run_backend(backend, sizes, args.repeat))
    if not results:
        say("nothing measured")
        return 1
    return 0 if report(results, sizes, versions) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
