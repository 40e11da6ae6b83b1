"""Where the store is: ``--db`` (a URL or a file path), ``DEFICIT_ENGINE_DB``, or a file here.

A bare path is an SQLite file; anything with ``://`` is a SQLAlchemy URL
(``postgresql+psycopg://user@host/db``). A ``postgresql://`` URL is given the
psycopg 3 driver the package installs, so a URL copied from ``psql`` works.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import UsageError

__all__ = ["DB_ENV", "DEFAULT_FILE", "database_url", "make_engine"]

#: The environment variable naming the store when ``--db`` is not given.
DB_ENV = "DEFICIT_ENGINE_DB"
#: The SQLite file used when neither ``--db`` nor :data:`DB_ENV` names one.
DEFAULT_FILE = "deficit-engine.db"
#: How long an SQLite writer waits for another's lock before failing, in seconds: a
#: report reading the file while a batch records must not fail the batch.
SQLITE_WAIT = 60.0


def database_url(db: str | None = None) -> str:
    """The SQLAlchemy URL of the store named by ``db``, the environment or the default.

    Parameters
    ----------
    db : str, optional
        A URL (``postgresql://...``, ``sqlite:///...``) or an SQLite file path;
        when None, :data:`DB_ENV`, else :data:`DEFAULT_FILE` in the current folder.

    Returns
    -------
    str
        A URL with an explicit driver (``postgresql+psycopg`` for PostgreSQL).

    Raises
    ------
    UsageError
        If ``db`` looks like a URL SQLAlchemy cannot read.
    """
    name = db if db else os.environ.get(DB_ENV) or DEFAULT_FILE
    if "://" not in name:
        return f"sqlite:///{Path(name).expanduser().resolve()}"
    try:
        url = make_url(name)
    except (ArgumentError, ValueError):  # a port that is not a number is a ValueError
        raise UsageError(f"--db: {_shown(name)} is not a database URL") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def make_engine(db: str | None = None, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine for the store named as :func:`database_url` reads it.

    Parameters
    ----------
    db : str, optional
        A URL or an SQLite file path (see :func:`database_url`).
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    sqlalchemy.Engine
        For SQLite, with foreign keys enforced, a write-ahead log and a patient
        lock wait.

    Raises
    ------
    UsageError
        If the URL names a database SQLAlchemy has no driver for.
    """
    url = database_url(db)
    # Cyrillic kept as itself: \u-escapes would triple the size of every stored Result
    kwargs.setdefault("json_serializer", functools.partial(json.dumps, ensure_ascii=False))
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_WAIT})
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:  # NoSuchModuleError is an ArgumentError
        raise UsageError(f"--db: {_shown(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Per connection: foreign keys checked (SQLite checks them only when asked); a
    write-ahead log, so that readers (a report) and the one writer (a batch) do not
    wait for each other, with ``synchronous=NORMAL``: a commit survives the process
    being killed (the log is written before the commit returns), and only a power
    loss can take back the last commits, never half of one. Without it, each
    person's transaction costs several disk flushes (benchmarks/store.py)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    if connection.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _shown(url: str) -> str:
    """A URL as messages show it: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "the value given"
