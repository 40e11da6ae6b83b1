"""The Result of one evaluation: the diagnosis, the resolution and the route.

:class:`Result` is what ``Engine.evaluate`` returns and what cohort runs send
between processes. Its ``to_dict``/``to_json`` are the one JSON writer of a
Result; lists are in a deterministic order, so the same inputs give
byte-identical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .diagnosis import Deficit, Fact, Need, Scores, TraceEntry, _Value

__all__ = ["Result"]


@dataclass(frozen=True)
class Result(_Value):
    """What ``Engine.evaluate`` returns for one profile."""

    profile: str
    deficits: tuple[Deficit, ...]
    needs: tuple[Need, ...]
    facts: tuple[Fact, ...]  # custom facts asserted by rules (not deficit/need)
    trace: tuple[TraceEntry, ...]
    recommendations: tuple[dict[str, Any], ...] = ()
    unmet: tuple[dict[str, Any], ...] = ()
    route: dict[str, Any] | None = None
    errors: tuple[str, ...] = ()  # set when the profile could not be evaluated (batches)
    #: The normalised scores the diagnosis read (None for a Result that failed). Not
    #: in to_dict: the Result's JSON is a published contract and stays as it was.
    scores: Scores | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """One flat tuple per Result (its parts as plain tuples, rebuilt on load): a
        Result holds a hundred small value objects, and a reduce call for each was
        most of the cost of sending Results between processes."""
        return (
            _rebuild_result,
            (
                self.profile,
                tuple(
                    (d.competency, d.group, d.severity, d.score_pct, d.rule) for d in self.deficits
                ),
                tuple((n.kind, n.competency, n.filters, n.rule) for n in self.needs),
                self.facts,
                tuple((t.rule, t.matched, t.asserted) for t in self.trace),
                self.recommendations,
                self.unmet,
                self.route,
                self.errors,
                None
                if (s := self.scores) is None
                else (s.competency_pct, s.group_pct, s.competency_level, s.group_level),
            ),
        )

    @classmethod
    def failed(cls, profile: str, errors: Sequence[str]) -> Result:
        """The Result of a profile that could not be evaluated, with the reasons."""
        return cls(profile, (), (), (), (), errors=tuple(errors))

    @property
    def fired(self) -> list[str]:
        """Ids of the rules that fired, each once, in first-firing order."""
        seen: dict[str, None] = {}
        for entry in self.trace:
            seen.setdefault(entry.rule, None)
        return list(seen)

    def deficit(self, competency: str) -> Deficit | None:
        for d in self.deficits:
            if d.competency == competency:
                return d
        return None

    def to_dict(self, trace: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "profile": self.profile,
            "deficits": [d.to_dict() for d in self.deficits],
            "needs": [n.to_dict() for n in self.needs],
            "facts": list(self.facts),
            "recommendations": list(self.recommendations),
            "unmet": list(self.unmet),
        }
        if self.route is not None:
            out["route"] = self.route
        if self.errors:
            out["errors"] = list(self.errors)
        if trace:
            out["trace"] = [t.to_dict() for t in self.trace]
        return out

    def to_json(self, trace: bool = True, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(trace), ensure_ascii=False, indent=indent)


def _rebuild_result(
    profile: str,
    deficits: tuple[tuple[Any, ...], ...],
    needs: tuple[tuple[Any, ...], ...],
    facts: tuple[Fact, ...],
    trace: tuple[tuple[Any, ...], ...],
    recommendations: tuple[dict[str, Any], ...],
    unmet: tuple[dict[str, Any], ...],
    route: dict[str, Any] | None,
    errors: tuple[str, ...],
    scores: tuple[Any, ...] | None,
) -> Result:
    return Result(
        profile,
        tuple(Deficit(*d) for d in deficits),
        tuple(Need(*n) for n in needs),
        facts,
        tuple(TraceEntry(*t) for t in trace),
        recommendations,
        unmet,
        route,
        errors,
        None if scores is None else Scores(*scores),
    )
