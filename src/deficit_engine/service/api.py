"""The JSON API under ``/v1``: stateless evaluation, the KB, people and cohort jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from ..engine import Engine
from ..errors import ProfileError, UnknownIdError
from ..kb import KnowledgeBase
from ..models import Result, StepMark
from ..profile import load_json_text
from ..schema import Profile
from .access import Access, Grant
from .auth import current_grant, require, scoped
from .bodies import JobOut, KbInfo, MarkIn, MarkOut, MentorInfo, PersonDetail, PersonSummary, Titled
from .jobs import Jobs
from .problems import PROBLEM_JSON, ApiProblem, Problem
from .records import PersonRecord, Records

__all__ = ["Service", "printable", "router"]

#: How the body's problems name it (``body:results[0].score``).
BODY = "body"


@dataclass
class Service:
    """What a running service holds: the engine, the tokens, the people, the jobs."""

    engine: Engine
    access: Access | None
    records: Records
    jobs: Jobs
    digest: str


router = APIRouter(prefix="/v1")

_EXAMPLE_PROFILE: dict[str, Any] = {
    "id": "T-0001",
    "person": {
        "role": "teacher",
        "experience_years": 2,
        "subjects": ["mathematics"],
        "organization": "МБОУ СОШ № 1 с. Анучино",
        "municipality": "Анучинский МО",
    },
    "preferences": {"delivery": ["distance"], "hours_per_month": 18},
    "results": [
        {"competency": "methodical.lesson_design", "score": 12, "max": 25},
        {"competency": "normative.fgos", "score": 14, "max": 20},
    ],
}

#: The request body of the endpoints that take a profile: the same model as
#: ``deficit-engine schema profile`` (read by the service itself, so that its
#: problems are the CLI's, each by field path).
PROFILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A diagnostic profile (what `deficit-engine schema profile` describes).",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Profile"},
                "example": _EXAMPLE_PROFILE,
            }
        },
    }
}

_RESULT_SCHEMA = {
    "type": "object",
    "description": "The Result as `deficit-engine route --format json` writes it (docs/route.md).",
    "required": ["profile", "deficits", "needs"],
    "properties": {
        "profile": {"type": "string"},
        "deficits": {"type": "array", "items": {"type": "object"}},
        "needs": {"type": "array", "items": {"type": "object"}},
    },
}


def _result_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _RESULT_SCHEMA}}}


def problem_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    why = {
        401: "no valid token",
        403: "the token's role or scope does not allow it",
        404: "no such item",
        406: "none of the accepted types can be given",
        413: "the body is larger than the service's bound",
        415: "the body is not of a type the endpoint reads",
        422: "the input is invalid: every problem, by field path",
    }
    return {
        s: {"model": Problem, "description": why[s], "content": {PROBLEM_JSON: {}}}
        for s in statuses
    }


def service_of(request: Request) -> Service:
    """The running :class:`Service` (a FastAPI dependency).

    Parameters
    ----------
    request : Request

    Returns
    -------
    Service
    """
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(service_of)]
AnyRole = Annotated[Grant, Depends(current_grant)]


async def read_json(request: Request) -> Any:
    """The request's body as JSON, read by the CLI's bounded reader.

    Parameters
    ----------
    request : Request

    Returns
    -------
    Any
        The document.

    Raises
    ------
    ProfileError
        Undecodable, not JSON, too deep, a huge integer or a repeated key: the
        problem by its place (422).
    ApiProblem
        415 when the body is not declared JSON.
    """
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if kind not in ("application/json", "") and not kind.endswith("+json"):
        raise ApiProblem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"{kind}: send application/json",
        )
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError([_place("not-utf8", f"byte {exc.start}: not UTF-8")]) from None
    return load_json_text(text, BODY)


async def read_profile(request: Request, engine: Engine) -> Profile:
    """The request's JSON body as a validated profile.

    Parameters
    ----------
    request : Request
    engine : Engine
        Whose KB the profile's ids are checked against.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Not JSON (:func:`read_json`) or not a valid profile: every problem by
        its place (422).
    ApiProblem
        415 when the body is not declared JSON.
    """
    return engine.parse(await read_json(request), source=BODY)


def _place(code: str, message: str) -> Any:
    from ..errors import Issue

    return Issue(BODY, 0, 0, code, message)


@router.get(
    "/kb",
    summary="The knowledge base: version, content hash, what it holds, with titles",
    responses=problem_docs(401),
)
def kb_info(service: ServiceDep, _grant: AnyRole) -> KbInfo:
    """The KB the service evaluates with."""
    return describe_kb(service.engine.kb, service.digest)


@router.post(
    "/diagnose",
    summary="Deficits and needs of one profile, with the trace",
    openapi_extra=PROFILE_BODY,
    responses={
        200: _result_response("the Result (no route)"),
        **problem_docs(401, 413, 415, 422),
    },
    response_class=JSONResponse,
)
async def diagnose(request: Request, service: ServiceDep, _grant: AnyRole) -> Response:
    """Diagnose a profile: as `deficit-engine diagnose --format json`, without the route."""
    engine = service.engine
    profile = await read_profile(request, engine)
    _, result = await run_in_threadpool(engine.diagnose, profile)
    return JSONResponse(result.to_dict(trace=True))


_ROUTE_TYPES = {"application/json": "json", "text/html": "html", "text/markdown": "md"}


@router.post(
    "/route",
    summary="The ИОМ of one profile: the Result as JSON, or the document as HTML or Markdown",
    openapi_extra=PROFILE_BODY,
    responses={
        200: {
            "description": "by `Accept`: the Result (JSON), or the printable ИОМ "
            "(`text/html`, `text/markdown`) that `deficit-engine route --format html|md` renders",
            "content": {
                "application/json": {"schema": _RESULT_SCHEMA},
                "text/html": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        },
        **problem_docs(401, 406, 413, 415, 422),
    },
    response_class=JSONResponse,
)
async def route(request: Request, service: ServiceDep, _grant: AnyRole) -> Response:
    """Evaluate a profile and render it as the `Accept` header asks."""
    fmt = negotiate(request.headers.get("accept", "application/json"))
    engine = service.engine
    profile = await read_profile(request, engine)
    result = await run_in_threadpool(engine.evaluate, profile)
    return rendered(fmt, engine.kb, profile, result)


def negotiate(accept: str) -> str:
    """The export format an ``Accept`` header asks for.

    Parameters
    ----------
    accept : str
        The header (``text/html,application/xhtml+xml;q=0.9,*/*;q=0.8``).

    Returns
    -------
    str
        ``json``, ``html`` or ``md``: the first acceptable type with the highest q.

    Raises
    ------
    ApiProblem
        406 when none of them is acceptable.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        kind, *params = (p.strip() for p in part.split(";"))
        quality = _quality(params)
        if kind in ("*/*", "application/*"):
            kind = "application/json"
        elif kind == "text/*":
            kind = "text/html"
        if kind in _ROUTE_TYPES and quality > 0:
            ranked.append((-quality, position, _ROUTE_TYPES[kind]))
    if not ranked:
        raise ApiProblem(
            406,
            "not-acceptable",
            "Not acceptable",
            f"Accept: {accept[:200]}: offered {', '.join(_ROUTE_TYPES)}",
        )
    return min(ranked)[2]


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def rendered(
    fmt: str,
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    marks: dict[str, StepMark] | None = None,
) -> Response:
    """A Result as a response in ``fmt`` (``json``, ``html`` or ``md``).

    Parameters
    ----------
    fmt : str
    kb, profile, result
        As for :func:`deficit_engine.export.render`.
    marks : dict, optional
        The tutor's marks, by step id, for the document.

    Returns
    -------
    Response
    """
    if fmt == "json":
        return JSONResponse(result.to_dict(trace=True))
    text = printable(fmt, kb, profile, result, marks or {})
    if fmt == "html":
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


def printable(
    fmt: str, kb: KnowledgeBase, profile: Profile, result: Result, marks: dict[str, StepMark]
) -> str:
    """The ИОМ document as ``deficit-engine route --format html|md`` renders it, with marks.

    Parameters
    ----------
    fmt : str
        ``html`` or ``md``.
    kb, profile, result
        As for :func:`deficit_engine.export.render`.
    marks : dict
        The tutor's marks by step id: they fill «Отметка о выполнении».

    Returns
    -------
    str
    """
    from .. import export

    return export.render(fmt, kb, profile, result, marks=marks)


def describe_kb(kb: KnowledgeBase, digest: str) -> KbInfo:
    """The KB's identity and contents, with titles.

    Parameters
    ----------
    kb : KnowledgeBase
    digest : str
        Its content hash (``KnowledgeBase.content_hash``, each Result's ``kb_hash``).

    Returns
    -------
    KbInfo
    """
    onto = kb.ontology
    return KbInfo(
        engine_version=engine_version(),
        hash=digest,
        summary=kb.summary(),
        groups=[Titled(id=g.id, title=g.title) for g in onto.groups.values()],
        competencies=[Titled(id=c.id, title=c.title) for c in onto.competencies.values()],
        programmes=[Titled(id=p.id, title=p.title) for p in kb.programs.values()],
        formats=[Titled(id=f.id, title=f.title) for f in kb.formats.values()],
        mentors=[
            MentorInfo(
                id=m.id,
                name=m.name,
                municipality=m.municipality,
                organization=m.organization,
                strengths=list(m.strengths),
                capacity=m.capacity,
            )
            for m in kb.mentors.values()
        ],
    )


def engine_version() -> str:
    """deficit_engine's version (read when asked: the package facade lists this module).

    Returns
    -------
    str
    """
    from .. import __version__

    return __version__


# --- people ---------------------------------------------------------------------------------

Stored = Annotated[Grant, Depends(require("tutor", "admin"))]


def summarise(record: PersonRecord) -> PersonSummary:
    """A person's line in the tutor's list.

    Parameters
    ----------
    record : PersonRecord

    Returns
    -------
    PersonSummary
    """
    latest = record.latest
    route_ = latest.result.route
    return PersonSummary(
        id=record.id,
        role=latest.profile.person.role,
        municipality=record.municipality,
        organization=record.organization,
        diagnoses=record.count,
        deficits=len(latest.result.deficits),
        steps=len(route_.steps) if route_ is not None else 0,
        done=sum(1 for m in record.marks.values() if m.status == "done"),
    )


def person_in_scope(service: Service, grant: Grant, person_id: str) -> PersonRecord:
    """The person ``person_id``, if kept and in the grant's scope.

    Parameters
    ----------
    service : Service
    grant : Grant
    person_id : str

    Returns
    -------
    PersonRecord

    Raises
    ------
    UnknownIdError
        404 when no such person is kept.
    ApiProblem
        403 when the person is outside the grant's scope.
    """
    record = service.records.person(person_id)
    if record is None:
        raise UnknownIdError(f"no person {person_id!r}")
    scoped(grant, record.municipality, record.organization)
    return record


@router.post(
    "/persons",
    summary="Diagnose a person and keep the diagnosis, their route and (later) marks",
    openapi_extra=PROFILE_BODY,
    status_code=201,
    responses={
        201: _result_response("the Result"),
        **problem_docs(401, 403, 413, 415, 422),
    },
    response_class=JSONResponse,
)
async def add_diagnosis(request: Request, service: ServiceDep, grant: Stored) -> Response:
    """Evaluate a profile and keep it as the person's latest diagnosis."""
    profile = await read_profile(request, service.engine)
    scoped(grant, profile.person.municipality, profile.person.organization)
    existing = service.records.person(profile.id)
    if existing is not None:  # a re-diagnosis must not move a person out of another's scope
        scoped(grant, existing.municipality, existing.organization)
    result = await run_in_threadpool(service.engine.evaluate, profile)
    service.records.add_diagnosis(profile, result)
    return JSONResponse(result.to_dict(trace=True), status_code=201)


@router.get("/persons", summary="The people in the token's scope", responses=problem_docs(401, 403))
def list_persons(service: ServiceDep, grant: Stored) -> list[PersonSummary]:
    """Every kept person the grant covers, by id."""
    return [
        summarise(r)
        for r in service.records.persons()
        if grant.covers(r.municipality, r.organization)
    ]


@router.get(
    "/persons/{person_id}",
    summary="A person: their line, and the marks on their route",
    responses=problem_docs(401, 403, 404),
)
def get_person(person_id: str, service: ServiceDep, grant: Stored) -> PersonDetail:
    """One person in scope."""
    record = person_in_scope(service, grant, person_id)
    return PersonDetail(
        person=summarise(record),
        marks=[MarkOut(**m._asdict()) for m in record.marks.values()],
    )


@router.get(
    "/persons/{person_id}/route",
    summary="A person's current ИОМ: the Result, or the printable document with the marks",
    responses={
        200: {
            "description": "by `Accept`, as `POST /v1/route`",
            "content": {
                "application/json": {"schema": _RESULT_SCHEMA},
                "text/html": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        },
        **problem_docs(401, 403, 404, 406),
    },
    response_class=JSONResponse,
)
def person_route(person_id: str, request: Request, service: ServiceDep, grant: Stored) -> Response:
    """The latest diagnosis's route, with the tutor's marks in the document."""
    fmt = negotiate(request.headers.get("accept", "application/json"))
    record = person_in_scope(service, grant, person_id)
    latest = record.latest
    return rendered(fmt, service.engine.kb, latest.profile, latest.result, record.marks)


@router.patch(
    "/persons/{person_id}/steps/{step_id}",
    summary="Mark a step of a person's route: planned, in progress, done or skipped",
    responses=problem_docs(401, 403, 404, 422),
)
def mark_step(
    person_id: str, step_id: str, mark: MarkIn, service: ServiceDep, grant: Stored
) -> MarkOut:
    """Record the mark; the step must be on the person's current route."""
    person_in_scope(service, grant, person_id)
    made = StepMark.make(step_id, mark.status, mark.date, mark.evidence)
    service.records.mark(person_id, made)
    return MarkOut(**made._asdict())


# --- cohorts --------------------------------------------------------------------------------

Analysts = Annotated[Grant, Depends(require("analyst", "admin"))]


@router.post(
    "/cohorts",
    summary="Upload a cohort (CSV, XLSX or JSONL): a job that runs `deficit-engine batch` on it",
    status_code=202,
    responses=problem_docs(401, 403, 413, 422),
)
async def submit_cohort(
    file: Annotated[UploadFile, File(description="a .csv, .xlsx or .jsonl cohort file")],
    service: ServiceDep,
    _grant: Analysts,
) -> JobOut:
    """Queue the upload; poll `GET /v1/cohorts/{id}` for its progress."""
    job = service.jobs.submit(file.filename or "", await file.read())
    return JobOut(**job.to_dict())


@router.get("/cohorts", summary="Every cohort job, newest first", responses=problem_docs(401, 403))
def list_cohorts(service: ServiceDep, _grant: Analysts) -> list[JobOut]:
    """The jobs."""
    return [JobOut(**j.to_dict()) for j in service.jobs.all()]


@router.get(
    "/cohorts/{job_id}",
    summary="A cohort job and its progress",
    responses=problem_docs(401, 403, 404),
)
def get_cohort(job_id: str, service: ServiceDep, _grant: Analysts) -> JobOut:
    """One job."""
    return JobOut(**_job(service, job_id).to_dict())


@router.get(
    "/cohorts/{job_id}/report",
    summary="A finished job's аналитическая справка, as `deficit-engine report --format json|html`",
    responses={
        200: {
            "description": "the report",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **problem_docs(401, 403, 404, 422),
    },
    response_class=JSONResponse,
)
def cohort_report(
    job_id: str, service: ServiceDep, _grant: Analysts, format: Literal["json", "html"] = "json"
) -> Response:
    """The report of a job in state `done`."""
    text = service.jobs.report(_job(service, job_id), format)
    if format == "html":
        return HTMLResponse(text)
    return Response(text, media_type="application/json")


def _job(service: Service, job_id: str) -> Any:
    job = service.jobs.get(job_id)
    if job is None:
        raise UnknownIdError(f"no cohort job {job_id!r}")
    return job
