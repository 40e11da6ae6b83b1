"""The service as an ASGI app: :func:`create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..engine import Engine
from ..schema import Profile
from .access import Access
from .api import Service, engine_version, router
from .jobs import Jobs
from .limits import BodyLimit
from .problems import install_handlers
from .records import MemoryRecords, Records
from .tracked import router as tracked_router

__all__ = ["MAX_BODY", "MAX_UPLOAD", "create_app"]

#: The largest request body but uploads: a profile is a few kilobytes; the CLI's
#: own bound on a profile file is larger, but nothing legitimate needs it over HTTP.
MAX_BODY = 1024 * 1024
#: The largest cohort upload (a regional XLSX of 20 000 rows is about 5 MB).
MAX_UPLOAD = 64 * 1024 * 1024

DESCRIPTION = """\
Professional deficits of teachers, inferred by the knowledge base's rules, and the
individual educational route (ИОМ) that answers them — the `deficit-engine` command over HTTP.

Errors are RFC 9457 problem details (`application/problem+json`) carrying the same
positioned one-line problems as the command line, each naming its field path.
Send `Authorization: Bearer TOKEN` with a token from the service's tokens file:
`integrator` may call the stateless endpoints, `tutor` the people of their own
municipalities or organisations, `analyst` the cohort reports, `admin` everything.
"""


def create_app(
    engine: Engine,
    *,
    access: Access | None = None,
    records: Records | None = None,
    jobs_root: Path | None = None,
    max_body: int = MAX_BODY,
    max_upload: int = MAX_UPLOAD,
) -> FastAPI:
    """The service's app.

    Parameters
    ----------
    engine : Engine
        The engine every request evaluates with (the ``fast`` backend is the
        service's default: it keeps no state between evaluations).
    access : Access, optional
        The tokens; without them every caller is an integrator (stateless
        endpoints only).
    records : Records, optional
        Where people are kept (default: in memory).
    jobs_root : Path, optional
        Where cohort jobs keep uploads and outputs (default: a temporary folder).
    max_body, max_upload : int
        Bounds on request bodies and on cohort uploads, in bytes.

    Returns
    -------
    FastAPI
    """
    from .pages import install_pages

    jobs = Jobs(engine, jobs_root)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = FastAPI(
        title="deficit_engine",
        version=engine_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = Service(
        engine,
        access,
        records or MemoryRecords(),
        jobs,
        # the hash each Result names as kb_hash, so a client can match the two
        engine.kb.content_hash,
    )
    install_handlers(app)
    app.include_router(router)
    app.include_router(tracked_router)
    install_pages(app)
    app.add_middleware(
        BodyLimit,
        limit=max_body,
        upload_limit=max_upload,
        upload_paths=("/v1/cohorts", "/cohorts"),
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the profile's schema from :class:`~deficit_engine.schema.Profile`
    (the one ``deficit-engine schema profile`` prints) among its components."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        profile = Profile.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(profile.pop("$defs", {}))
        schemas["Profile"] = profile
        app.openapi_schema = document
    return app.openapi_schema
