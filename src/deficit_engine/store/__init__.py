"""The store (issue 14, parts 4 and 5): diagnoses over time in a database, and what routes achieved.

SQLAlchemy 2 over SQLite (a file, the default) or PostgreSQL (by URL, with
psycopg 3), its schema made and updated by the Alembic migrations shipped in
``migrations/``. :class:`Store` is the library API (an integrator passes their
own SQLAlchemy engine); :class:`BatchRecorder` is what ``batch --db`` hooks into
the cohort run; :mod:`.analytics` computes the effectiveness figures of two
runs. How it is laid out and what the figures mean: docs/store.md.
"""

from __future__ import annotations

from .analytics import Effectiveness, PlaceChange, StepEffect, improved
from .connect import DB_ENV, DEFAULT_FILE, database_url, make_engine
from .database import Diagnosis, RunInfo, Store, StoreError
from .recorder import BatchRecorder, new_run_id

__all__ = [
    "DB_ENV",
    "DEFAULT_FILE",
    "BatchRecorder",
    "Diagnosis",
    "Effectiveness",
    "PlaceChange",
    "RunInfo",
    "StepEffect",
    "Store",
    "StoreError",
    "database_url",
    "improved",
    "make_engine",
    "new_run_id",
]
