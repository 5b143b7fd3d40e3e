"""The one registry: capabilities listed once, merged with clashes refused at start."""

from __future__ import annotations

import pytest

from bot.core.context import Context, JobContext
from bot.core.events import EventKind
from bot.core.registry import Capability, include_capabilities
from bot.core.routing import Router
from handlers.capabilities import CAPABILITIES, REGISTRY
from storage.models import DueItem, PendingInput


async def _handler(ctx: Context) -> None:
    ctx.reply("help")


async def _due(job: JobContext, item: DueItem) -> None:
    return None


async def _typed(ctx: Context, pending: PendingInput) -> None:
    return None


def _router(name: str, word: str) -> Router:
    router = Router(name)
    router.command(word)(_handler)
    return router


def test_every_capability_is_listed_once_and_merged() -> None:
    names = [cap.name for cap in CAPABILITIES]
    assert len(names) == len(set(names))
    commands = {word for router in REGISTRY.routers for word in router.commands}
    # One command of each capability that has commands reaches the dispatcher.
    assert {"推荐", "委托", "召回", "统计", "人才库", "删除候选人", "用量"} <= commands
    assert {"sla.remind", "sla.escalate", "away.start", "insight.weekly"} <= set(
        REGISTRY.due_handlers
    )
    assert EventKind.CONTACT_ADDED in REGISTRY.kind_handlers
    assert REGISTRY.fallback is not None and REGISTRY.default_input is not None
    assert {"recall.edit", "recall.profile.input", "transfer.input"} <= set(REGISTRY.typed_inputs)


def test_two_capabilities_claiming_one_command_fail_at_start() -> None:
    with pytest.raises(ValueError, match="re-registers"):
        Router("a").include(_router("b", "推荐"), _router("c", "推荐"))


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (
            Capability("a", due_handlers={"x.due": _due}),
            Capability("b", due_handlers={"x.due": _due}),
            "due kinds",
        ),
        (
            Capability("a", kind_handlers={EventKind.CONTACT_ADDED: _handler}),
            Capability("b", kind_handlers={EventKind.CONTACT_ADDED: _handler}),
            "event kinds",
        ),
        (
            Capability("a", typed_inputs={"x.edit": _typed}),
            Capability("b", typed_inputs={"x.edit": _typed}),
            "typed inputs",
        ),
        (Capability("a", fallback=_handler), Capability("b", fallback=_handler), "fallback"),
    ],
)
def test_clashes_between_capabilities_are_refused(
    first: Capability, second: Capability, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        include_capabilities([first, second])


def test_recurring_jobs_keep_the_listed_order() -> None:
    async def one(job: JobContext) -> None:
        return None

    async def two(job: JobContext) -> None:
        return None

    merged = include_capabilities(
        [Capability("a", recurring=(one,)), Capability("b", recurring=(two,))]
    )
    assert merged.recurring == (one, two)
