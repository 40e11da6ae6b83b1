"""Errors as RFC 9457 problem details, with the CLI's positioned one-line issues.

Every error response is ``application/problem+json``: ``type``, ``title``,
``status``, ``detail`` (the first problem, as the CLI prints it) and, for bad
input, ``errors`` — one entry per :class:`~deficit_engine.errors.Issue`, each
with the field path it names. A 500 says only that the failure was logged: a
traceback or an input value never goes back to the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ..errors import Issue, SourceError, UnknownIdError, UsageError, format_field_path

__all__ = [
    "PROBLEM_JSON",
    "ApiProblem",
    "Problem",
    "ProblemIssue",
    "install_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"

#: Where a request body's issues say they are (``body:results[0].score``).
BODY = "body"

log = logging.getLogger("deficit_engine.service")


class ProblemIssue(BaseModel):
    """One problem in the input, with its place."""

    location: str = Field(
        description="file:line:col, or body:field.path", examples=["body:person.role"]
    )
    code: str = Field(
        description="a short stable name of the kind of problem", examples=["invalid-value"]
    )
    message: str = Field(description="what is wrong, for a person")
    path: str = Field(
        "", description="the field path inside the document", examples=["person.role"]
    )
    line: str = Field(description="the issue as the CLI prints it, one line")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(
        description="a URI naming the kind of problem",
        examples=["urn:deficit-engine:problem:invalid-profile"],
    )
    title: str = Field(
        description="the kind of problem, for a person", examples=["Invalid profile"]
    )
    status: int = Field(description="the HTTP status code", examples=[422])
    detail: str = Field(
        description="this occurrence, one line", examples=["body:person.role: invalid-value: ..."]
    )
    errors: list[ProblemIssue] = Field([], description="every problem found in the input")


class ApiProblem(Exception):
    """Raised by a handler to answer with a problem.

    Parameters
    ----------
    status : int
        The HTTP status.
    code : str
        The problem's kind (the last part of its ``type`` URI).
    title : str
        The kind, for a person.
    detail : str
        This occurrence.
    headers : dict, optional
        Extra response headers (``WWW-Authenticate`` for a 401).
    """

    def __init__(
        self, status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.headers = headers


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    issues: Iterable[Issue] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response.

    Parameters
    ----------
    status, code, title, detail
        As for :class:`ApiProblem`.
    issues : iterable of Issue
        The input's problems, each one line in ``errors``.
    headers : dict, optional
        Extra headers.

    Returns
    -------
    JSONResponse
    """
    body = Problem(
        type=f"urn:deficit-engine:problem:{code}",
        title=title,
        status=status,
        detail=detail,
        errors=[_issue(i) for i in issues],
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _issue(issue: Issue) -> ProblemIssue:
    return ProblemIssue(
        location=issue.location,
        code=issue.code,
        message=issue.message,
        path=issue.path,
        line=str(issue),
    )


def install_handlers(app: FastAPI) -> None:
    """Answer every error the app raises with a problem.

    Parameters
    ----------
    app : FastAPI
        The app to install the handlers on.
    """
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(SourceError, _source_error)
    app.add_exception_handler(UnknownIdError, _unknown_id)
    app.add_exception_handler(UsageError, _usage_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)


async def _api_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc.status, exc.code, exc.title, exc.detail, headers=exc.headers)


async def _source_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SourceError)
    detail = exc.lines()[0] if exc.issues else str(exc)
    code = f"invalid-{exc.what.replace(' ', '-')}"
    return problem_response(422, code, f"Invalid {exc.what}", detail, exc.issues)


async def _unknown_id(_request: Request, exc: Exception) -> JSONResponse:
    return problem_response(
        404, "not-found", "Not found", str(exc.args[0]) if exc.args else "not found"
    )


async def _usage_error(_request: Request, exc: Exception) -> JSONResponse:
    return problem_response(422, "invalid-request", "Invalid request", str(exc))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    issues = [_validation_issue(error) for error in exc.errors()]
    detail = str(issues[0]) if issues else "invalid request"
    return problem_response(422, "invalid-request", "Invalid request", detail, issues)


def _validation_issue(error: Any) -> Issue:
    # FastAPI's loc starts with where the value was: body, query, path, header
    where, *rest = error.get("loc", ("body",))
    path = format_field_path(tuple(p for p in rest if isinstance(p, (str, int))))
    message = str(error.get("msg", "invalid value"))
    return Issue(str(where), 0, 0, "invalid-value", message, path=path)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:  # a body FastAPI could not parse: bad input, as a profile's is
        issue = Issue(BODY, 0, 0, "json-syntax", str(exc.detail))
        return problem_response(422, "invalid-request", "Invalid request", str(issue), [issue])
    title = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}.get(
        exc.status_code, "Error"
    )
    return problem_response(
        exc.status_code,
        title.lower().replace(" ", "-"),
        title,
        str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # the type only: an exception's message may quote the input (a person's name)
    log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem_response(
        500, "internal", "Internal error", "the service failed; the failure was logged"
    )
