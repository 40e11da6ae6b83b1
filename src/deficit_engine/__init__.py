"""deficit_engine: professional deficits of teachers, inferred by rules, routed as an ИОМ.

The public API is what this module exports; everything else is internal.
"""

from .engine import BACKENDS, Engine
from .errors import (
    DeficitEngineError,
    EvaluationError,
    FiringLimitError,
    Issue,
    KnowledgeBaseError,
    ProfileError,
    SourceError,
)
from .export import FORMATS as EXPORT_FORMATS
from .export import render
from .loader import KnowledgeBase, check_kb, default_kb_path, load_kb
from .models import Deficit, Need, Result, TraceEntry
from .ontology import Ontology, Scale
from .profile import Normalised, normalise, parse_profile, read_profile_file
from .resolve import Recommendation, Resolution, Unmet, resolve
from .route import Conflict, Overflow, Route, Step, build_route, plan, route_graph, school_year
from .schema import Profile
from .synthetic import synthetic_profiles

__all__ = [
    "BACKENDS",
    "EXPORT_FORMATS",
    "Conflict",
    "Deficit",
    "DeficitEngineError",
    "Engine",
    "EvaluationError",
    "FiringLimitError",
    "Issue",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Need",
    "Normalised",
    "Ontology",
    "Overflow",
    "Profile",
    "ProfileError",
    "Recommendation",
    "Resolution",
    "Result",
    "Route",
    "Scale",
    "SourceError",
    "Step",
    "TraceEntry",
    "Unmet",
    "build_route",
    "check_kb",
    "default_kb_path",
    "load_kb",
    "normalise",
    "parse_profile",
    "plan",
    "read_profile_file",
    "render",
    "resolve",
    "route_graph",
    "school_year",
    "synthetic_profiles",
]

__version__ = "0.1.0"
