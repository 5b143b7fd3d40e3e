"""The demo org: a regional mall chain with managers, HR, leaders and a 店长 position."""

from __future__ import annotations

from pathlib import Path

from handlers.admin.directory_import import ImportReport, import_directory, import_positions
from storage.db import SessionFactory, session_scope

DEMO_DIR = Path(__file__).parent


async def seed_demo(session_factory: SessionFactory) -> tuple[ImportReport, ImportReport]:
    """Load (or refresh) the demo directory and positions; safe to run repeatedly."""
    async with session_scope(session_factory) as session:
        people = await import_directory(
            session=session, text=(DEMO_DIR / "people.csv").read_text(encoding="utf-8")
        )
        positions = await import_positions(
            session=session, text=(DEMO_DIR / "positions.toml").read_text(encoding="utf-8")
        )
    return people, positions
