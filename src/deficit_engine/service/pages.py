"""The web pages, in Russian, rendered on the server (Jinja2, no JavaScript).

The tutor's list of people, a person's page (the ИОМ, its graph and forms to
mark steps), the printable ИОМ, the analyst's cohort dashboard and the KB
browser. Login is a form that puts the token in an HttpOnly, SameSite=Strict
cookie: the forms cannot be posted from another site, and no script reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..errors import DeficitEngineError, SourceError
from ..export import route_mermaid
from ..labels import MARK_STATUS_RU, ROLE_RU
from ..models import StepMark
from .access import Grant
from .api import Service, describe_kb, printable, summarise
from .auth import ANONYMOUS, COOKIE

__all__ = ["install_pages"]

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")  # autoescapes .html


def install_pages(app: FastAPI) -> None:
    """Add the pages' routes to ``app`` (left out of the OpenAPI document).

    Parameters
    ----------
    app : FastAPI
    """
    for path, endpoint, methods in _PAGES:
        app.add_api_route(
            path, endpoint, methods=methods, include_in_schema=False, response_class=HTMLResponse
        )


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _grant(request: Request) -> Grant | None:
    access = _service(request).access
    if access is None:
        return ANONYMOUS
    token = request.cookies.get(COOKIE)
    return access.grant(token) if token else None


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    grant = _grant(request)
    return templates.TemplateResponse(
        request,
        name,
        {"grant": grant, "roles": ROLE_RU, "statuses": MARK_STATUS_RU, **context},
        status_code=status,
    )


def _refused(request: Request, why: str, status: int = 403) -> Response:
    return _page(request, "error.html", status, message=why)


def _login_first() -> Response:
    return RedirectResponse("/login", status_code=303)


def home(request: Request) -> Response:
    """Where a signed-in user starts: their people, the cohorts, or the KB."""
    grant = _grant(request)
    if grant is None:
        return _login_first()
    start = {"tutor": "/persons", "admin": "/persons", "analyst": "/cohorts"}.get(grant.role, "/kb")
    return RedirectResponse(start, status_code=303)


def login_form(request: Request) -> Response:
    """The login form."""
    return _page(request, "login.html")


def login(request: Request, token: Annotated[str, Form(max_length=500)]) -> Response:
    """Check the token and set the cookie."""
    access = _service(request).access
    if access is None or access.grant(token.strip()) is None:
        return _page(request, "login.html", 401, error="Неизвестный токен.")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
    return response


def logout(request: Request) -> Response:
    """Forget the cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _tutor_grant(request: Request) -> Grant | Response:
    grant = _grant(request)
    if grant is None:
        return _login_first()
    if grant.role not in ("tutor", "admin"):
        return _refused(request, "Эта страница — для тьютора.")
    return grant


def persons(request: Request) -> Response:
    """The tutor's list: their people and the state of their routes."""
    grant = _tutor_grant(request)
    if isinstance(grant, Response):
        return grant
    people = [
        summarise(r)
        for r in _service(request).records.persons()
        if grant.covers(r.municipality, r.organization)
    ]
    return _page(request, "persons.html", people=people)


def _person(request: Request, person_id: str) -> Any:
    grant = _tutor_grant(request)
    if isinstance(grant, Response):
        return grant
    record = _service(request).records.person(person_id)
    if record is None:
        return _refused(request, "Такого педагога нет.", 404)
    if not grant.covers(record.municipality, record.organization):
        return _refused(request, "Этот педагог не входит в ваш муниципалитет или организацию.")
    return record


def person(request: Request, person_id: str) -> Response:
    """A person's page: the route's steps with their marks, the graph, the mark forms."""
    record = _person(request, person_id)
    if isinstance(record, Response):
        return record
    latest = record.latest
    kb = _service(request).engine.kb
    titles = {c: kb.ontology.competencies[c].title for c in kb.ontology.competencies}
    return _page(
        request,
        "person.html",
        person=summarise(record),
        record=record,
        result=latest.result,
        titles=titles,
        graph=route_mermaid(latest.result.route, title=f"ИОМ {record.id}"),
    )


def mark(
    request: Request,
    person_id: str,
    step_id: str,
    status: Annotated[str, Form()],
    date: Annotated[str, Form(max_length=10)] = "",
    evidence: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The mark form of one step: record it and go back to the person's page."""
    record = _person(request, person_id)
    if isinstance(record, Response):
        return record
    try:
        made = StepMark.make(step_id, status, date or None, evidence.strip() or None)
        _service(request).records.mark(record.id, made)
    except DeficitEngineError as exc:
        return _refused(request, f"Отметка не сохранена: {exc}", 422)
    return RedirectResponse(f"/persons/{record.id}", status_code=303)


def person_print(request: Request, person_id: str) -> Response:
    """The printable ИОМ: the document ``route --format html`` renders, with the marks."""
    record = _person(request, person_id)
    if isinstance(record, Response):
        return record
    latest = record.latest
    kb = _service(request).engine.kb
    return HTMLResponse(printable("html", kb, latest.profile, latest.result, record.marks))


def _analyst_grant(request: Request) -> Grant | Response:
    grant = _grant(request)
    if grant is None:
        return _login_first()
    if grant.role not in ("analyst", "admin"):
        return _refused(request, "Эта страница — для аналитика.")
    return grant


def cohorts(request: Request) -> Response:
    """The analyst's dashboard: the cohort jobs and an upload form."""
    grant = _analyst_grant(request)
    if isinstance(grant, Response):
        return grant
    return _page(request, "cohorts.html", jobs=_service(request).jobs.all())


def upload(request: Request, file: Annotated[UploadFile, File()]) -> Response:
    """The upload form: queue a job and show it."""
    grant = _analyst_grant(request)
    if isinstance(grant, Response):
        return grant
    try:
        job = _service(request).jobs.submit(file.filename or "", file.file.read())
    except DeficitEngineError as exc:
        return _refused(request, f"Файл не принят: {exc}", 422)
    return RedirectResponse(f"/cohorts/{job.id}", status_code=303)


def cohort(request: Request, job_id: str) -> Response:
    """A job: its progress while it runs, then its справка (tables and charts)."""
    grant = _analyst_grant(request)
    if isinstance(grant, Response):
        return grant
    jobs = _service(request).jobs
    job = jobs.get(job_id)
    if job is None:
        return _refused(request, "Такой обработки нет.", 404)
    report = None
    if job.state == "done":
        try:
            report = jobs.report(job, "html")
        except SourceError as exc:
            return _refused(request, f"Справка не построена: {exc}", 422)
    return _page(request, "cohort.html", job=job, report=report)


def kb_page(request: Request) -> Response:
    """The KB browser: competencies, programmes, formats and mentors with titles."""
    if _grant(request) is None:
        return _login_first()
    service = _service(request)
    return _page(request, "kb.html", kb=describe_kb(service.engine.kb, service.digest))


_PAGES: list[tuple[str, Any, list[str]]] = [
    ("/", home, ["GET"]),
    ("/login", login_form, ["GET"]),
    ("/login", login, ["POST"]),
    ("/logout", logout, ["POST"]),
    ("/persons", persons, ["GET"]),
    ("/persons/{person_id}", person, ["GET"]),
    ("/persons/{person_id}/print", person_print, ["GET"]),
    ("/persons/{person_id}/steps/{step_id}", mark, ["POST"]),
    ("/cohorts", cohorts, ["GET"]),
    ("/cohorts", upload, ["POST"]),
    ("/cohorts/{job_id}", cohort, ["GET"]),
    ("/kb", kb_page, ["GET"]),
]
