"""Static analysis of a rule set, in the manner of Drools' verifier.

:func:`analyse` reads a validated :class:`~deficit_engine.kb.KnowledgeBase`
and reports, each as an :class:`~deficit_engine.errors.Issue` with the rule's
``file:line:col``:

* ``unreachable-rule`` -- a rule that can never fire: a pattern whose
  conditions no fact can satisfy (``score_pct: {lt: 0}``, an empty ``in``, a
  ``between`` outside 0..100, a level and a score band that the scale makes
  disjoint, a competency outside the named group), or a pattern on a fact
  type that nothing provides or that no reachable rule asserts in a matching
  shape (``deficit: {severity: low}`` when no rule asserts a low deficit);
* ``dead-alternative`` / ``vacuous-not`` -- an ``any:`` alternative that can
  never match; a ``not:`` pattern that can never match (so it always holds);
* ``severity-conflict`` -- two rules that derive different severities for one
  competency over overlapping score bands (the Result keeps the most severe);
* ``gap`` -- per group, score bands below the top level of the scale where no
  unconditional deficit rule decides, as ranges;
* ``deficit-without-need`` -- deficits (severity, competencies) that no rule
  turns into a need, directly or through a chain of custom facts;
* ``unmet-by-construction`` -- needs that no catalogue item can ever serve
  (the resolver itself is asked, for every role the rule admits);
* ``rule-cycle`` -- rules that can feed each other through chaining;
* ``large-join`` -- three or more patterns of one fact type in one rule;
* ``unsourced-rule`` -- a rule without a ``source:`` (the document it rests on,
  or a note that it is the KB authors' own choice);
* ``columnar-fallback`` -- a rule the columnar cohort path cannot compile (a
  comparison on a boolean or list field, say): profiles it could fire on are
  diagnosed per profile.

All findings are warnings: the KB loads and evaluates as written, and the
engine's results stay well defined (negation cycles, the one construct
without a defined result, are rejected by :mod:`deficit_engine.rules` as an
error). ``deficit-engine check --strict`` makes warnings fail the check.

The package in three layers: :mod:`.intervals` (number bands and their algebra),
:mod:`.domains` (the values a pattern can match or an action assert), and
:mod:`.checks` (one function per finding, in a table), which read the shared
conclusions :mod:`.inputs` computes once.
"""

from __future__ import annotations

from ..errors import Issue
from ..kb import KnowledgeBase
from .checks import CHECKS, backend_limits, run_checks
from .inputs import Inputs

__all__ = ["CODES", "analyse"]

CODES = (
    "unreachable-rule",
    "dead-alternative",
    "vacuous-not",
    "severity-conflict",
    "gap",
    "deficit-without-need",
    "unmet-by-construction",
    "rule-cycle",
    "large-join",
    "unsourced-rule",
    "budget-join",
    "columnar-fallback",
)


def analyse(kb: KnowledgeBase) -> list[Issue]:
    """Static analysis of ``kb``'s rules: every finding as a warning Issue with its place.

    Parameters
    ----------
    kb : KnowledgeBase
        A validated knowledge base (:func:`~deficit_engine.loader.load_kb`).

    Returns
    -------
    list[Issue]
        Warnings, one of :data:`CODES` each, sorted by file, line and column;
        and ``backend-limit`` where durable_rules cannot build the rule set (a fact
        of the installed backend, not of the rules' meaning: not in the table).
    """
    if not kb.rules:
        return []
    return run_checks(Inputs.of(kb), (*CHECKS, backend_limits))
