"""Benchmark: slow and idle connections cannot hold the listener open.

Run from the repository root::

    .venv/bin/python -m bench.slow_connections
    .venv/bin/python -m bench.slow_connections --connections 5000 --idle 5 --body 5

Target: with ``--connections`` (5,000) connections held by a client that sends a partial
request (headers without the blank line, or headers and half a body), ``GET /readyz`` from
another loopback address stays under 100 ms (p99), and every slow connection is closed by the
server within its deadline (``--idle`` for partial headers, ``--body`` + 1 s lingering for a
partial body) plus 2 s of slack. The same load against the server started with aiohttp's
defaults (no idle deadline for 3630 s, no body deadline, no caps) runs side by side for
comparison; there, nothing is closed during the run.

The server is the real stack in a child process (this module with ``--serve``): a temporary
SQLite database with the schema, a ``Dispatcher`` and ``EventIntake``, a DingTalk HTTP
adapter (so ``/dingtalk/callback`` is a real body-reading route), ``build_app`` and
``start_server`` with ``HttpLimits`` on 127.0.0.1. The slow clients come from 127.0.0.2 …
127.0.0.N, 200 connections per address (under the default 256 per-client cap), so the
total and per-client caps are not what closes them: the deadlines are. ``/readyz`` is asked
from 127.0.0.1 every 50 ms throughout.

This is not a test: pytest never collects it. The exit status is 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

PER_ADDRESS = 200


async def serve(db_path: str, port: int, limited: bool, idle: float, body: float) -> None:
    from bot.adapters.dingtalk.http_mode import DingTalkHttpAdapter
    from bot.config.schema import DingTalkConfig
    from bot.core.context import Settings
    from bot.core.dispatch import Dispatcher
    from bot.pipeline.intake import EventIntake
    from bot.serve.server import HttpLimits, build_app, start_server
    from handlers.capabilities import REGISTRY
    from storage.db import create_all, make_engine, make_session_factory

    engine = make_engine(f"sqlite+aiosqlite:///{db_path}")
    await create_all(engine)
    factory = make_session_factory(engine)
    dispatcher = Dispatcher(
        session_factory=factory, routers=REGISTRY.routers, settings=Settings(),
        pending_input=REGISTRY.answer_pending, kind_handlers=REGISTRY.kind_handlers,
        fallback=REGISTRY.fallback,
    )
    adapter = DingTalkHttpAdapter(DingTalkConfig(
        app_key="k", app_secret="s", robot_code="r", card_template_id="t", mode="http"),
        lambda: datetime.now(UTC))
    if limited:
        app = build_app([adapter], EventIntake(dispatcher), body_seconds=body)
        stop = await start_server(app, "127.0.0.1", port,
                                  HttpLimits(idle_seconds=idle, body_seconds=body))
    else:
        # aiohttp's own defaults: what the listener was before the deadlines and caps.
        from aiohttp import web

        app = build_app([adapter], EventIntake(dispatcher), body_seconds=1e9)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        stop = runner.cleanup
    done = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    print("READY", flush=True)
    await done.wait()
    await stop()
    await engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _readyz(port: int) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"readyz answered {answer[:40]!r}")
    return (time.perf_counter() - started) * 1000


async def _slow_client(
    port: int, number: int, closed: list[float], opened: list[float], started: float
) -> None:
    source = f"127.0.0.{2 + number // PER_ADDRESS}"
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=(source, 0))
    except OSError:
        closed.append(0.0)  # refused on arrival counts as closed at once
        return
    opened_at = time.perf_counter()
    opened.append(opened_at - started)
    if number % 2:
        writer.write(b"POST /dingtalk/callback HTTP/1.1\r\nHost: x\r\n")  # no blank line
    else:
        writer.write(b"POST /dingtalk/callback HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"text\":")  # half a body
    with contextlib.suppress(OSError):
        await reader.read()
    closed.append(time.perf_counter() - opened_at)  # how long the server let it hold on
    writer.close()


async def _hold(port: int, connections: int, hold: float, ramp: float) -> None:
    """The slow clients (a process of their own, so they do not slow the probe's loop)."""
    closed: list[float] = []
    opened: list[float] = []
    started = time.perf_counter()
    clients = []
    for n in range(connections):
        clients.append(asyncio.create_task(_slow_client(port, n, closed, opened, started)))
        # Opened over ``ramp`` seconds: an attacker's arrival rate, not one instant.
        await asyncio.sleep(ramp / connections)
    await asyncio.wait(clients, timeout=max(0.1, hold - (time.perf_counter() - started)))
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    print(json.dumps({"closed": len(closed), "longest_held_s": max(closed, default=0.0),
                      "opened": len(opened), "last_opened_s": max(opened, default=0.0)}))


async def _probe(hold: float, port: int) -> list[float]:
    latencies: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < hold:
        try:
            latencies.append(await _readyz(port))
        except (OSError, RuntimeError):
            latencies.append(float("inf"))  # refused or failed: counts as a miss
        await asyncio.sleep(0.05)
    return sorted(latencies)


def _run(port: int, args: argparse.Namespace, hold: float) -> dict[str, float]:
    clients = subprocess.Popen(
        [sys.executable, "-m", "bench.slow_connections", "--clients", str(port),
         str(args.connections), str(hold), str(args.ramp)], stdout=subprocess.PIPE, text=True)
    latencies = asyncio.run(_probe(hold, port))
    out, _ = clients.communicate(timeout=hold + 60)
    held = json.loads(out.strip().splitlines()[-1])
    return {
        "readyz_p50_ms": statistics.median(latencies),
        "readyz_p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "readyz_max_ms": latencies[-1],
        "closed": held["closed"],
        "longest_held_s": held["longest_held_s"],
        "opened": held["opened"],
        "last_opened_s": held["last_opened_s"],
    }


def _start_child(
    db: str, port: int, limited: bool, args: argparse.Namespace
) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.slow_connections", "--serve", db, str(port),
         "limited" if limited else "defaults", str(args.idle), str(args.body)],
        stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "READY":
        raise RuntimeError("server child did not start")
    return child


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--body", type=float, default=5.0)
    parser.add_argument("--serve", nargs=5)
    parser.add_argument("--ramp", type=float, default=1.0)
    parser.add_argument("--clients", nargs=4)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 3 * args.connections)), hard))
    if args.clients:
        port, connections, hold, ramp = args.clients
        asyncio.run(_hold(int(port), int(connections), float(hold), float(ramp)))
        return 0
    if args.serve:
        db, port, mode, idle, body = args.serve
        asyncio.run(serve(db, int(port), mode == "limited", float(idle), float(body)))
        return 0
    # Each connection's own deadline (a partial body also lingers 1 s), plus 2 s of slack.
    deadline = max(args.idle, args.body + 1.0) + 2.0
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for limited in (True, False):
            port = _free_port()
            child = _start_child(os.path.join(tmp, f"{limited}.db"), port, limited, args)
            try:
                # Long enough for a slow client process to open them all and see them closed.
                results["limited" if limited else "defaults"] = _run(
                    port, args, hold=args.ramp + deadline + 8.0)
            finally:
                child.send_signal(signal.SIGTERM)
                child.wait(timeout=30)
    print(f"{args.connections} slow connections (half partial headers, half partial bodies), "
          f"idle deadline {args.idle:g} s, body deadline {args.body:g} s")
    print(f"{'server':<10} {'readyz p50':>11} {'p99':>8} {'max':>8} {'closed':>8} "
          f"{'longest held':>13} {'opened':>7} {'last open':>10}")
    for name, r in results.items():
        print(f"{name:<10} {r['readyz_p50_ms']:>9.1f}ms {r['readyz_p99_ms']:>6.1f}ms "
              f"{r['readyz_max_ms']:>6.1f}ms {int(r['closed']):>8} {r['longest_held_s']:>12.1f}s "
              f"{int(r['opened']):>7} {r['last_opened_s']:>9.1f}s")
    # On a shared machine the figures mean little without this (2 cores, load 9: not a bench).
    print("load average (1, 5, 15 min): {:.1f} {:.1f} {:.1f} on {} cores".format(
        *os.getloadavg(), os.cpu_count()))
    limited = results["limited"]
    ok = (limited["readyz_p99_ms"] < 100 and limited["closed"] == args.connections
          and limited["longest_held_s"] <= deadline)
    print("target (limited: readyz p99 < 100 ms, every connection closed within "
          f"{deadline:g} s of opening): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
