"""deficit_engine: professional deficits of teachers, inferred by rules, routed as an ИОМ.

The public API is what this module exports; everything else is internal.
Names are imported on first use, so that importing the package (as pytest does
for the step library's entry point) costs milliseconds, not the whole engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    BackendLimitError,
    DeficitEngineError,
    EvaluationError,
    FiringLimitError,
    Issue,
    KnowledgeBaseError,
    MarksError,
    MatchBudgetError,
    ProfileError,
    SourceError,
    UnknownIdError,
    UsageError,
    WrongTypeError,
)

if TYPE_CHECKING:
    from .choices import BACKENDS, EXPORT_FORMATS
    from .cli_kb import profile_schema
    from .engine import Cohort, Engine
    from .export import render
    from .kb import KnowledgeBase
    from .loader import check_kb, default_kb_path, load_kb
    from .models import (
        Conflict,
        Deficit,
        Need,
        Overflow,
        Provenance,
        Recommendation,
        Resolution,
        Result,
        Route,
        Scores,
        Step,
        StepMark,
        TraceEntry,
        Unmet,
    )
    from .ontology import Ontology, Scale
    from .period import period_hours
    from .planner import CohortPlan, PlanStats, SchoolFlag, SchoolProfile, TeamSupport, plan_cohort
    from .profile import Normalised, normalise, parse_profile, read_profile_file
    from .route import build_route, plan, route_graph, school_year
    from .schema import Profile
    from .service import create_app, load_tokens
    from .store import BatchRecorder, Effectiveness, Store
    from .suggest import Suggester
    from .synthetic import synthetic_profiles
    from .tracking import (
        CompetencyChange,
        Dropped,
        Progress,
        Revision,
        StepProgress,
        after_texts,
        progress,
        read_marks,
        revise,
    )

_LAZY: dict[str, tuple[str, str]] = {
    "BACKENDS": ("choices", "BACKENDS"),
    "BatchRecorder": ("store", "BatchRecorder"),
    "Cohort": ("engine", "Cohort"),
    "CohortPlan": ("planner", "CohortPlan"),
    "CompetencyChange": ("tracking", "CompetencyChange"),
    "Conflict": ("models", "Conflict"),
    "Deficit": ("models", "Deficit"),
    "Dropped": ("tracking", "Dropped"),
    "EXPORT_FORMATS": ("choices", "EXPORT_FORMATS"),
    "Effectiveness": ("store", "Effectiveness"),
    "Engine": ("engine", "Engine"),
    "KnowledgeBase": ("kb", "KnowledgeBase"),
    "Need": ("models", "Need"),
    "Normalised": ("profile", "Normalised"),
    "Ontology": ("ontology", "Ontology"),
    "Overflow": ("models", "Overflow"),
    "PlanStats": ("planner", "PlanStats"),
    "Profile": ("schema", "Profile"),
    "Progress": ("tracking", "Progress"),
    "Provenance": ("models", "Provenance"),
    "Recommendation": ("models", "Recommendation"),
    "Resolution": ("models", "Resolution"),
    "Result": ("models", "Result"),
    "Revision": ("tracking", "Revision"),
    "Route": ("models", "Route"),
    "Scale": ("ontology", "Scale"),
    "SchoolFlag": ("planner", "SchoolFlag"),
    "SchoolProfile": ("planner", "SchoolProfile"),
    "Scores": ("models", "Scores"),
    "Step": ("models", "Step"),
    "StepMark": ("models", "StepMark"),
    "StepProgress": ("tracking", "StepProgress"),
    "Store": ("store", "Store"),
    "Suggester": ("suggest", "Suggester"),
    "TeamSupport": ("planner", "TeamSupport"),
    "TraceEntry": ("models", "TraceEntry"),
    "Unmet": ("models", "Unmet"),
    "after_texts": ("tracking", "after_texts"),
    "build_route": ("route", "build_route"),
    "check_kb": ("loader", "check_kb"),
    "create_app": ("service", "create_app"),
    "default_kb_path": ("loader", "default_kb_path"),
    "load_kb": ("loader", "load_kb"),
    "load_tokens": ("service", "load_tokens"),
    "normalise": ("profile", "normalise"),
    "parse_profile": ("profile", "parse_profile"),
    "plan": ("route", "plan"),
    "period_hours": ("period", "period_hours"),
    "plan_cohort": ("planner", "plan_cohort"),
    "progress": ("tracking", "progress"),
    "read_marks": ("tracking", "read_marks"),
    "profile_schema": ("cli_kb", "profile_schema"),
    "read_profile_file": ("profile", "read_profile_file"),
    "render": ("export", "render"),
    "revise": ("tracking", "revise"),
    "route_graph": ("route", "route_graph"),
    "school_year": ("route", "school_year"),
    "synthetic_profiles": ("synthetic", "synthetic_profiles"),
}

__all__ = [
    "BACKENDS",
    "EXPORT_FORMATS",
    "BackendLimitError",
    "BatchRecorder",
    "Cohort",
    "CohortPlan",
    "CompetencyChange",
    "Conflict",
    "Deficit",
    "DeficitEngineError",
    "Dropped",
    "Effectiveness",
    "Engine",
    "EvaluationError",
    "FiringLimitError",
    "Issue",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "MarksError",
    "MatchBudgetError",
    "Need",
    "Normalised",
    "Ontology",
    "Overflow",
    "PlanStats",
    "Profile",
    "ProfileError",
    "Progress",
    "Provenance",
    "Recommendation",
    "Resolution",
    "Result",
    "Revision",
    "Route",
    "Scale",
    "SchoolFlag",
    "SchoolProfile",
    "Scores",
    "SourceError",
    "Step",
    "StepMark",
    "StepProgress",
    "Store",
    "Suggester",
    "TeamSupport",
    "TraceEntry",
    "UnknownIdError",
    "Unmet",
    "UsageError",
    "WrongTypeError",
    "after_texts",
    "build_route",
    "check_kb",
    "create_app",
    "default_kb_path",
    "load_kb",
    "load_tokens",
    "normalise",
    "parse_profile",
    "period_hours",
    "plan",
    "plan_cohort",
    "profile_schema",
    "progress",
    "read_marks",
    "read_profile_file",
    "render",
    "revise",
    "route_graph",
    "school_year",
    "synthetic_profiles",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'deficit_engine' has no attribute {name!r}") from None
    value = getattr(import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
