"""What a capability gives the bot, and all of them merged once at assembly.

The core never imports a capability: ``handlers`` lists its capabilities in one tuple, and
the serve/CLI assembly hands the merged ``Registry`` to the dispatcher, the clock and the
runtime. A clash (two capabilities claiming one command, action, due kind, event kind or
typed-input action) fails when the registry is built, not on the first message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from bot.core.context import Context, JobContext
from bot.core.events import EventKind
from bot.core.routing import Handler, Router
from storage.models import DueItem, PendingInput
from storage.repo.conversations import get_pending_input

DueHandler = Callable[[JobContext, DueItem], Awaitable[None]]
RecurringJob = Callable[[JobContext], Awaitable[object]]
TypedInput = Callable[[Context, PendingInput], Awaitable[None]]
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Capability:
    """One capability: its commands and card actions, clock jobs and special inputs.

    Attributes:
        name: Short name for logs and clash messages.
        router: Commands and card actions (one router per capability package).
        due_handlers: Clock jobs by ``DueItem.kind``.
        recurring: Checks each clock beat runs, in this order.
        kind_handlers: Events handled as a whole (contact added) rather than by word or id.
        typed_inputs: Answers to text a card asked for, by the ``PendingInput.action``.
        default_input: Answer to asked-for text no ``typed_inputs`` entry claims.
        fallback: Answer to text that is no command and was not asked for.
    """

    name: str
    router: Router | None = None
    due_handlers: Mapping[str, DueHandler] = field(default_factory=dict)
    recurring: tuple[RecurringJob, ...] = ()
    kind_handlers: Mapping[EventKind, Handler] = field(default_factory=dict)
    typed_inputs: Mapping[str, TypedInput] = field(default_factory=dict)
    default_input: Handler | None = None
    fallback: Handler | None = None


@dataclass(frozen=True)
class Registry:
    """Every capability merged: what the dispatcher, the clock and the runtime are given."""

    routers: tuple[Router, ...]
    due_handlers: Mapping[str, DueHandler]
    recurring: tuple[RecurringJob, ...]
    kind_handlers: Mapping[EventKind, Handler]
    typed_inputs: Mapping[str, TypedInput]
    default_input: Handler | None
    fallback: Handler | None

    async def answer_pending(self, ctx: Context) -> None:
        """Text typed after a button asked for it goes to whoever asked."""
        pending = await get_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
        answer = self.typed_inputs.get(pending.action) if pending is not None else None
        if answer is not None and pending is not None:
            await answer(ctx, pending)
        elif self.default_input is not None:
            await self.default_input(ctx)


def include_capabilities(capabilities: Iterable[Capability]) -> Registry:
    """Merge capabilities in order; raises ValueError when two claim the same thing."""
    routers: list[Router] = []
    due: dict[str, DueHandler] = {}
    recurring: list[RecurringJob] = []
    kinds: dict[EventKind, Handler] = {}
    typed: dict[str, TypedInput] = {}
    default_input: Handler | None = None
    fallback: Handler | None = None
    for cap in capabilities:
        if cap.router is not None:
            routers.append(cap.router)
        _merge(cap.name, "due kinds", due, cap.due_handlers)
        _merge(cap.name, "event kinds", kinds, cap.kind_handlers)
        _merge(cap.name, "typed inputs", typed, cap.typed_inputs)
        recurring.extend(cap.recurring)
        default_input = _only(cap.name, "default input", default_input, cap.default_input)
        fallback = _only(cap.name, "fallback", fallback, cap.fallback)
    return Registry(
        routers=tuple(routers),
        due_handlers=due,
        recurring=tuple(recurring),
        kind_handlers=kinds,
        typed_inputs=typed,
        default_input=default_input,
        fallback=fallback,
    )


def _merge(name: str, what: str, into: dict[K, V], new: Mapping[K, V]) -> None:
    clash = into.keys() & new.keys()
    if clash:
        raise ValueError(f"capability {name} re-registers {what} {sorted(map(str, clash))}")
    into.update(new)


def _only(name: str, what: str, current: V | None, new: V | None) -> V | None:
    if new is None:
        return current
    if current is not None:
        raise ValueError(f"capability {name} sets a second {what}")
    return new
