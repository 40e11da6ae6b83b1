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
from .loader import KnowledgeBase, check_kb, default_kb_path, load_kb
from .models import Deficit, Need, Result, TraceEntry
from .ontology import Ontology, Scale
from .profile import Normalised, normalise, parse_profile, read_profile_file
from .schema import Profile
from .synthetic import synthetic_profiles

__all__ = [
    "BACKENDS",
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
    "Profile",
    "ProfileError",
    "Result",
    "Scale",
    "SourceError",
    "TraceEntry",
    "check_kb",
    "default_kb_path",
    "load_kb",
    "normalise",
    "parse_profile",
    "read_profile_file",
    "synthetic_profiles",
]

__version__ = "0.1.0"
