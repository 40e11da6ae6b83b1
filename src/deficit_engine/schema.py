"""pydantic v2 input models: the KB files and the diagnostic profile.

Strict (no coercion of strings to numbers and the like) and closed (unknown
fields are rejected). No I/O here; cross-references are checked by the loader.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from .errors import UsageError
from .months import FIRST_PERIOD_YEAR, LAST_PERIOD_YEAR, MAX_PERIOD_MONTHS, month_index

__all__ = [
    "DELIVERIES",
    "EDUCATION_LEVELS",
    "EDUCATION_TYPES",
    "MENTORING_FORMS",
    "PHASES",
    "PROVIDER_LEVELS",
    "QUALIFICATION_CATEGORIES",
    "RESULT_SOURCES",
    "ROLES",
    "Calendar",
    "CompetenciesFile",
    "Competency",
    "Format",
    "FormatsFile",
    "Group",
    "Indicator",
    "Instrument",
    "InstrumentsFile",
    "Level",
    "Mentor",
    "MentorsFile",
    "Period",
    "Person",
    "Planning",
    "PlanningFile",
    "Preferences",
    "Profile",
    "ProfileResult",
    "Program",
    "ProgramGroup",
    "ProgramsFile",
    "ScaleFile",
    "SchoolRule",
    "Subject",
    "SubjectsFile",
]

#: Posts (должности). ``manager`` is the head (руководитель), ``deputy_head`` a deputy
#: head (заместитель руководителя); ``methodist`` is a методист of a municipal
#: methodical service (ММС), a post, not the qualification category «педагог-методист»
#: (that is ``Person.category``); ``educator`` is a воспитатель of a preschool.
Role = Literal[
    "teacher",
    "educator",
    "psychologist",
    "additional_education_teacher",
    "tutor",
    "counselor",
    "deputy_head",
    "manager",
    "methodist",
]
#: Qualification categories of the attestation order (приказ Минпросвещения России
#: № 196): none yet, первая, высшая, педагог-методист, педагог-наставник.
QualificationCategory = Literal[
    "no_category", "first", "highest", "pedagogue_methodist", "pedagogue_mentor"
]
Delivery = Literal["in_person", "distance", "blended"]
Education = Literal["formal", "non_formal", "informal"]
ProviderLevel = Literal["regional", "municipal", "institutional"]
Phase = Literal["learn", "practice", "share", "reflect"]
MentoringForm = Literal[
    "teacher_teacher", "young_specialist", "competency_pair", "group", "team", "management"
]
ProgramKind = Literal["advanced_training", "retraining"]
#: Levels of general education (ФЗ-273, ст. 10): дошкольное, начальное общее,
#: основное общее, среднее общее.
EducationLevel = Literal["preschool", "primary", "basic", "secondary"]
Severity = Literal["critical", "high", "moderate", "low"]
#: Where a diagnostic result comes from (docs/provenance.md): a ЦОПМКП/ЦНППМ test,
#: the teacher's self-assessment, a lesson observed by the methodical council, ЕФОМ.
ResultSource = Literal["cnppm_test", "self_assessment", "lesson_observation", "efom"]

ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
QUALIFICATION_CATEGORIES: tuple[str, ...] = QualificationCategory.__args__  # type: ignore[attr-defined]
DELIVERIES: tuple[str, ...] = Delivery.__args__  # type: ignore[attr-defined]
EDUCATION_TYPES: tuple[str, ...] = Education.__args__  # type: ignore[attr-defined]
PROVIDER_LEVELS: tuple[str, ...] = ProviderLevel.__args__  # type: ignore[attr-defined]
PHASES: tuple[str, ...] = Phase.__args__  # type: ignore[attr-defined]
MENTORING_FORMS: tuple[str, ...] = MentoringForm.__args__  # type: ignore[attr-defined]
EDUCATION_LEVELS: tuple[str, ...] = EducationLevel.__args__  # type: ignore[attr-defined]
RESULT_SOURCES: tuple[str, ...] = ResultSource.__args__  # type: ignore[attr-defined]

Id = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# --- knowledge base ---------------------------------------------------------


class Group(_Model):
    id: Id
    title: Text
    standard: list[ShortText] = []
    description: Text | None = None


class Indicator(_Model):
    id: Id
    title: Text
    weight: Annotated[float, Field(gt=0, le=1000)] = 1.0


class Competency(_Model):
    id: Id
    group: Id
    title: Text
    standard: Annotated[list[ShortText], Field(min_length=1)]
    requires: list[Id] = []
    indicators: list[Indicator] = []
    description: Text | None = None
    # Other words a methodologist may search the competency by (медиация for
    # conflict resolution): `deficit-engine kb --grep` and did-you-mean read them.
    synonyms: list[ShortText] = []


class CompetenciesFile(_Model):
    groups: Annotated[list[Group], Field(min_length=1)]
    competencies: Annotated[list[Competency], Field(min_length=1)]
    #: The KB's version as its authors name it; a Result carries it (``kb_version``).
    version: ShortText | None = None


class Level(_Model):
    id: Id
    title: Text
    below: Annotated[float, Field(gt=0, le=100)] | None = None
    description: Text | None = None


class ScaleFile(_Model):
    levels: Annotated[list[Level], Field(min_length=2)]


class Format(_Model):
    id: Id
    title: Text
    education: Education
    level: ProviderLevel
    phase: Phase
    hours: Annotated[float, Field(gt=0, le=2000)]
    description: Text | None = None
    # The ИОМ document's cells for a step of this format (issue 13): its tasks,
    # planned result and report form; the phase's wording when omitted.
    tasks: Text | None = None
    result: Text | None = None
    report_form: Text | None = None


class FormatsFile(_Model):
    formats: list[Format]


class ProgramGroup(_Model):
    """A cohort group of a programme: it starts in ``start`` and takes ``seats`` people."""

    start: Month
    seats: Annotated[int, Field(ge=1, le=100_000)]
    delivery: Delivery | None = None  # the programme's when omitted


class Program(_Model):
    id: Id
    title: Text
    kind: ProgramKind
    hours: Annotated[float, Field(gt=0, le=2000)]
    delivery: Delivery
    provider: ShortText
    federal_registry: bool
    audience: Annotated[list[Role], Field(min_length=1)]
    covers: Annotated[list[Id], Field(min_length=1)]
    description: Text | None = None
    # The ИОМ document's cells for this programme's step, as for a Format.
    tasks: Text | None = None
    result: Text | None = None
    report_form: Text | None = None
    # Subject ids (subjects.yaml): the programme serves only people teaching one of them.
    subjects: list[Id] = []
    # Levels of education: the programme serves only people working at one of them.
    levels: list[EducationLevel] = []
    # Places per plan period (a school year); None: as many as needed.
    seats: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    # Cohort groups (start month, seats, delivery); excludes ``seats``.
    groups: list[ProgramGroup] = []
    # An in-person group opens in a municipality only with at least this many
    # people; None: the KB's planning.min_group.
    min_group: Annotated[int, Field(ge=1, le=1000)] | None = None

    @model_validator(mode="after")
    def _places(self) -> Program:
        if self.seats is not None and self.groups:
            raise ValueError("give either 'seats' or 'groups', not both")
        return self


class ProgramsFile(_Model):
    programs: list[Program]


class Mentor(_Model):
    id: Id
    name: ShortText
    municipality: ShortText
    organization: ShortText
    strengths: Annotated[list[Id], Field(min_length=1)]
    forms: Annotated[list[MentoringForm], Field(min_length=1)]
    capacity: Annotated[int, Field(ge=0, le=1000)]
    # Subject ids: a subject mentor serves only people teaching one of them.
    subjects: list[Id] = []
    levels: list[EducationLevel] = []


class MentorsFile(_Model):
    mentors: list[Mentor]


class Subject(_Model):
    """A school subject: the id profiles and catalogues use, its Russian title and
    other spellings a table may carry (``Математика``, ``алгебра``)."""

    id: Id
    title: ShortText
    aliases: list[ShortText] = []
    levels: list[EducationLevel] = []


class SubjectsFile(_Model):
    subjects: Annotated[list[Subject], Field(min_length=1)]


class Instrument(_Model):
    """A diagnostic instrument (``ontology/instruments.yaml``): how much its results
    count when a profile has several for one competency (docs/provenance.md)."""

    id: Id
    title: ShortText
    aliases: list[ShortText] = []
    source: ResultSource | None = None
    #: The higher, the more its result counts against another instrument's.
    priority: Annotated[int, Field(ge=0, le=1000)] = 0


class InstrumentsFile(_Model):
    instruments: Annotated[list[Instrument], Field(min_length=1)]


class Calendar(_Model):
    """The school calendar routes are scheduled in (docs/route.md, "The calendar").

    ``holidays`` are the months of the year (1-12) in which no route step
    starts or runs: by default July and August, the summer holidays, when
    courses, mentoring and school methodical work stop.
    """

    holidays: Annotated[list[Annotated[int, Field(ge=1, le=12)]], Field(max_length=11)] = [7, 8]

    @model_validator(mode="after")
    def _distinct(self) -> Calendar:
        if len(set(self.holidays)) != len(self.holidays):
            raise ValueError("a month is listed twice in holidays")
        return self


class Planning(_Model):
    """How routes and cohort plans are made (docs/route.md, "Cohort plans")."""

    # Fewest people for whom an in-person programme opens in a municipality.
    min_group: Annotated[int, Field(ge=1, le=1000)] = 1
    # Colleagues of the cohort at ``colleague_level`` on a competency may serve as
    # competency_pair / teacher_teacher mentors for it, ``colleague_load`` mentees each.
    colleague_mentors: bool = False
    colleague_load: Annotated[int, Field(ge=1, le=20)] = 2
    colleague_level: Id | None = None  # a scale level id; None: the top level
    # The months without route steps (a year must keep at least one working month).
    calendar: Calendar = Calendar()


class SchoolRule(_Model):
    """Flags a school for командное наставничество from its staff's results.

    A school is flagged for a group when at least ``min_staff`` of its staff
    were assessed in the group and every condition given holds.
    """

    id: Id
    title: Text
    source: Text
    groups: list[Id] = []  # competency groups; empty: every group
    severities: list[Severity] = []  # deficits that count; empty: any severity
    min_staff: Annotated[int, Field(ge=1, le=10_000)] = 5
    share_above: Annotated[float, Field(ge=0, lt=100)] | None = None  # % of staff with a deficit
    mean_below: Annotated[float, Field(gt=0, le=100)] | None = None  # mean score, %
    form: MentoringForm = "team"

    @model_validator(mode="after")
    def _has_condition(self) -> SchoolRule:
        if self.share_above is None and self.mean_below is None:
            raise ValueError("a school rule needs 'share_above' or 'mean_below'")
        return self


class PlanningFile(_Model):
    planning: Planning = Planning()
    school_rules: list[SchoolRule] = []


# --- profile ----------------------------------------------------------------


class Person(_Model):
    role: Role
    experience_years: Annotated[float, Field(ge=0, le=70)]
    # The qualification category held now; None: not stated.
    category: QualificationCategory | None = None
    subjects: list[ShortText] = []
    levels: list[EducationLevel] = []
    organization: ShortText | None = None
    municipality: ShortText | None = None
    name: ShortText | None = None  # optional, never logged
    # The ИОМ header's fields of the regional form (issue 13): what the person's
    # education is, when they last took an in-service course (ISO date), and the
    # topic of their self-education. Shown by the document only; rules do not read them.
    education: ShortText | None = None
    last_course: ShortText | None = None
    self_education_topic: ShortText | None = None

    @field_validator("last_course")
    @classmethod
    def _iso_last_course(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"last_course {value!r} is not a date YYYY-MM-DD") from None
        return value


class Period(_Model):
    start: Month
    end: Month

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        for month in (self.start, self.end):
            if not FIRST_PERIOD_YEAR <= int(month[:4]) <= LAST_PERIOD_YEAR:
                raise ValueError(
                    f"month {month} is outside the years {FIRST_PERIOD_YEAR}–{LAST_PERIOD_YEAR}"
                )
        length = month_index(self.end) - month_index(self.start) + 1
        if length < 1:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        if length > MAX_PERIOD_MONTHS:
            raise ValueError(
                f"period {self.start} – {self.end} is {length} months long; "
                f"at most {MAX_PERIOD_MONTHS} ({MAX_PERIOD_MONTHS // 12} years)"
            )
        return self


class Preferences(_Model):
    delivery: list[Delivery] = []
    hours_per_month: Annotated[float, Field(ge=1, le=300)] | None = None
    period: Period | None = None


class ProfileResult(_Model):
    competency: Id | None = None
    indicator: Id | None = None
    score: Annotated[float, Field(ge=0)]
    max: Annotated[float, Field(gt=0)] = 100.0
    instrument: ShortText | None = None
    date: ShortText | None = None
    #: Who assessed (a council, a tutor): kept in the profile only, never in a Result.
    assessor: ShortText | None = None
    source: ResultSource | None = None

    @field_validator("date")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        # dates order results of one instrument: only an ISO date compares as text
        if value is not None:
            try:
                parsed = datetime.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"date {value!r} is not a date YYYY-MM-DD") from None
            if parsed.isoformat() != value:
                raise ValueError(f"date {value!r} is not a date YYYY-MM-DD")
        return value

    @model_validator(mode="after")
    def _check(self) -> ProfileResult:
        if (self.competency is None) == (self.indicator is None):
            raise ValueError("a result names exactly one of 'competency' or 'indicator'")
        if self.score > self.max:
            raise ValueError(f"score {self.score:g} is above its max {self.max:g}")
        return self


#: A profile id's characters (compiled once: ``re.fullmatch`` looks the pattern up in
#: its cache at each call, for every profile validated).
_PRINTABLE = re.compile(r"[^\x00-\x1f]+")


class Profile(_Model):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    person: Person
    preferences: Preferences = Preferences()
    results: list[ProfileResult] = []
    requests: list[Id] = []

    @field_validator("id")
    @classmethod
    def _id_printable(cls, value: str) -> str:
        if not _PRINTABLE.fullmatch(value) or value.strip() != value:
            raise ValueError("id must be printable text without surrounding spaces")
        return value


def json_schema(kind: str) -> dict[str, Any]:
    """JSON Schema of ``profile`` or of the whole ``kb`` (one per file)."""
    if kind == "profile":
        return Profile.model_json_schema()
    if kind == "kb":
        files: dict[str, type[BaseModel]] = {
            "ontology/competencies.yaml": CompetenciesFile,
            "ontology/scale.yaml": ScaleFile,
            "ontology/formats.yaml": FormatsFile,
            "ontology/programs.yaml": ProgramsFile,
            "ontology/mentors.yaml": MentorsFile,
            "ontology/subjects.yaml": SubjectsFile,
            "ontology/planning.yaml": PlanningFile,
            "ontology/instruments.yaml": InstrumentsFile,
        }
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "deficit_engine knowledge base",
            "description": "One schema per file of a knowledge-base folder.",
            "files": {name: model.model_json_schema() for name, model in files.items()},
        }
    raise UsageError(f"unknown schema {kind!r}: expected 'profile' or 'kb'")


def model_named(name: str) -> type[BaseModel] | None:
    """The model of this module called ``name`` (a ValidationError's ``title``), if any.

    Parameters
    ----------
    name : str
        A class name, e.g. ``"Profile"``.

    Returns
    -------
    type or None
        The pydantic model, or None when no model has that name.
    """
    found = globals().get(name)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None
