"""The store's tables, as SQLAlchemy Core metadata (what the migrations create).

Persons are kept under their pseudonymous id (the profile's ``id``) with the
attributes the analytics break a cohort down by; never a name. A diagnosis is
one person's profile at one moment (with the provenance of its results), its
Result carries the hash of the KB that produced it, each planned Result adds a
route version, and step marks refer to a route version's step ids. A cohort
run groups the diagnoses one ``batch`` recorded; a diagnosis is unique per
(run, person), which is what makes re-running a batch with the same run id add
nothing twice.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "deficits",
    "diagnoses",
    "metadata",
    "persons",
    "results",
    "route_versions",
    "runs",
    "step_marks",
]

#: Constraint names spelled out, so that migrations name them the same on every engine.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Ids are at most 200 characters in a profile (schema.Profile.id); catalogue ids less.
ID = 200

runs = Table(
    "runs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("source", Text),  # the cohort file's name, not its folder
    Column("kb_hash", String(100)),
    Column("kb_version", String(100)),
    Column("profiles", Integer),
    Column("evaluated", Integer),
    Column("set_aside", Integer),
)

persons = Table(
    "persons",
    metadata,
    Column("id", String(ID), primary_key=True),  # the pseudonymous id, never a name
    Column("municipality", Text),
    Column("organization", Text),
    Column("role", String(100)),
    Column("experience_years", Float),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

diagnoses = Table(
    "diagnoses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(ID), ForeignKey("persons.id"), nullable=False),
    Column("run_id", String(ID), ForeignKey("runs.id")),
    Column("diagnosed_on", String(10)),  # the latest result date, ISO, when the results have one
    Column("profile", JSON, nullable=False),  # without person.name
    Column("provenance", JSON, nullable=False),  # per result: what, instrument, date, ...
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("run_id", "person_id", name="uq_diagnoses_run_person"),
    Index("ix_diagnoses_person", "person_id"),
)

results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("diagnosis_id", Integer, ForeignKey("diagnoses.id"), nullable=False, unique=True),
    Column("kb_hash", String(100), nullable=False),
    Column("kb_version", String(100)),
    Column("result", JSON, nullable=False),
)

deficits = Table(
    "deficits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("diagnosis_id", Integer, ForeignKey("diagnoses.id"), nullable=False),
    Column("competency", String(ID), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("score_pct", Float),
    Index("ix_deficits_diagnosis", "diagnosis_id"),
)

route_versions = Table(
    "route_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(ID), ForeignKey("persons.id"), nullable=False),
    Column("diagnosis_id", Integer, ForeignKey("diagnoses.id"), unique=True),
    Column("version", Integer, nullable=False),
    Column("route", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("person_id", "version", name="uq_route_versions_person_version"),
)

step_marks = Table(
    "step_marks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(ID), ForeignKey("persons.id"), nullable=False),
    Column("route_version_id", Integer, ForeignKey("route_versions.id"), nullable=False),
    Column("step", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("date", String(10)),
    Column("evidence", String(500)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_step_marks_person", "person_id"),
)
