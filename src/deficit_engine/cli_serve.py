"""``deficit-engine serve``: the HTTP service (deficit_engine.service) under uvicorn.

It binds to 127.0.0.1 unless told otherwise, evaluates with the ``fast``
backend (no state kept between evaluations, so concurrent requests share
nothing mutable), and reads its tokens from ``--tokens FILE``; without one,
every caller may use the stateless endpoints only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .choices import BACKENDS
from .errors import UsageError

__all__ = ["add_parser", "cmd_serve"]

#: Where ``--db`` is read from when not given (the store's variable, issue 14).
DB_VARIABLE = "DEFICIT_ENGINE_DB"


def add_parser(sub: Any) -> None:
    """Add the ``serve`` command to the command line's subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        ``build_parser``'s subparsers.
    """
    serve = sub.add_parser(
        "serve", help="run the HTTP service (JSON API, OpenAPI, web pages) on localhost"
    )
    serve.add_argument("--kb", help="knowledge base folder (default: the shipped one)")
    serve.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help=f"where people are kept (default: ${DB_VARIABLE}; without either, in memory)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--tokens",
        metavar="FILE",
        default=None,
        help="YAML/JSON file of bearer tokens and their roles (without it: stateless only)",
    )
    serve.add_argument(
        "--backend", choices=BACKENDS, default="fast", help="inference backend (default: fast)"
    )
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Load the KB and the tokens, then serve until interrupted.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        0 after a clean shutdown.

    Raises
    ------
    UsageError
        A bad port, a missing tokens file or KB folder, or a ``--db`` whose
        schema is not current (``deficit-engine db upgrade``).
    """
    import uvicorn

    from .engine import Engine
    from .service import create_app, load_tokens

    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: not a port number")
    if args.kb is not None and not Path(args.kb).is_dir():
        raise UsageError(f"--kb {args.kb}: not a directory")
    access = None
    if args.tokens is not None:
        if not Path(args.tokens).is_file():
            raise UsageError(f"--tokens {args.tokens}: no such file")
        access = load_tokens(Path(args.tokens))
    else:
        print(
            "deficit-engine: no --tokens: the stateless endpoints only, for anyone who can connect",
            file=sys.stderr,
        )
    engine = Engine.from_path(args.kb, backend=args.backend)
    records = _records(args.db or os.environ.get(DB_VARIABLE), engine)
    app = create_app(engine, access=access, records=records)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _records(url: str | None, engine: Any) -> Any:
    """Where people are kept: in memory without a URL, else the database store."""
    if url is None:
        return None
    try:
        from .service.stored import StoreRecords
        from .store import Store
    except ImportError:
        raise UsageError(
            f"--db {url}: the database store (deficit_engine.store) is not installed; "
            "run without --db to keep people in memory"
        ) from None
    store = Store.open(url)
    store.require_current()
    return StoreRecords(store, engine)
