"""The first store: runs, persons, diagnoses, results, deficits, route versions, marks.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 200


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(ID), primary_key=True),
        _when("started_at"),
        _when("finished_at", nullable=True),
        sa.Column("source", sa.Text()),
        sa.Column("kb_hash", sa.String(100)),
        sa.Column("kb_version", sa.String(100)),
        sa.Column("profiles", sa.Integer()),
        sa.Column("evaluated", sa.Integer()),
        sa.Column("set_aside", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("municipality", sa.Text()),
        sa.Column("organization", sa.Text()),
        sa.Column("role", sa.String(100)),
        sa.Column("experience_years", sa.Float()),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
    )
    op.create_table(
        "diagnoses",
        sa.Column("id", sa.Integer(), autoincrement=True),
        sa.Column("person_id", sa.String(ID), nullable=False),
        sa.Column("run_id", sa.String(ID)),
        sa.Column("diagnosed_on", sa.String(10)),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        _when("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_diagnoses"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_diagnoses_person_id_persons"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_diagnoses_run_id_runs"),
        sa.UniqueConstraint("run_id", "person_id", name="uq_diagnoses_run_person"),
    )
    op.create_index("ix_diagnoses_person", "diagnoses", ["person_id"])
    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), autoincrement=True),
        sa.Column("diagnosis_id", sa.Integer(), nullable=False),
        sa.Column("kb_hash", sa.String(100), nullable=False),
        sa.Column("kb_version", sa.String(100)),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_results"),
        sa.ForeignKeyConstraint(
            ["diagnosis_id"], ["diagnoses.id"], name="fk_results_diagnosis_id_diagnoses"
        ),
        sa.UniqueConstraint("diagnosis_id", name="uq_results_diagnosis_id"),
    )
    op.create_table(
        "deficits",
        sa.Column("id", sa.Integer(), autoincrement=True),
        sa.Column("diagnosis_id", sa.Integer(), nullable=False),
        sa.Column("competency", sa.String(ID), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("score_pct", sa.Float()),
        sa.PrimaryKeyConstraint("id", name="pk_deficits"),
        sa.ForeignKeyConstraint(
            ["diagnosis_id"], ["diagnoses.id"], name="fk_deficits_diagnosis_id_diagnoses"
        ),
    )
    op.create_index("ix_deficits_diagnosis", "deficits", ["diagnosis_id"])
    op.create_table(
        "route_versions",
        sa.Column("id", sa.Integer(), autoincrement=True),
        sa.Column("person_id", sa.String(ID), nullable=False),
        sa.Column("diagnosis_id", sa.Integer()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("route", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_route_versions"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_route_versions_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["diagnosis_id"], ["diagnoses.id"], name="fk_route_versions_diagnosis_id_diagnoses"
        ),
        sa.UniqueConstraint("diagnosis_id", name="uq_route_versions_diagnosis_id"),
        sa.UniqueConstraint("person_id", "version", name="uq_route_versions_person_version"),
    )
    op.create_table(
        "step_marks",
        sa.Column("id", sa.Integer(), autoincrement=True),
        sa.Column("person_id", sa.String(ID), nullable=False),
        sa.Column("route_version_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("date", sa.String(10)),
        sa.Column("evidence", sa.String(500)),
        _when("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_step_marks"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_step_marks_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["route_version_id"],
            ["route_versions.id"],
            name="fk_step_marks_route_version_id_route_versions",
        ),
    )
    op.create_index("ix_step_marks_person", "step_marks", ["person_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_step_marks_person", "step_marks"),
        ("ix_deficits_diagnosis", "deficits"),
        ("ix_diagnoses_person", "diagnoses"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "step_marks",
        "route_versions",
        "deficits",
        "results",
        "diagnoses",
        "persons",
        "runs",
    ):
        op.drop_table(table)
