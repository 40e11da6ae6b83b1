"""Forward chaining: the driver, the fact store, the exact condition semantics, and the
three matchers (backends) it drives.

Imports go one way, from the driver down to the store::

    driver ─┐
    python ─┼─> semantics ─> store
    fast ───┼─> compiled ──> semantics
    durable ┘   (durable also uses compiled; only durable imports durable_rules)

* ``store``: the working memory (:class:`FactStore`), what a matcher reports, and
  the evaluation's :class:`Budget` of matching work.
* ``semantics``: the reference meaning of conditions (:func:`holds`,
  :func:`matches`, :func:`negation_blocks`).
* ``compiled``: a rule set compiled to closures and generated alpha functions
  (:class:`Compiled`), answering as ``semantics`` does.
* ``python``, ``fast``, ``durable``: the backends (:class:`PythonMatcher`,
  :class:`FastMatcher`, :class:`DurableMatcher`).
* ``driver``: :func:`run`, the agenda, strata, firing, the trace and the limit.
* ``columnar``: :class:`ColumnarRules`, the same rules over a whole cohort's facts as
  numpy columns (no driver: it gives facts and first asserters, not a trace).
"""

from __future__ import annotations

from .columnar import ColumnarRules
from .compiled import Compiled
from .driver import BUDGET_PER_FIRING, DEFAULT_FIRING_LIMIT, Matcher, run
from .durable import DurableMatcher, durable_available, durable_import_error
from .fast import FastMatcher
from .generated import Completion
from .python import PythonMatcher
from .semantics import holds, matches, negation_blocks
from .store import Activation, Budget, FactStore, fact_key

__all__ = [
    "BUDGET_PER_FIRING",
    "DEFAULT_FIRING_LIMIT",
    "Activation",
    "Budget",
    "ColumnarRules",
    "Compiled",
    "Completion",
    "DurableMatcher",
    "FactStore",
    "FastMatcher",
    "Matcher",
    "PythonMatcher",
    "durable_available",
    "durable_import_error",
    "fact_key",
    "holds",
    "matches",
    "negation_blocks",
    "run",
]
