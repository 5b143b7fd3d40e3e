"""Decorator registry of text commands (zh and en aliases) and card actions."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bot.core.context import Context

Handler = Callable[[Context], Awaitable[None]]


@dataclass
class Router:
    name: str
    commands: dict[str, Handler] = field(default_factory=dict)
    actions: dict[str, Handler] = field(default_factory=dict)

    def command(self, *words: str) -> Callable[[Handler], Handler]:
        """Register a text command under each of ``words`` (first is the canonical one)."""

        def register(func: Handler) -> Handler:
            _require_coroutine(func)
            for word in words:
                self.commands[word.lower()] = func
            return func

        return register

    def action(self, *action_ids: str) -> Callable[[Handler], Handler]:
        """Register a card action id (as carried by a button)."""

        def register(func: Handler) -> Handler:
            _require_coroutine(func)
            for action_id in action_ids:
                self.actions[action_id] = func
            return func

        return register

    def include(self, *routers: Router) -> Router:
        """Take every registration of ``routers`` into this one; a clash fails at import."""
        for router in routers:
            for table, new in ((self.commands, router.commands), (self.actions, router.actions)):
                clash = table.keys() & new.keys()
                if clash:
                    raise ValueError(f"router {router.name} re-registers {sorted(clash)}")
                table.update(new)
        return self


def _require_coroutine(func: Callable[..., object]) -> None:
    # Fail at import time, not on the first message that reaches the handler.
    if not inspect.iscoroutinefunction(func):
        raise TypeError(f"handler {func.__qualname__} must be an async function")


@dataclass
class RouteTable:
    """All routers merged; later routers cannot silently replace an earlier registration."""

    commands: dict[str, Handler] = field(default_factory=dict)
    actions: dict[str, Handler] = field(default_factory=dict)
    fallback: Handler | None = None

    def include(self, routers: Iterable[Router]) -> RouteTable:
        for router in routers:
            for table, new in ((self.commands, router.commands), (self.actions, router.actions)):
                clash = table.keys() & new.keys()
                if clash:
                    raise ValueError(f"router {router.name} re-registers {sorted(clash)}")
                table.update(new)
        return self
