"""Run the packaged Alembic migrations from code, on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage.db import make_engine

_HERE = Path(__file__).resolve().parent
MIGRATIONS_DIR = _HERE / "migrations"


def alembic_config(url: str) -> Config:
    """Build an Alembic config pointing at the migrations shipped inside this package.

    Args:
        url: Async SQLAlchemy URL, e.g. ``sqlite+aiosqlite:///hrbot.db`` or
            ``postgresql+asyncpg://user@host/db``.

    Returns:
        A config usable with ``alembic.command``, independent of the working directory.
    """
    ini = _HERE / "alembic.ini"
    config = Config(str(ini) if ini.is_file() else None)
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # alembic.ini puts the package's parent on sys.path for the command line; here storage is
    # already importable, and repeating that on every call would keep growing sys.path.
    config.set_main_option("prepend_sys_path", "")
    # Stored as an attribute, not a main option, so '%' in passwords needs no escaping.
    config.attributes["url"] = url
    # The host application owns logging; don't let alembic.ini reconfigure it.
    config.attributes["skip_logging"] = True
    return config


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision``; a database already there is left untouched.

    All pending migrations run in one transaction on the caller's event loop.

    Args:
        url: Async SQLAlchemy URL of the database.
        revision: Target revision, ``"head"`` by default.
    """
    config = alembic_config(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    """Return the revision the database is at.

    Args:
        url: Async SQLAlchemy URL of the database.

    Returns:
        The revision id, or None for a database that was never migrated.
    """

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()
