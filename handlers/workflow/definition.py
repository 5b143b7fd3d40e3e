"""A workflow as data: its steps, transitions, who may act, and who is told what.

The engine (``handlers.workflow.engine``) reads these and never names a workflow; a new
workflow is a ``Workflow`` value, its templates and a small form handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.core.context import Context, JobContext
    from storage.models import Case

# Runs in the transaction of the step that entered a state (e.g. schedule an effective date).
Effect = Callable[["Context | JobContext", "Case"], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    """A state that waits on one person.

    Attributes:
        state: The state name.
        assignee: Named resolver of who holds the task (``handlers.workflow.resolvers``).
        sla_hours: Deadline of the stage (None: no deadline, no reminders).
        gate: A decision: nobody decides two gates of one case (separation of duties).
        task_card: Template of the task card the assignee gets.
    """

    state: str
    assignee: str
    sla_hours: float | None = None
    gate: bool = True
    task_card: str = "workflow/task"


@dataclass(frozen=True)
class Notice:
    """Who is told on a transition (a named resolver) and with which template."""

    to: str
    card: str = "workflow/notice"


@dataclass(frozen=True)
class Transition:
    """One action from some states to one state.

    Attributes:
        by: Who may act, as relations to the case: ``assignee`` (the task holder),
            ``applicant`` (who opened it), ``subject`` (whom it is about), ``role:<role>``
            (that role with a scope covering the case's org), ``system`` (the clock).
        requires: Input the action needs ("reason"), asked for when missing.
        button: Shown as a button on the task card of its source states.
    """

    action: str
    sources: frozenset[str]
    target: str
    by: frozenset[str]
    requires: str | None = None
    button: bool = True
    style: str = "default"
    notify: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class Workflow:
    name: str
    initial: str
    steps: Mapping[str, Step]
    transitions: Mapping[str, Transition]
    terminal: frozenset[str]
    # States that are open but wait on no one (approved, waiting for the effective date).
    waiting: frozenset[str] = frozenset()
    on_enter: Mapping[str, Effect] = field(default_factory=dict)
    # Named resolvers of people who may read a case without a part in it (a receiving store
    # manager); managers of the subject's current org may read it anyway.
    viewers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A definition that names an unknown state fails at import, not on the first tap.
        known = set(self.steps) | self.terminal | self.waiting
        for t in self.transitions.values():
            unknown = (set(t.sources) | {t.target}) - known
            if unknown:
                raise ValueError(f"workflow {self.name}: {t.action} names {sorted(unknown)}")
        if self.initial not in self.steps:
            raise ValueError(f"workflow {self.name}: initial state {self.initial} is no step")

    @property
    def open_states(self) -> frozenset[str]:
        return frozenset(self.steps) | self.waiting

    def action_id(self, action: str) -> str:
        """The card action id of ``action`` (``transfer.approve``)."""
        return f"{self.name}.{action}"

    def buttons_of(self, state: str) -> list[Transition]:
        return [
            t for t in self.transitions.values()
            if state in t.sources and t.button and "assignee" in t.by
        ]


def transition(
    action: str,
    sources: set[str],
    target: str,
    by: set[str],
    **kw: Any,  # Transition's optional fields by name; the dataclass checks them
) -> Transition:
    """Shorthand for definitions: plain sets in, frozen sets stored."""
    return Transition(action, frozenset(sources), target, frozenset(by), **kw)
