"""Frozen value types of a Result: deficits, needs, facts, trace entries.

Everything converts to plain JSON-ready dicts with stable keys; lists are in
a deterministic order, so the same inputs give byte-identical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Deficit", "Need", "Result", "TraceEntry", "fact_sort_key"]

Fact = dict[str, Any]


class _Value:
    """Frozen value types pickle as their constructor call: an order of magnitude
    faster to unpickle than the default path (Results cross process boundaries
    in cohort runs)."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))  # type: ignore[arg-type]
        return (type(self), tuple(getattr(self, name) for name in names))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def fact_sort_key(fact: Fact) -> str:
    return json.dumps(fact, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Deficit(_Value):
    competency: str
    group: str | None
    severity: str
    score_pct: float | None
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "competency": self.competency,
            "group": self.group,
            "severity": self.severity,
            "score_pct": self.score_pct,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Need(_Value):
    kind: str
    competency: str | None
    filters: tuple[tuple[str, Any], ...]
    rule: str

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.filters).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.competency is not None:
            out["competency"] = self.competency
        out.update(self.filters)
        out["rule"] = self.rule
        return out


@dataclass(frozen=True)
class TraceEntry(_Value):
    rule: str
    matched: tuple[Fact, ...]
    asserted: tuple[Fact, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "matched": list(self.matched), "asserted": list(self.asserted)}


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
    )
