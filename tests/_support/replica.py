"""One bot replica as a real process, for tests that kill and stop replicas.

    python -m tests._support.replica --database-url URL --sink URL --owner NAME \\
        --sweep-seconds 0.2 [--claim-seconds 60]

It runs the production clock (DueRunner with the real SLA handlers) and outbox worker on the
real clock, against a database that is already migrated and seeded. Quiet hours and weekends
are switched off so nothing is held back, and no recurring jobs (the daily digest) run, so
what it sends depends only on the due items the test wrote. Its "platform" is an HTTP sink:
every outbound message is POSTed there as JSON; a non-2xx answer or a connection error is a
transient failure the outbox retries. It stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import time, timedelta

import httpx

from bot.core.context import Settings
from bot.pipeline.clock import DueRunner
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.pipeline.outbox import OutboxWorker
from bot.pipeline.runtime import Runtime
from bot.serve.lifecycle import run_until_signalled
from handlers.sla.reminders import DUE_HANDLERS
from storage.db import make_engine, make_session_factory

log = logging.getLogger("hrbot.replica")


class SinkMessenger:
    """Delivers by POSTing {idempotency_key, target, title, kind, owner} to the sink."""

    def __init__(self, client: httpx.AsyncClient, url: str, owner: str) -> None:
        self.client = client
        self.url = url
        self.owner = owner

    async def deliver(self, message: OutboundMessage) -> None:
        body = {
            "idempotency_key": message.idempotency_key,
            "target": message.target,
            "title": message.card.title,
            "kind": message.kind,
            "owner": self.owner,
        }
        try:
            response = await self.client.post(self.url, json=body)
        except httpx.HTTPError as err:
            raise TransientDeliveryError(f"sink unreachable: {err!r}") from err
        if not response.is_success:
            raise TransientDeliveryError(f"sink answered {response.status_code}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests._support.replica")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sink", required=True, help="URL every outbound message is POSTed to")
    parser.add_argument("--owner", required=True, help="replica name recorded on its claims")
    parser.add_argument("--sweep-seconds", type=float, default=0.2)
    parser.add_argument(
        "--claim-seconds", type=float, default=60, help="lease on claimed due items and messages"
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    engine = make_engine(args.database_url)
    factory = make_session_factory(engine)
    client = httpx.AsyncClient(timeout=10)
    lease = timedelta(seconds=args.claim_seconds)
    midnight = time(0, 0)
    settings = Settings(
        platforms=("shell",), quiet_start=midnight, quiet_end=midnight, quiet_weekends=False
    )
    runtime = Runtime(
        runner=DueRunner(
            session_factory=factory,
            handlers=DUE_HANDLERS,
            settings=settings,
            owner=args.owner,
            lease=lease,
        ),
        outbox=OutboxWorker(
            session_factory=factory,
            messenger=SinkMessenger(client, args.sink, args.owner),
            lease=lease,
        ),
        sweep_seconds=args.sweep_seconds,
    )

    async def close() -> None:
        await client.aclose()
        await engine.dispose()

    log.info("replica %s started", args.owner)
    await run_until_signalled(runtime, on_stop=close)
    log.info("replica %s stopped cleanly", args.owner)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s {args.owner} %(levelname)s %(name)s: %(message)s",
    )
    # A beat longer than the interval makes APScheduler warn about every skipped beat.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
