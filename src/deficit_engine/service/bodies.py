"""The pydantic models of the API's JSON bodies (what the OpenAPI document shows)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "JobOut",
    "KbInfo",
    "MarkIn",
    "MarkOut",
    "MentorInfo",
    "PersonDetail",
    "PersonSummary",
    "Titled",
]


class Titled(BaseModel):
    """An item of the KB with its title."""

    id: str = Field(examples=["methodical.lesson_design"])
    title: str = Field(examples=["Проектирование урока"])


class MentorInfo(BaseModel):
    """A mentor of the KB's pool (the KB's own, fictional names)."""

    id: str
    name: str
    municipality: str
    organization: str
    strengths: list[str]
    capacity: int


class KbInfo(BaseModel):
    """What `GET /v1/kb` returns."""

    engine_version: str = Field(description="deficit_engine's version", examples=["0.1.0"])
    hash: str = Field(description="the KB's content hash, as each Result's kb_hash, for audit")
    summary: str = Field(description="the counts `deficit-engine check` prints")
    groups: list[Titled]
    competencies: list[Titled]
    programmes: list[Titled]
    formats: list[Titled]
    mentors: list[MentorInfo]


class PersonSummary(BaseModel):
    """A person as the tutor's list shows them (no name: the id is pseudonymous)."""

    id: str
    role: str
    municipality: str | None
    organization: str | None
    diagnoses: int = Field(description="how many diagnoses are kept")
    deficits: int = Field(description="deficits at the latest diagnosis")
    steps: int = Field(description="steps of the current route")
    done: int = Field(description="steps marked done")


class MarkIn(BaseModel):
    """A mark on a route step."""

    status: Literal["planned", "in_progress", "done", "skipped"] = Field(examples=["done"])
    date: str | None = Field(None, description="YYYY-MM-DD", examples=["2026-11-20"])
    evidence: str | None = Field(None, max_length=500, examples=["удостоверение № 2741"])


class MarkOut(BaseModel):
    """A step's mark as kept."""

    step: str
    status: str
    date: str | None
    evidence: str | None


class PersonDetail(BaseModel):
    """What `GET /v1/persons/{id}` returns."""

    person: PersonSummary
    marks: list[MarkOut]


class JobOut(BaseModel):
    """A cohort job."""

    id: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str = Field(description="the batch's current stage")
    done: int = Field(description="profiles worked through in that stage")
    total: int | None = Field(description="profiles expected in it, when known")
    error: str = Field(description="why it failed, one line")
    profiles: int | None = None
    evaluated: int | None = None
    set_aside: int | None = None
