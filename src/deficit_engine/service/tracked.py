"""Progress between two diagnoses over HTTP (issue 14's :func:`~deficit_engine.tracking.progress`).

``POST /v1/progress`` is stateless: two profiles of one person and, optionally,
the tutor's marks on the earlier route. ``GET /v1/persons/{id}/progress``
compares a kept person's last two diagnoses with their marks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from ..errors import Issue, ProfileError, SourceError, UsageError
from ..schema import Profile
from .api import (
    BODY,
    AnyRole,
    ServiceDep,
    Stored,
    person_in_scope,
    problem_docs,
    read_json,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1")

_PROGRESS_SCHEMA = {
    "type": "object",
    "description": "Per competency the change in score, level and deficit with its label "
    "(closed, persisting, improved, worsened, new); per step of the earlier route, its mark "
    "and whether it was done before the later diagnosis (docs/tracking.md).",
}

_MARK_SCHEMA = {
    "type": "object",
    "required": ["step", "status"],
    "properties": {
        "step": {"type": "string", "examples": ["s1"]},
        "status": {"enum": ["planned", "in_progress", "done", "skipped"]},
        "date": {"type": ["string", "null"], "examples": ["2026-11-20"]},
        "evidence": {"type": ["string", "null"], "maxLength": 500},
    },
}

PROGRESS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Two diagnoses of one person, and the tutor's marks on the earlier route.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["earlier", "later"],
                    "properties": {
                        "earlier": {"$ref": "#/components/schemas/Profile"},
                        "later": {"$ref": "#/components/schemas/Profile"},
                        "marks": {"type": "array", "items": _MARK_SCHEMA},
                    },
                }
            }
        },
    }
}


@router.post(
    "/progress",
    summary="Progress between two diagnoses of one person, as `deficit-engine progress`",
    openapi_extra=PROGRESS_BODY,
    responses={
        200: {
            "description": "the progress",
            "content": {"application/json": {"schema": _PROGRESS_SCHEMA}},
        },
        **problem_docs(401, 413, 415, 422),
    },
    response_class=JSONResponse,
)
async def progress_between(request: Request, service: ServiceDep, _grant: AnyRole) -> Response:
    """Compare the two profiles; every problem of either is named by its field path."""
    from ..tracking import parse_marks, progress

    engine = service.engine
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ProfileError([Issue(BODY, 0, 0, "wrong-type", "an object with earlier and later")])
    issues: list[Issue] = []
    earlier = _checked(issues, "earlier", lambda: _profile(engine, body, "earlier"))
    later = _checked(issues, "later", lambda: _profile(engine, body, "later"))
    marks = _checked(issues, "marks", lambda: parse_marks(body.get("marks", [])))
    if issues:  # every problem of the three parts at once
        raise ProfileError(issues)
    found = await run_in_threadpool(progress, earlier, later, marks, engine=engine)
    return JSONResponse(found.to_dict())


def _profile(engine: Any, body: dict[str, Any], key: str) -> Profile:
    if key not in body:
        raise ProfileError([Issue(BODY, 0, 0, "missing", f"missing required field '{key}'")])
    profile: Profile = engine.parse(body[key], source=BODY)
    return profile


def _checked(issues: list[Issue], key: str, read: Callable[[], Any]) -> Any:
    """What ``read`` gives, or None with its problems added to ``issues`` under ``key``."""
    try:
        return read()
    except SourceError as exc:
        issues += [_within(key, i) for i in exc.issues]
        return None


def _within(key: str, issue: Issue) -> Issue:
    """An issue of a part of the body, placed under its key (``later.results[0].score``)."""
    inner = issue.path
    path = f"{key}{inner}" if inner.startswith("[") else f"{key}.{inner}" if inner else key
    return Issue(BODY, 0, 0, issue.code, issue.message, path=path, suggestion=issue.suggestion)


@router.get(
    "/persons/{person_id}/progress",
    summary="A kept person's progress between their last two diagnoses, with their marks",
    responses={
        200: {
            "description": "the progress",
            "content": {"application/json": {"schema": _PROGRESS_SCHEMA}},
        },
        **problem_docs(401, 403, 404, 422),
    },
    response_class=JSONResponse,
)
def person_progress(person_id: str, service: ServiceDep, grant: Stored) -> Response:
    """The last two diagnoses compared; 422 while only one is kept."""
    from ..tracking import progress

    record = person_in_scope(service, grant, person_id)
    history = service.records.history(person_id)
    if len(history) < 2:
        raise UsageError(f"progress: {person_id!r} has {len(history)} diagnosis; two are compared")
    earlier, later = history[-2], history[-1]
    found = progress(earlier.result, later.result, tuple(record.marks.values()))
    return JSONResponse(found.to_dict())
