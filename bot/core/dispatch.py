"""From a verified Event to committed state and queued replies, in one transaction.

Order matters: (1) the inbox row makes a retried event a no-op, (2) the actor is resolved
against the directory, (3) the handler runs inside a savepoint so a user error or a crash
undoes its writes but keeps the inbox row and the answer, (4) replies go to the outbox in
the same transaction, so nothing is sent for work that did not commit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.context import Context, Outgoing, Settings
from bot.core.errors import UserFacingError
from bot.core.events import Event, EventKind
from bot.core.log import dispatch_log
from bot.core.metrics import count_event_in, observe_handler
from bot.core.routing import Handler, Router, RouteTable
from bot.core.text import normalize_text, split_command, suggest_command
from bot.pipeline.inbox_writer import InboxWriter
from bot.pipeline.outgoing import enqueue_outgoing
from cards.render import render_card
from storage.db import SessionFactory
from storage.repo.conversations import get_pending_input
from storage.repo.inbox import list_unprocessed_events, lock_event, record_event
from storage.repo.people import get_person_by_platform_id

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DispatchResult:
    duplicate: bool
    route: str
    outbox_ids: tuple[int, ...] = ()


class Dispatcher:
    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        routers: Iterable[Router],
        settings: Settings,
        clock: Clock | None = None,
        pending_input: Handler | None = None,
        fallback: Handler | None = None,
        kind_handlers: Mapping[EventKind, Handler] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.routes = RouteTable().include(routers)
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.pending_input = pending_input
        self.fallback = fallback
        # Event kinds that are neither text nor card taps (CONTACT_ADDED) go to one handler.
        self.kind_handlers = dict(kind_handlers or {})
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._inbox = InboxWriter(session_factory, self.clock)

    async def feed(self, event: Event) -> DispatchResult:
        """Handle one event exactly once; returns what was queued."""
        started = time.perf_counter()
        lock = self._locks.setdefault((event.platform, event.actor_id), asyncio.Lock())
        async with lock:
            result = await self._feed_locked(event)
        elapsed = time.perf_counter() - started
        if not result.duplicate:
            observe_handler(event.platform, elapsed)
        dispatch_log.info(
            "event=%s platform=%s route=%s duplicate=%s queued=%d ms=%.1f",
            event.event_id,
            event.platform,
            result.route,
            result.duplicate,
            len(result.outbox_ids),
            elapsed * 1000,
        )
        return result

    async def accept(self, event: Event) -> bool:
        """Persist an event before the platform is acked; False for a retry already stored."""
        new = await self._inbox.store(event)
        if new:
            count_event_in(event.platform)
        return new

    async def redeliver(self, older_than: timedelta = timedelta(seconds=60)) -> int:
        """Handle events that were acked but never handled (the process died in between)."""
        async with self.session_factory() as session:
            rows = await list_unprocessed_events(
                session=session, received_before=self.clock() - older_than
            )
        handled = 0
        for row in rows:
            result = await self.feed(Event.from_dict(row.payload))
            handled += not result.duplicate
        return handled

    async def _feed_locked(self, event: Event) -> DispatchResult:
        async with self.session_factory() as session:
            now = self.clock()
            row = await lock_event(
                session=session, platform=event.platform, event_id=event.event_id
            )
            if row is not None and row.processed_at is not None:
                await session.rollback()
                return DispatchResult(duplicate=True, route="duplicate")
            if row is None:
                if not await record_event(
                    session=session,
                    platform=event.platform,
                    event_id=event.event_id,
                    payload=event.to_dict(),
                    now=now,
                ):
                    await session.rollback()
                    return DispatchResult(duplicate=True, route="duplicate")
                row = await lock_event(
                    session=session, platform=event.platform, event_id=event.event_id
                )
                assert row is not None
            person = await get_person_by_platform_id(
                session=session, platform=event.platform, user_id=event.actor_id
            )
            if person is None:
                card = render_card(
                    name="not_in_directory", context={}, locale=self.settings.locale
                )
                outgoing = [Outgoing(card=card)]
                route = "unknown_person"
            else:
                ctx = Context(
                    event=event, session=session, person=person, now=now, settings=self.settings
                )
                route = await self._run(ctx)
                outgoing = ctx.outgoing
            # Answers go out on the platform the event came from; notifications to other
            # people prefer it too, then whatever platform they are on.
            platforms = (
                event.platform,
                *(p for p in self.settings.platforms if p != event.platform),
            )
            ids = await enqueue_outgoing(
                session,
                outgoing,
                key_prefix=f"{event.platform}:{event.event_id}",
                platforms=platforms,
                now=now,
                conversation=event.conversation,
                reply_handle=event.reply_handle,
                task_platforms=self.settings.task_platforms,
                actor_id=person.id if person is not None else None,
            )
            row.processed_at = now
            row.outcome = route[:200]
            session.add(row)
            await session.commit()
            return DispatchResult(duplicate=False, route=route, outbox_ids=ids)

    async def _run(self, ctx: Context) -> str:
        handler, route = await self._resolve(ctx)
        try:
            async with ctx.session.begin_nested():
                await handler(ctx)
        except UserFacingError as err:
            ctx.outgoing.clear()
            ctx.reply(err.template, **err.context)
            return f"{route}!{err.template}"
        except Exception:
            dispatch_log.exception("handler failed: event=%s route=%s", ctx.event.event_id, route)
            ctx.outgoing.clear()
            ctx.reply("error_generic")
            return f"{route}!error"
        return route

    async def _resolve(self, ctx: Context) -> tuple[Handler, str]:
        event = ctx.event
        kind_handler = self.kind_handlers.get(event.kind)
        if kind_handler is not None:
            ctx.params = dict(event.action.params) if event.action is not None else {}
            return kind_handler, f"kind:{event.kind}"
        if event.kind == EventKind.CARD_ACTION and event.action is not None:
            ctx.params = dict(event.action.params)
            if event.action.card_key:
                ctx.params.setdefault("card_key", event.action.card_key)
            handler = self.routes.actions.get(event.action.action_id)
            if handler is not None:
                return handler, f"action:{event.action.action_id}"
            return self._help("unknown_action"), "action:unknown"
        text = normalize_text(event.text)
        word, rest = split_command(text, self.routes.commands.keys())
        if word is not None:
            ctx.args = rest
            return self.routes.commands[word.lower()], f"command:{word}"
        ctx.args = text
        ctx.suggestion = suggest_command(text, self.routes.commands.keys())
        if self.pending_input is not None and text:
            pending = await get_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
            if pending is not None:
                return self.pending_input, "pending_input"
        # A file with no words (a résumé sent on its own) still goes to the fallback.
        if self.fallback is not None and (text or event.attachments):
            return self.fallback, "fallback"
        return self._help("help"), "help"

    def _help(self, template: str) -> Handler:
        async def reply_help(ctx: Context) -> None:
            ctx.reply(template)

        return reply_help
