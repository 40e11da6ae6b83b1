"""pydantic v2 input models: the KB files and the diagnostic profile.

Strict (no coercion of strings to numbers and the like) and closed (unknown
fields are rejected). No I/O here; cross-references are checked by the loader.
"""

from __future__ import annotations

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

__all__ = [
    "DELIVERIES",
    "EDUCATION_TYPES",
    "MENTORING_FORMS",
    "PHASES",
    "PROVIDER_LEVELS",
    "ROLES",
    "CompetenciesFile",
    "Competency",
    "Format",
    "FormatsFile",
    "Group",
    "Indicator",
    "Level",
    "Mentor",
    "MentorsFile",
    "Period",
    "Person",
    "Preferences",
    "Profile",
    "ProfileResult",
    "Program",
    "ProgramsFile",
    "ScaleFile",
]

Role = Literal["teacher", "manager", "methodist", "psychologist", "tutor", "counselor"]
Delivery = Literal["in_person", "distance", "blended"]
Education = Literal["formal", "non_formal", "informal"]
ProviderLevel = Literal["regional", "municipal", "institutional"]
Phase = Literal["learn", "practice", "share", "reflect"]
MentoringForm = Literal[
    "teacher_teacher", "young_specialist", "competency_pair", "group", "team", "management"
]
ProgramKind = Literal["advanced_training", "retraining"]

ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]
DELIVERIES: tuple[str, ...] = Delivery.__args__  # type: ignore[attr-defined]
EDUCATION_TYPES: tuple[str, ...] = Education.__args__  # type: ignore[attr-defined]
PROVIDER_LEVELS: tuple[str, ...] = ProviderLevel.__args__  # type: ignore[attr-defined]
PHASES: tuple[str, ...] = Phase.__args__  # type: ignore[attr-defined]
MENTORING_FORMS: tuple[str, ...] = MentoringForm.__args__  # type: ignore[attr-defined]

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


class CompetenciesFile(_Model):
    groups: Annotated[list[Group], Field(min_length=1)]
    competencies: Annotated[list[Competency], Field(min_length=1)]


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


class FormatsFile(_Model):
    formats: list[Format]


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


class MentorsFile(_Model):
    mentors: list[Mentor]


# --- profile ----------------------------------------------------------------


class Person(_Model):
    role: Role
    experience_years: Annotated[float, Field(ge=0, le=70)]
    subjects: list[ShortText] = []
    organization: ShortText | None = None
    municipality: ShortText | None = None
    name: ShortText | None = None  # optional, never logged


class Period(_Model):
    start: Month
    end: Month

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
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

    @model_validator(mode="after")
    def _check(self) -> ProfileResult:
        if (self.competency is None) == (self.indicator is None):
            raise ValueError("a result names exactly one of 'competency' or 'indicator'")
        if self.score > self.max:
            raise ValueError(f"score {self.score:g} is above its max {self.max:g}")
        return self


class Profile(_Model):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    person: Person
    preferences: Preferences = Preferences()
    results: list[ProfileResult] = []
    requests: list[Id] = []

    @field_validator("id")
    @classmethod
    def _id_printable(cls, value: str) -> str:
        if not re.fullmatch(r"[^\x00-\x1f]+", value) or value.strip() != value:
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
        }
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "deficit_engine knowledge base",
            "description": "One schema per file of a knowledge-base folder.",
            "files": {name: model.model_json_schema() for name, model in files.items()},
        }
    raise UsageError(f"unknown schema {kind!r}: expected 'profile' or 'kb'")
