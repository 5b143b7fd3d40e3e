"""What a handler gets (the event, its person, a session) and how it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.events import Event
from cards.models import Card
from cards.render import render_card
from storage.models import Person


@dataclass(frozen=True)
class Settings:
    """The slice of configuration that handlers need."""

    locale: str = "zh"
    timezone: str = "Asia/Shanghai"
    sla_hours: dict[str, float] = field(
        default_factory=lambda: {
            "hr_review": 24.0,
            "needs_info": 48.0,
            "leader_approval": 72.0,
            "feedback": 4.0,
        }
    )

    # Where a person is reached when nothing else says (their platform ids are tried in order).
    platforms: tuple[str, ...] = ("dingtalk", "wecom")
    reminder_fractions: tuple[float, ...] = (0.5, 1.0)
    escalate_after: timedelta = timedelta(0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 30)
    quiet_weekends: bool = True
    digest_at: time = time(9, 0)
    # Platforms that keep a to-do list (待办) for each person, in preference order; a step
    # that waits on someone opens a to-do there and closes it when the step is done.
    task_platforms: tuple[str, ...] = ()
    # Monthly API call quota per platform (only platforms that have one).
    api_quotas: dict[str, int] = field(default_factory=dict)
    # How deadlines count time: "wall" (every hour), "working_days" (whole working days
    # only) or "working_hours" (work_start..work_end on working days).
    sla_time: str = "wall"
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    # Chinese public holidays and make-up working days (调休) count, not just weekends.
    public_holidays: bool = True
    # What a step's passed deadline does, by SLA stage: remind | escalate | reassign | approve.
    timeouts: dict[str, str] = field(default_factory=dict)
    # Recall of no-show candidates: prompt days, the minimum gap between two messages to one
    # candidate, a directory of the deployment's own templates, and news per reason category.
    recall_cadence_days: tuple[int, ...] = (30, 90, 180)
    recall_min_days_between: int = 30
    recall_templates_dir: str = ""
    recall_news: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Personal data of candidates with no activity for this many days is anonymised.
    retention_days: int = 730
    # Handled inbox events' and sent outbox messages' payloads are emptied after this many days.
    payload_retention_days: int = 7

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def sla(self, stage: str, overrides: dict[str, float] | None = None) -> timedelta | None:
        hours = (overrides or {}).get(stage, self.sla_hours.get(stage))
        return None if hours is None else timedelta(hours=float(hours))


@dataclass(frozen=True)
class Outgoing:
    """One thing to send: a new card to a person or to the event's conversation, or an update."""

    card: Card
    to_person: Person | None = None  # None: reply into the event's conversation
    update: bool = False  # True: replace the card ``card.key`` already shown to the recipient
    not_before: datetime | None = None  # held back until then (quiet hours)
    # "open" / "done": a to-do in the person's platform to-do list, ``card.key`` its id.
    task: str | None = None
    # The event's contact is greeted with this card (WeCom welcome message, within 20 s).
    welcome: bool = False
    # An outbox kind other than a card (e.g. "recall": a message the recipient confirms in
    # their client), delivered only on ``platform``; ``handle`` is what that delivery needs.
    kind: str | None = None
    platform: str | None = None
    handle: dict[str, Any] | None = None
    # Exactly where an earlier card went (platform, target kind, target, group): an update
    # of that copy goes there, whoever and wherever the answer's event came from.
    where: tuple[str, str, str, bool] | None = None
    # A file the platform already holds (kind, filename, platform, ref), sent with the card.
    file: dict[str, str] | None = None


@dataclass
class Context:
    event: Event
    session: AsyncSession
    person: Person
    now: datetime
    settings: Settings
    args: str = ""
    params: dict[str, str] = field(default_factory=dict)
    outgoing: list[Outgoing] = field(default_factory=list)
    # Text that matched no command, with a near-miss command word corrected ("" if none).
    suggestion: str = ""

    def card(self, name: str, key: str | None = None, **context: Any) -> Card:
        context.setdefault("tz", self.settings.timezone)
        return render_card(name=name, context=context, locale=self.settings.locale, key=key)

    def reply(self, name: str, **context: Any) -> None:
        """Answer in the conversation the event came from."""
        self.outgoing.append(Outgoing(card=self.card(name, **context)))

    def notify(self, person: Person, name: str, key: str | None = None, **context: Any) -> None:
        """Send a card to a person directly (their 1:1 chat with the bot)."""
        self.outgoing.append(Outgoing(card=self.card(name, key=key, **context), to_person=person))

    def open_task(self, person: Person, name: str, key: str, **context: Any) -> None:
        """Put a to-do in ``person``'s platform to-do list (where the platform has one)."""
        card = self.card(name, key=key, **context)
        self.outgoing.append(Outgoing(card=card, to_person=person, task="open"))

    def close_task(self, person: Person, key: str) -> None:
        """Mark the to-do ``key`` opened for ``person`` as done."""
        self.outgoing.append(Outgoing(card=Card(title="", key=key), to_person=person, task="done"))

    def send_file(self, file: dict[str, str], name: str, **context: Any) -> None:
        """Send the actor a file the platform holds (``ref``), introduced by a card."""
        card = self.card(name, **context)
        self.outgoing.append(Outgoing(card=card, to_person=self.person, file=dict(file)))

    def welcome(self, name: str, **context: Any) -> None:
        """Greet the contact who just added the actor (answers a CONTACT_ADDED event)."""
        self.outgoing.append(Outgoing(card=self.card(name, **context), welcome=True))

    def update_card(self, key: str, name: str, **context: Any) -> None:
        """Replace the card the actor tapped, in place."""
        card = self.card(name, key=key, **context)
        self.outgoing.append(Outgoing(card=card, to_person=self.person, update=True))

    def deliver(
        self,
        person: Person,
        kind: str,
        *,
        platform: str,
        handle: dict[str, Any],
        card: Card,
        not_before: datetime | None = None,
    ) -> None:
        """Queue a platform delivery of ``kind`` on behalf of ``person`` (see Outgoing.kind)."""
        self.outgoing.append(Outgoing(
            card=card, to_person=person, kind=kind, platform=platform, handle=dict(handle),
            not_before=not_before,
        ))


@dataclass
class JobContext:
    """What a clock job gets: no event and no actor, the same way to answer."""

    session: AsyncSession
    now: datetime
    settings: Settings
    outgoing: list[Outgoing] = field(default_factory=list)

    def card(self, name: str, key: str | None = None, **context: Any) -> Card:
        context.setdefault("tz", self.settings.timezone)
        return render_card(name=name, context=context, locale=self.settings.locale, key=key)

    def notify(
        self,
        person: Person,
        name: str,
        key: str | None = None,
        not_before: datetime | None = None,
        **context: Any,
    ) -> None:
        card = self.card(name, key=key, **context)
        self.outgoing.append(Outgoing(card=card, to_person=person, not_before=not_before))

    def open_task(self, person: Person, name: str, key: str, **context: Any) -> None:
        """Put a to-do in ``person``'s platform to-do list (where the platform has one)."""
        card = self.card(name, key=key, **context)
        self.outgoing.append(Outgoing(card=card, to_person=person, task="open"))

    def close_task(self, person: Person, key: str) -> None:
        """Mark the to-do ``key`` opened for ``person`` as done."""
        self.outgoing.append(Outgoing(card=Card(title="", key=key), to_person=person, task="done"))
