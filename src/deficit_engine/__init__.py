"""deficit_engine: professional deficits of teachers, inferred by rules, routed as an ИОМ.

The public API is what this module exports; everything else is internal.
"""

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
from .ontology import Ontology, Scale
from .profile import Normalised, normalise, parse_profile, read_profile_file
from .schema import Profile

__all__ = [
    "DeficitEngineError",
    "EvaluationError",
    "FiringLimitError",
    "Issue",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Normalised",
    "Ontology",
    "Profile",
    "ProfileError",
    "Scale",
    "SourceError",
    "check_kb",
    "default_kb_path",
    "load_kb",
    "normalise",
    "parse_profile",
    "read_profile_file",
]

__version__ = "0.1.0"
