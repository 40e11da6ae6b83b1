"""What the diagnosis finds: deficits, needs, the trace of firings, the normalised scores.

These are the first half of a :class:`~deficit_engine.models.Result`, made by the
engine from the rules' derived facts. Every type converts to a plain JSON-ready
dict with stable keys, so the same inputs give byte-identical JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Deficit", "Fact", "Need", "Scores", "TraceEntry", "fact_sort_key"]

#: A fact as the rules see it: a ``type`` and its fields.
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
    """A fact's canonical JSON: the sort key that puts facts in a fixed order.

    Parameters
    ----------
    fact : dict
        A fact (JSON-ready values).

    Returns
    -------
    str
        The fact as JSON with sorted keys.
    """
    return json.dumps(fact, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Deficit(_Value):
    """A professional deficit: the most severe one the rules derived for a competency."""

    competency: str
    group: str | None
    severity: str
    score_pct: float | None
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """The deficit as a JSON-ready dict."""
        return {
            "competency": self.competency,
            "group": self.group,
            "severity": self.severity,
            "score_pct": self.score_pct,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Need(_Value):
    """What a rule asked for: a programme, a mentor or a format, with its filters."""

    kind: str
    competency: str | None
    filters: tuple[tuple[str, Any], ...]
    rule: str

    def get(self, name: str, default: Any = None) -> Any:
        """The value of the filter ``name``, or ``default``."""
        return dict(self.filters).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """The need as a JSON-ready dict: kind, competency, the filters, rule."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.competency is not None:
            out["competency"] = self.competency
        out.update(self.filters)
        out["rule"] = self.rule
        return out


@dataclass(frozen=True)
class TraceEntry(_Value):
    """One firing: the rule, the facts it matched and the facts it asserted."""

    rule: str
    matched: tuple[Fact, ...]
    asserted: tuple[Fact, ...]

    def to_dict(self) -> dict[str, Any]:
        """The firing as a JSON-ready dict."""
        return {"rule": self.rule, "matched": list(self.matched), "asserted": list(self.asserted)}


@dataclass(frozen=True)
class Scores:
    """A profile's scores in percent, rolled up, with their levels.

    What the diagnosis read, kept on the Result so that renderers show the same
    numbers without normalising the profile again.
    """

    competency_pct: dict[str, float]  # competency id -> score_pct (own result or indicator roll-up)
    group_pct: dict[str, float]  # group id -> plain mean of its competencies' score_pct
    competency_level: dict[str, str]  # competency id -> level id on the KB's scale
    group_level: dict[str, str]  # group id -> level id
