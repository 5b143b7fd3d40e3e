"""The seam between web framework, platform protocol and the bot core.

The server turns an aiohttp request into a ``RawRequest`` and a ``RawResponse`` back; an
adapter verifies, decrypts and decodes, and returns the platform's ack plus the events to
handle. The server stores each event durably *before* answering (a crash after the ack loses
nothing) and handles it after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote

from bot.core.events import Event


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    query_string: str  # undecoded: WeCom signatures contain a literal '+' that must stay '+'
    headers: Mapping[str, str]  # lower-cased names
    body: bytes = b""

    @property
    def query(self) -> dict[str, str]:
        """Query parameters percent-decoded without turning '+' into a space."""
        params: dict[str, str] = {}
        for pair in self.query_string.split("&"):
            if not pair:
                continue
            name, _, value = pair.partition("=")
            params.setdefault(unquote(name), unquote(value))
        return params


@dataclass(frozen=True)
class RawResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"


@dataclass(frozen=True)
class Inbound:
    """An adapter's answer: what to send back now, and what to handle after."""

    response: RawResponse
    events: tuple[Event, ...] = field(default_factory=tuple)


class HttpAdapter(Protocol):
    platform: str

    def routes(self) -> list[tuple[str, str]]:
        """(method, path) pairs this adapter serves."""

    async def handle_http(self, request: RawRequest) -> Inbound:
        """Verify and decode one request. Never raises for bad input: answer 4xx instead."""


# What a streaming adapter (DingTalk Stream) calls for each event; True once it is stored.
EventSink = Callable[[Event], Awaitable[bool]]
