"""The authoring loop's test support: the Gherkin step library and its runner.

* :mod:`deficit_engine.testing.plugin` -- the pytest plugin (entry point
  ``pytest11``) with the Russian and English steps listed in docs/authoring.md;
* :func:`coverage` -- the rule coverage a pytest session collected, per KB;
* :func:`run_features` -- what ``deficit-engine test`` runs: scenarios in
  process, each scenario's result, then the rule coverage.

Importing this package is cheap: the engine is imported only when a scenario
evaluates a profile.
"""

from ._state import KB_ENV, RuleCoverage, ScenarioState, coverage

__all__ = ["KB_ENV", "RuleCoverage", "ScenarioState", "coverage", "run_features"]


def __getattr__(name: str) -> object:
    if name == "run_features":
        from .runner import run_features

        return run_features
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
