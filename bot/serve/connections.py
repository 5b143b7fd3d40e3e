"""Connection limits below aiohttp's request handling: a cap in total and per client address.

aiohttp's ``keepalive_timeout`` already closes a connection that sends no complete request
(partial headers, idle keep-alive); what it cannot do is refuse the 5,001st connection of one
client before it costs a handler. The cap is counted here, when the socket is accepted, so a
flood of slow connections from one address cannot hold the health checks and the platforms'
callbacks out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

from aiohttp import web

from bot.core.metrics import count_http_refused

log = logging.getLogger("hrbot.server")

# One warning per this many seconds while refusing: a flood must not become a log flood.
_WARN_EVERY_SECONDS = 60.0


class ConnectionLimits:
    """Counts open connections; ``admit`` says whether a new one may stay.

    Args:
        total: Open connections allowed at once (0: no limit), except a first one from an
            address that holds none.
        per_client: Open connections allowed from one client address (0: no limit).
    """

    def __init__(self, *, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open = 0
        self.by_client: Counter[str] = Counter()
        self.refused = 0
        self._warned_at = float("-inf")

    def admit(self, client: str) -> str:
        """Register a new connection from ``client``; returns "" or why it is refused."""
        # At the total cap an address already holding connections is refused, but one holding
        # none still gets in: a flood from a few addresses must not lock out the load
        # balancer's health check or a platform's callback (over by one per address at most).
        if self.total and self.open >= self.total and self.by_client[client] > 0:
            return self._refuse("total", client)
        if self.per_client and self.by_client[client] >= self.per_client:
            return self._refuse("per_client", client)
        self.open += 1
        self.by_client[client] += 1
        return ""

    def release(self, client: str) -> None:
        self.open -= 1
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]

    def _refuse(self, reason: str, client: str) -> str:
        self.refused += 1
        count_http_refused(reason)
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:
            self._warned_at = now
            # The address is an operator's lead to a misbehaving proxy or client, not personal.
            log.warning("refusing connections (%s cap reached; latest from %s); "
                        "counted in hrbot_http_connections_refused", reason, client)
        return reason


class _Guard(asyncio.Protocol):
    """Wraps aiohttp's protocol: counts the connection, or closes it at once when over a cap."""

    def __init__(self, inner: asyncio.Protocol, limits: ConnectionLimits) -> None:
        self._inner = inner
        self._limits = limits
        self._client: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if self._limits.admit(client):
            # A reset costs the server nothing: no handler, no task.
            if isinstance(transport, asyncio.Transport):
                transport.abort()
            else:
                transport.close()
            return
        self._client = client
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._client is None:
            return
        self._limits.release(self._client)
        self._client = None
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._client is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._client is not None else None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def __getattr__(self, name: str) -> Any:
        # aiohttp's transports may call buffered-protocol or private helpers on the protocol.
        return getattr(self._inner, name)


class LimitedSite(web.TCPSite):
    """A ``TCPSite`` whose accepted sockets go through :class:`ConnectionLimits` first."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 limits: ConnectionLimits, *, backlog: int = 1024) -> None:
        super().__init__(runner, host, port, backlog=backlog)
        self.limits = limits

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        limits = self.limits
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Guard(server(), limits), self._host, self._port, backlog=self._backlog,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
