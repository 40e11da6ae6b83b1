"""Alembic's environment for the store: run on the connection :mod:`..migrate` hands over.

The store never reads an ``alembic.ini``: :func:`deficit_engine.store.migrate.upgrade`
builds the configuration in code and passes an open connection, so the migrations
shipped in the package run the same for ``deficit-engine db upgrade`` and for an
integrator's own SQLAlchemy engine.
"""

from __future__ import annotations

from alembic import context

from deficit_engine.store.tables import metadata


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # an `alembic` command line pointed at this folder
        raise RuntimeError("run the store's migrations with 'deficit-engine db upgrade'")
    # render_as_batch: SQLite alters a table by copying it, which Alembic's batch mode does
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic sets context.config while it runs this file; a tool importing every module
# of the package (the public-surface test) gets the function and nothing run.
if hasattr(context, "config"):
    _run()
