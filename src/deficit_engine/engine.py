"""The facade users import: ``Engine.from_path(...).evaluate(profile)``."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .compiler import compile_rules
from .inference import (
    DEFAULT_FIRING_LIMIT,
    DurableMatcher,
    FactStore,
    PythonMatcher,
    durable_available,
    durable_import_error,
    run,
)
from .loader import KnowledgeBase, load_kb
from .models import Deficit, Fact, Need, Result, TraceEntry, fact_sort_key
from .profile import Normalised, normalise, parse_profile
from .rules import NEED_KINDS, SEVERITIES
from .schema import Profile

__all__ = ["BACKENDS", "Engine"]

BACKENDS = ("durable", "python")

_warned = False


def _default_backend() -> str:
    global _warned
    if durable_available():
        return "durable"
    if not _warned:
        _warned = True
        warnings.warn(
            f"durable_rules is unavailable ({durable_import_error()}); "
            "using the pure-Python backend, which gives the same results",
            RuntimeWarning,
            stacklevel=3,
        )
    return "python"


def base_facts(norm: Normalised, kb: KnowledgeBase) -> list[Fact]:
    """The facts a profile provides, in a fixed order (DESIGN.md section 5)."""
    person = norm.profile.person
    facts: list[Fact] = []
    pfact: Fact = {
        "type": "person",
        "role": person.role,
        "experience_years": float(round(person.experience_years, 4)),
        "subjects": list(person.subjects),
    }
    if person.organization is not None:
        pfact["organization"] = person.organization
    if person.municipality is not None:
        pfact["municipality"] = person.municipality
    facts.append(pfact)
    onto = kb.ontology
    for comp, pct in norm.competency_pct.items():
        facts.append(
            {
                "type": "result",
                "competency": comp,
                "group": onto.group_of(comp),
                "score_pct": pct,
                "level": norm.competency_level[comp],
            }
        )
    for result in norm.profile.results:
        if result.indicator is not None:
            comp = onto.indicator_parent[result.indicator]
            pct = float(round(100.0 * result.score / result.max, 2))
            facts.append(
                {
                    "type": "indicator_result",
                    "indicator": result.indicator,
                    "competency": comp,
                    "group": onto.group_of(comp),
                    "score_pct": pct,
                    "level": kb.scale.level_of(pct),
                }
            )
    for group, pct in norm.group_pct.items():
        facts.append(
            {
                "type": "group_result",
                "group": group,
                "score_pct": pct,
                "level": norm.group_level[group],
            }
        )
    for comp in dict.fromkeys(norm.profile.requests):
        facts.append({"type": "request", "competency": comp, "group": onto.group_of(comp)})
    return facts


class Engine:
    """A knowledge base compiled for evaluation.

    Thread-safe: ``evaluate`` may be called from several threads at once (the
    durable backend is serialised by a lock; the Python backend needs none).
    Several engines with different KBs can live in one process.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        backend: str | None = None,
        firing_limit: int = DEFAULT_FIRING_LIMIT,
    ) -> None:
        if backend is None:
            backend = _default_backend()
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if firing_limit < 1:
            raise ValueError("firing_limit must be at least 1")
        self.kb = kb
        self.backend = backend
        self.firing_limit = firing_limit
        self.strata = compile_rules(kb.rules)
        self._lock = threading.Lock()
        self._durable = DurableMatcher(self.strata, kb.rules) if backend == "durable" else None

    @classmethod
    def from_path(
        cls,
        kb_dir: str | Path | None = None,
        *,
        backend: str | None = None,
        firing_limit: int = DEFAULT_FIRING_LIMIT,
    ) -> Engine:
        """Load, validate and compile a KB folder (default: the shipped KB)."""
        return cls(load_kb(kb_dir), backend=backend, firing_limit=firing_limit)

    @property
    def rules(self) -> list[Any]:
        return list(self.kb.rules)

    def parse(self, profile: Mapping[str, Any] | Profile, source: str = "") -> Profile:
        return parse_profile(profile, self.kb, source)

    def evaluate(self, profile: Mapping[str, Any] | Profile) -> Result:
        """Diagnose one profile: deficits, needs, custom facts and the trace."""
        prof = self.parse(profile)
        norm = normalise(prof, self.kb)
        facts = base_facts(norm, self.kb)
        enrich = self._enricher(norm)
        if self._durable is not None:
            with self._lock:
                store, trace = run(self.strata, facts, self._durable, enrich, self.firing_limit)
        else:
            store, trace = run(
                self.strata, facts, PythonMatcher(self.strata), enrich, self.firing_limit
            )
        return self._result(prof, store, trace)

    def _enricher(self, norm: Normalised) -> Any:
        onto = self.kb.ontology

        def enrich(fact: Fact) -> Fact:
            if fact["type"] != "deficit":
                return fact
            comp = fact.get("competency")
            out: Fact = {"type": "deficit", "competency": comp}
            if isinstance(comp, str) and comp in onto.competencies:
                out["group"] = onto.group_of(comp)
            out["severity"] = fact.get("severity")
            if isinstance(comp, str) and comp in norm.competency_pct:
                out["score_pct"] = norm.competency_pct[comp]
            return out

        return enrich

    def _result(self, profile: Profile, store: FactStore, trace: list[TraceEntry]) -> Result:
        first_rule: dict[int, str] = {}
        for entry in trace:
            for fact in entry.asserted:
                first_rule.setdefault(id(fact), entry.rule)
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        best: dict[str, tuple[int, Fact, str]] = {}
        needs: list[Need] = []
        custom: list[Fact] = []
        for fact in store.facts:
            ftype = fact["type"]
            if ftype == "deficit":
                comp = str(fact["competency"])
                r = rank.get(str(fact.get("severity")), len(rank))
                if comp not in best or r < best[comp][0]:
                    best[comp] = (r, fact, first_rule.get(id(fact), ""))
            elif ftype == "need":
                filters = tuple(
                    (k, v) for k, v in fact.items() if k not in ("type", "kind", "competency")
                )
                needs.append(
                    Need(
                        str(fact["kind"]),
                        fact.get("competency"),
                        filters,
                        first_rule.get(id(fact), ""),
                    )
                )
            elif fact.get("type") not in (
                "person",
                "result",
                "indicator_result",
                "group_result",
                "request",
            ):
                custom.append(fact)
        deficits = [
            Deficit(comp, f.get("group"), str(f.get("severity")), f.get("score_pct"), rule)
            for comp, (_r, f, rule) in best.items()
        ]
        order = self.kb.ontology.order_key
        deficits.sort(
            key=lambda d: (
                rank.get(d.severity, 99),
                order(d.competency) if d.competency in self.kb.ontology.competencies else 10**6,
                d.competency,
            )
        )
        kind_rank = {k: i for i, k in enumerate(NEED_KINDS)}
        needs.sort(
            key=lambda n: (
                n.competency or "",
                kind_rank.get(n.kind, 9),
                fact_sort_key(dict(n.filters)),
            )
        )
        custom.sort(key=fact_sort_key)
        return Result(profile.id, tuple(deficits), tuple(needs), tuple(custom), tuple(trace))
