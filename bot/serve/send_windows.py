"""The send-window port on the deployment's database (wired by the assembly)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.pipeline.send_window import Limits
from storage.db import SessionFactory, session_scope
from storage.repo.send_window import take_send_slot


class DatabaseSendWindow:
    """Counts sends in the database (``send_window`` / ``send_stamp``), one short transaction
    per check."""

    def __init__(
        self, session_factory: SessionFactory, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock or (lambda: datetime.now(UTC))

    async def try_acquire(self, key: str, limits: Limits) -> float | None:
        async with session_scope(self.session_factory) as session:
            return await take_send_slot(
                session=session, key=key, limits=limits, now=self.clock(), clock=self.clock
            )
