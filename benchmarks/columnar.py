"""Diagnose-only throughput: the columnar path against the fast backend and hand-coded numpy.

Everything is measured in the same run, as CPU seconds of this one process (so the
figures are per core), on a seeded synthetic cohort from the shipped ontology:

* the shipped rules (all 49): the fast backend's inference per profile, the columnar
  path's ``derive`` over the whole cohort, and ``diagnose`` / ``diagnose_many`` end to
  end (validation, normalising and base facts included, Results built);
* the 11 deficit rules of ``rules/10_deficits.yaml`` alone, a KB of their own: the fast
  backend, the columnar path, and the same rules written by hand as numpy expressions
  over a dense score matrix. The three are checked to give the same most severe
  deficit per person and competency before any figure is printed.

    python benchmarks/columnar.py [--profiles 20000] [--seed 16]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.cohort import COLUMNAR_CHUNK
from deficit_engine.engine import base_facts
from deficit_engine.kb import KnowledgeBase
from deficit_engine.models import Fact
from deficit_engine.profile import Normalised, normalise
from deficit_engine.rules import SEVERITIES

Matrix = npt.NDArray[Any]
RANK = {s: i for i, s in enumerate(SEVERITIES)}
NONE = len(SEVERITIES)  # no deficit


def cpu(step: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of ``step()`` in this process, and what it returned, with the cyclic GC
    paused as batch workers pause it (else collections walk the whole cohort held here)."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        value = step()
        return time.process_time() - start, value
    finally:
        gc.enable()


def derive_chunked(engine: Engine, cohort: Sequence[Sequence[Fact]]) -> list[Any]:
    """The columnar path as a batch runs it: chunks of ``COLUMNAR_CHUNK`` profiles."""
    out: list[Any] = []
    for start in range(0, len(cohort), COLUMNAR_CHUNK):
        out.extend(
            engine.columnar.derive(cohort[start : start + COLUMNAR_CHUNK], engine.firing_limit)
        )
    return out


class Dense:
    """A cohort's base facts as dense matrices: what hand-coded numpy starts from."""

    def __init__(self, kb: KnowledgeBase, cohort: Sequence[Sequence[Fact]]) -> None:
        onto = kb.ontology
        self.comps = list(onto.competencies)
        self.groups = sorted({onto.group_of(c) for c in self.comps})
        self.indicators = sorted(onto.indicator_parent)
        col = {c: i for i, c in enumerate(self.comps)}
        gcol = {g: i for i, g in enumerate(self.groups)}
        icol = {x: i for i, x in enumerate(self.indicators)}
        n = len(cohort)
        self.score = np.full((n, len(self.comps)), np.nan)
        self.group_score = np.full((n, len(self.groups)), np.nan)
        self.indicator = np.full((n, len(self.indicators)), np.nan)
        self.request = np.zeros((n, len(self.comps)), dtype=bool)
        self.manager = np.zeros(n, dtype=bool)
        for p, facts in enumerate(cohort):
            for f in facts:
                t = f["type"]
                if t == "result":
                    self.score[p, col[f["competency"]]] = f["score_pct"]
                elif t == "group_result":
                    self.group_score[p, gcol[f["group"]]] = f["score_pct"]
                elif t == "indicator_result":
                    self.indicator[p, icol[f["indicator"]]] = f["score_pct"]
                elif t == "request":
                    self.request[p, col[f["competency"]]] = True
                elif t == "person":
                    self.manager[p] = f["role"] == "manager"
        self.comp_group = np.array([gcol[onto.group_of(c)] for c in self.comps])
        self.parent = np.zeros((len(self.indicators), len(self.comps)), dtype=bool)
        for x, i in icol.items():
            self.parent[i, col[onto.indicator_parent[x]]] = True
        self.col = col
        self.icol = icol
        self.management = np.array([onto.group_of(c) == "management" for c in self.comps])


def hand_coded(d: Dense) -> Matrix:
    """The 11 deficit rules by hand: the most severe deficit rank per person x competency.

    The scale (scale.yaml): critical below 30, low below 50, partial below 75.
    """
    s = d.score
    has = ~np.isnan(s)
    with np.errstate(invalid="ignore"):
        critical, low = has & (s < 30), has & (s >= 30) & (s < 50)
        partial = has & (s >= 50) & (s < 75)
        band_30_75 = has & (s >= 30) & (s < 75)
        borderline = has & (s >= 75) & (s < 85)
        g = d.group_score[:, d.comp_group]
        group_critical = g < 30
        group_weak = g < 50
        ind_critical = (d.indicator < 30).astype(np.int8) @ d.parent.astype(np.int8) > 0
        first_aid = d.indicator[:, d.icol["normative.safety.first_aid"]] < 50
    best = np.full(s.shape, NONE, dtype=np.int8)

    def mark(mask: Matrix, severity: str) -> None:
        np.minimum(best, np.where(mask, RANK[severity], NONE), out=best)

    mark(critical, "critical")
    mark(low, "high")
    mark(partial, "moderate")
    for comp in ("normative.safety", "normative.rights"):
        column = np.zeros_like(critical)
        column[:, d.col[comp]] = band_30_75[:, d.col[comp]]
        mark(column, "high")
    safety = d.col["normative.safety"]
    aid = np.zeros_like(critical)
    aid[:, safety] = first_aid & has[:, safety] & ~critical[:, safety]
    mark(aid, "high")
    mark(d.manager[:, None] & d.management[None, :] & partial, "high")
    mark(group_critical & partial, "high")
    mark(group_weak & borderline, "low")
    mark(ind_critical & has & (np.nan_to_num(s, nan=-1) >= 50), "moderate")
    mark(d.request & borderline, "low")
    return best


def severities(kb: KnowledgeBase, results: Sequence[Any]) -> Matrix:
    """The most severe deficit rank per person x competency, from Results."""
    col = {c: i for i, c in enumerate(kb.ontology.competencies)}
    best = np.full((len(results), len(col)), NONE, dtype=np.int8)
    for p, result in enumerate(results):
        for deficit in result.deficits:
            best[p, col[deficit.competency]] = RANK[deficit.severity]
    return best


def deficit_rules_kb(repo: Path, into: Path) -> Path:
    shutil.copytree(repo / "ontology", into / "ontology")
    (into / "rules").mkdir()
    shutil.copy(repo / "rules" / "10_deficits.yaml", into / "rules")
    return into


def line(label: str, seconds: float, n: int, base: float | None = None) -> str:
    per = seconds / n * 1e6
    ratio = f"   x{seconds / base:,.2f} of hand-coded numpy" if base else ""
    return f"  {label:<46} {per:>9.2f} µs/profile {n / seconds:>12,.0f} profiles/s{ratio}"


def fast_inference(engine: Engine, prepared: Sequence[tuple[Normalised, list[Fact]]]) -> Any:
    return [engine._infer(norm, facts) for norm, facts in prepared]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    n = args.profiles
    repo = Path(__file__).resolve().parents[1]
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}; {n:,} profiles, "
        f"seed {args.seed}; CPU time of one process"
    )
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, n, seed=args.seed))
    t_prep, prepared = cpu(
        lambda: [
            (norm, base_facts(norm, engine.kb))
            for norm in (normalise(engine.parse(p), engine.kb) for p in profiles)
        ]
    )
    cohort = [facts for _norm, facts in prepared]
    engine.columnar  # noqa: B018 - compiled once per engine, before the clock starts
    print("shipped rules (49):")
    print(line("validate, normalise, base facts", t_prep, n))
    t_fast, _ = cpu(lambda: fast_inference(engine, prepared))
    print(line("fast backend: inference", t_fast, n))
    t_col, derived = cpu(lambda: derive_chunked(engine, cohort))
    undecided = sum(d is None for d in derived)
    print(line("columnar: derive (chunks of 2 048)", t_col, n) + f"   x{t_fast / t_col:.1f} faster")
    print(f"  {'':46} {undecided:,} profiles ({undecided / n:.1%}) left to the per-profile engine")
    t_one, reference = cpu(lambda: [engine.diagnose(p)[1] for p in profiles])
    print(line("fast backend: diagnose, end to end", t_one, n))
    t_many, many = cpu(lambda: engine.diagnose_many(profiles))
    print(line("columnar: diagnose_many, end to end", t_many, n) + f"   x{t_one / t_many:.1f}")
    same = all(
        (a.deficits, a.needs, a.facts) == (b.deficits, b.needs, b.facts)
        for (_p, a), b in zip(many, reference, strict=True)
    )
    print(f"  identical deficits, needs and facts: {same}")
    with tempfile.TemporaryDirectory() as tmp:
        small = Engine.from_path(deficit_rules_kb(repo, Path(tmp) / "kb"), backend="fast")
        print(f"deficit rules alone ({len(small.kb.rules)}, rules/10_deficits.yaml):")
        t_dense, dense = cpu(lambda: Dense(small.kb, cohort))
        t_hand, hand = cpu(lambda: hand_coded(dense))
        t_fast2, _ = cpu(lambda: fast_inference(small, prepared))
        t_col2, got = cpu(lambda: small.diagnose_many(profiles))
        t_derive2, _ = cpu(lambda: derive_chunked(small, cohort))
        reference2 = [small.diagnose(p)[1] for p in profiles]
        agree = np.array_equal(severities(small.kb, [r for _p, r in got]), hand) and (
            np.array_equal(severities(small.kb, reference2), hand)
        )
        print(f"  identical most severe deficits (columnar, fast, hand-coded): {agree}")
        print(line("hand-coded numpy (dense matrix given)", t_hand, n))
        print(line("  building its dense matrix from the facts", t_dense, n))
        print(line("columnar: derive (chunks of 2 048)", t_derive2, n, t_hand))
        print(line("fast backend: inference", t_fast2, n, t_hand))
        print(line("columnar: diagnose_many, end to end", t_col2, n))
    return 0 if same and agree else 1


if __name__ == "__main__":
    sys.exit(main())
