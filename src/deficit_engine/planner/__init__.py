"""Cohort plans: the needs of a whole cohort resolved against the catalogue's capacity.

Diagnosis stays per person; this package shares out mentors, programme places
and mentor teams across the cohort (docs/route.md, "Cohort plans"):
:mod:`.plan` (the whole plan), :mod:`.rows` (what it reads of each
person), :mod:`.programmes` (programme places) and :mod:`.schools` (school
profiles and the rules that flag schools for team support). The mentor
allocation itself is :mod:`deficit_engine.resolve.allocate`, which one
person's resolution uses too.
"""

from .plan import CohortPlan, PlanStats, StreamedPlan, TeamSupport, plan_cohort, plan_rows
from .programmes import ProgrammePlace, plan_programmes
from .rows import PlanRow, RowTable, SharedValues, plan_row
from .schools import GroupProfile, SchoolFlag, SchoolProfile, flag_schools, school_profiles

__all__ = [
    "CohortPlan",
    "GroupProfile",
    "PlanRow",
    "PlanStats",
    "ProgrammePlace",
    "RowTable",
    "SchoolFlag",
    "SchoolProfile",
    "SharedValues",
    "StreamedPlan",
    "TeamSupport",
    "flag_schools",
    "plan_cohort",
    "plan_programmes",
    "plan_row",
    "plan_rows",
    "school_profiles",
]
