"""Run one replica until the process manager says stop.

Several replicas share one database, so stopping one must not strand work: on SIGTERM (what
systemd, Docker and Kubernetes send) or SIGINT (Ctrl-C) the runtime stops its metronome and
lets the beat in flight finish, so due items it claimed are completed and sends it started are
recorded. Anything it has not claimed stays in the database for the other replicas. Without
these handlers the default action kills the process mid-transaction and its claims stay locked
until their lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from bot.pipeline.runtime import Runtime

log = logging.getLogger("hrbot.serve")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_until_signalled(
    runtime: Runtime, *, on_stop: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Start ``runtime``, wait for SIGTERM or SIGINT, then stop it cleanly.

    Args:
        runtime: The clock and outbox heartbeat of this replica.
        on_stop: Awaited after the runtime has stopped (close connections, dispose engines).
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def request_stop(signum: signal.Signals) -> None:
        log.info("%s received: finishing the beat in flight", signum.name)
        stop.set()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, request_stop, signum)
    try:
        runtime.start()
        try:
            await stop.wait()
        finally:
            # Also on cancellation: never leave the metronome running behind our back.
            await runtime.stop()
        if on_stop is not None:
            await on_stop()
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
