"""The store's schema, brought up to date by the Alembic migrations shipped in the package.

The migrations live in ``deficit_engine/store/migrations`` (installed with the
wheel), so ``pip install deficit-engine`` users run them with ``deficit-engine
db upgrade`` or :meth:`~deficit_engine.store.Store.upgrade`, with no
``alembic.ini`` of their own.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

__all__ = ["MIGRATIONS", "current_revision", "head_revision", "upgrade"]

#: The folder of the shipped migrations.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the shipped migrations up to ``revision``, in one transaction where the
    database allows it (SQLite and PostgreSQL both do).

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The store's database.
    revision : str
        The revision to reach; the newest by default.
    """
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def head_revision() -> str | None:
    """The newest shipped revision.

    Returns
    -------
    str or None
        Its id.
    """
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The store's database.

    Returns
    -------
    str or None
        Its id; None for a database the migrations never ran on.
    """
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
