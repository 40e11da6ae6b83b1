"""Diagnose-only throughput: the columnar path against the fast backend and hand-coded numpy.

Everything is measured in the same run, as CPU seconds of this one process (so the
figures are per core), on a seeded synthetic cohort from the shipped ontology.

The *diagnose stage* of the columnar path is ``ColumnarRules.derive_columns``: the
cohort's base facts as tables in (``BaseColumns``), the derived facts as columns out
(``DerivedColumns``: per rule template the profile numbers and field columns, and the
mask of profiles left to the per-profile engine), in chunks of ``--chunk`` profiles.
What surrounds it is reported on its own lines: validating and normalising the
profiles and making their base facts, building the tables from the base facts
(``base_columns``), making the per-profile fact dicts (``DerivedColumns.facts``), and
``diagnose_many`` end to end (Results made).

* the shipped rules (all 52): the diagnose stage on the dense path (every shipped
  rule compiles to it: ``inference/dense.py``) in its two halves, the tensors
  (``DenseRules.tensors``) and laying them out as FactBlocks (``DenseFacts.outcome``);
  the same stage on the generic fact tables (``derive_columns(..., dense=False)``);
  its ratio to the fast backend's inference and to the 52 rules written by hand as
  numpy (``benchmarks/handcoded_numpy.py``) at two boundaries: given its dense
  matrices (whole cohort, and in the stage's chunks), and at the stage's own
  boundary (the same tables in, every derived fact located out, in the stage's
  chunks and whole: the one the x3 target is judged on); checked to give the same
  deficits, needs and facts as the Results first; and ``diagnose`` /
  ``diagnose_many`` end to end;
* the 11 deficit rules of ``rules/10_deficits.yaml`` alone, a KB of their own: the
  diagnose stage, the fast backend, and the same rules written by hand as numpy
  expressions over a dense score matrix, with the ratio of the stage to them. The
  three are checked to give the same most severe deficit per person and competency.

The dense stage's two halves and the hand-coded numpy (both boundaries) are timed
``--repeats`` times, taking turns, and their medians printed: one timing on a shared
machine can jump several-fold. ``--against REV`` measures only the dense stage,
with ``inference/dense.py`` as it is at the git revision REV, or in the checkout at
the path REV (the rest of the package as it is here) and as it is in this tree,
their repeats interleaved in this one process: a before/after ratio from the same
run (and a check that both give identical FactBlocks).

    python benchmarks/columnar.py [--profiles 20000] [--seed 16] [--chunk 4096]
                                  [--against REV] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import handcoded_numpy
import numpy as np
import numpy.typing as npt

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.cohort import COLUMNAR_CHUNK
from deficit_engine.engine import base_facts
from deficit_engine.inference import dense as dense_module
from deficit_engine.inference.columnar import BaseColumns, DerivedColumns
from deficit_engine.inference.dense import DenseFacts, DenseRules
from deficit_engine.kb import KnowledgeBase
from deficit_engine.models import Fact
from deficit_engine.profile import Normalised, normalise
from deficit_engine.rules import SEVERITIES

Matrix = npt.NDArray[Any]
RANK = {s: i for i, s in enumerate(SEVERITIES)}
NONE = len(SEVERITIES)  # no deficit
DENSE_PY = "src/deficit_engine/inference/dense.py"


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


def tables(engine: Engine, cohort: Sequence[Sequence[Fact]], chunk: int) -> list[BaseColumns]:
    """The cohort's base facts as tables, one ``BaseColumns`` per chunk."""
    rules = engine.columnar
    return [rules.base_columns(cohort[at : at + chunk]) for at in range(0, len(cohort), chunk)]


def diagnose_stage(
    engine: Engine, chunks: Sequence[BaseColumns], dense: bool = True
) -> list[DerivedColumns]:
    """The diagnose stage: tables in, derived columns out, chunk by chunk."""
    rules, limit = engine.columnar, engine.firing_limit
    return [rules.derive_columns(base, limit, dense=dense) for base in chunks]


def dense_rules(engine: Engine) -> DenseRules:
    """The engine's rules on the dense path (the shipped ones all fit it)."""
    dense = engine.columnar.dense
    assert isinstance(dense, DenseRules), engine.columnar.dense_unfit
    return dense


def dense_tensors(engine: Engine, chunks: Sequence[BaseColumns]) -> list[DenseFacts]:
    """The dense stage's first half: every rule over the tensors, who asserted what first."""
    dense = dense_rules(engine)
    return [dense.tensors(base) for base in chunks]


def dense_blocks(engine: Engine, facts: Sequence[DenseFacts]) -> list[DerivedColumns]:
    """The dense stage's second half: the tensors laid out as FactBlocks (np.nonzero)."""
    return [chunk.outcome(engine.firing_limit) for chunk in facts]


SAME_NOTE = "same boundary as the stage, in its chunks"


def hand_at_boundary(kb: KnowledgeBase, chunks: Sequence[BaseColumns]) -> list[Any]:
    """The rules by hand as numpy at the stage's boundary, chunk by chunk: the tables
    in (matrices made from them), every derived fact located out."""
    return [handcoded_numpy.from_tables(kb, base) for base in chunks]


def hand_given(inputs: Sequence[handcoded_numpy.Inputs]) -> list[Any]:
    """The rules by hand as numpy on matrices given, one call per chunk."""
    return [handcoded_numpy.derive(d) for d in inputs]


def located_counts(sizes: Sequence[int], pids: Sequence[Sequence[Matrix]]) -> Matrix:
    """Per profile, how many derived facts a located output holds, given per chunk its
    size and its facts' profile numbers (per FactBlock, or per hand-coded fact kind):
    equal counts, with the hand-coded outcome equal to the Results, show both sides
    ended with the same facts."""
    per_chunk = [
        sum((np.bincount(pid, minlength=size) for pid in chunk), np.zeros(size, dtype=np.int64))
        for size, chunk in zip(sizes, pids, strict=True)
    ]
    return np.concatenate(per_chunk)


def interleaved(
    steps: Sequence[tuple[str, Callable[[Any], Any]]], repeats: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """Each step timed ``repeats`` times, the steps taking turns (each is given the
    previous step's value): per step the median CPU seconds and its last value. On a
    shared machine one timing now and then jumps several-fold (docs/performance.md);
    the median of a few does not."""
    spent: dict[str, list[float]] = {name: [] for name, _step in steps}
    values: dict[str, Any] = {}
    for _ in range(max(1, repeats)):
        previous = None
        for name, step in steps:
            seconds, previous = cpu(partial(step, previous))
            spent[name].append(seconds)
            values[name] = previous
    return {name: float(np.median(t)) for name, t in spent.items()}, values


def warm_up(engine: Engine, first: BaseColumns, cohort: Sequence[Sequence[Fact]]) -> None:
    """Each timed path run twice on the first chunk, untimed. The first large arrays a
    process allocates are fresh pages that fault in one by one, until the allocator
    keeps freed blocks for reuse; a batch of many chunks pays that once, not per chunk,
    and without this the first path timed pays it for all (measured: the tensors of
    the first of three repeats cost several times the third)."""
    for _ in range(2):
        dense_blocks(engine, dense_tensors(engine, [first]))
        diagnose_stage(engine, [first], dense=False)
        handcoded_numpy.derive(handcoded_numpy.Inputs(engine.kb, cohort))
        hand_at_boundary(engine.kb, [first])


def same_facts(a: Sequence[DerivedColumns], b: Sequence[DerivedColumns]) -> bool:
    """Whether two runs of the stage derived the same facts with the same rules."""

    def canonical(derived: Sequence[DerivedColumns]) -> list[Any]:
        return [
            None if facts is None else sorted(repr((r, list(f.items()))) for r, f in facts)
            for facts in fact_dicts(derived)
        ]

    return canonical(a) == canonical(b)


def same_blocks(a: Sequence[DerivedColumns], b: Sequence[DerivedColumns]) -> bool:
    """Whether two runs of the stage gave the very same output: the same decided
    profiles and strings, and the same FactBlocks in the same order, each with the
    same rule, field order, profile numbers and columns (dtype and values). Stricter
    than ``same_facts``: what consumes the blocks sees no difference at all."""

    def column_same(x: Any, y: Any) -> bool:
        return x.values.dtype == y.values.dtype and all(
            np.array_equal(p, q) for p, q in ((x.values, y.values), (x.present, y.present))
        )

    def block_same(x: Any, y: Any) -> bool:
        return (
            (x.type, x.rule, x.order) == (y.type, y.rule, y.order)
            and np.array_equal(x.pid, y.pid)
            and x.columns.keys() == y.columns.keys()
            and all(column_same(x.columns[k], y.columns[k]) for k in x.columns)
        )

    def chunk_same(x: DerivedColumns, y: DerivedColumns) -> bool:
        return (
            (x.n, x.strings, len(x.blocks)) == (y.n, y.strings, len(y.blocks))
            and np.array_equal(x.decided, y.decided)
            and all(block_same(p, q) for p, q in zip(x.blocks, y.blocks, strict=True))
        )

    return len(a) == len(b) and all(chunk_same(x, y) for x, y in zip(a, b, strict=True))


def fact_dicts(derived: Sequence[DerivedColumns]) -> list[Any]:
    """The derived facts as dicts per profile (None: left to the per-profile engine)."""
    return [facts for columns in derived for facts in columns.facts()]


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


def line(label: str, seconds: float, n: int, note: str = "") -> str:
    per = seconds / n * 1e6
    return f"  {label:<46} {per:>9.2f} µs/profile {n / seconds:>12,.0f} profiles/s   {note}"


def times(seconds: float, base: float, what: str) -> str:
    """``seconds`` as a multiple of ``base``: ``x2.50 of what``."""
    return f"x{seconds / base:,.2f} of {what}"


def fast_inference(engine: Engine, prepared: Sequence[tuple[Normalised, list[Fact]]]) -> Any:
    return [engine._infer(norm, facts) for norm, facts in prepared]


def dense_at(repo: Path, rev: str, into: Path) -> Any:
    """``inference/dense.py`` as it is at git revision ``rev``, or in the checkout
    (a worktree) at the path ``rev``, imported beside this tree's (its relative
    imports read this tree's modules)."""
    checkout = Path(rev)
    if checkout.is_dir():
        source = (checkout / DENSE_PY).read_text(encoding="utf-8")
    else:
        source = subprocess.run(
            ["git", "-C", str(repo), "show", f"{rev}:{DENSE_PY}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    path = into / "dense_against.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("deficit_engine.inference._against", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


def tensors_of(rules: Any, chunks: Sequence[BaseColumns]) -> list[Any]:
    """The dense stage's first half with ``rules`` (this tree's or another revision's)."""
    return [rules.tensors(base) for base in chunks]


def outcomes_of(facts: Sequence[Any], limit: int) -> list[DerivedColumns]:
    """The dense stage's second half on ``tensors_of``'s answer."""
    return [chunk.outcome(limit) for chunk in facts]


def same_rules_in(module: Any, rules: DenseRules) -> Any:
    """The compiled rules run by ``module``'s DenseFacts: the compiled form is shared
    (rebuilt by ``module`` it would be the same), only the running code differs."""
    other = object.__new__(module.DenseRules)
    other.__dict__.update(rules.__dict__)
    return other


def against(
    engine: Engine, cohort: Sequence[Sequence[Fact]], chunk: int, rev: str, repeats: int
) -> int:
    """The dense stage at ``rev`` and here, and the rules by hand as numpy, repeats
    interleaved: CPU µs per profile; 0 if both stages derived the same facts."""
    chunks = tables(engine, cohort, chunk)
    inputs = handcoded_numpy.Inputs(engine.kb, cohort)
    t_hand = t_same = 0.0
    repo = Path(__file__).resolve().parents[1]
    dense = dense_rules(engine)
    n, limit = sum(c.n for c in chunks), engine.firing_limit
    with tempfile.TemporaryDirectory() as tmp:
        runs = {rev: same_rules_in(dense_at(repo, rev, Path(tmp)), dense), "this tree": dense}
        spent = {name: [0.0, 0.0] for name in runs}
        outputs = {}
        for rules in runs.values():  # warm: the first large arrays fault in page by page
            rules.tensors(chunks[0]).outcome(limit)
        handcoded_numpy.derive(inputs)
        hand_at_boundary(engine.kb, chunks[:1])
        # per repeat, the stage's ratio to the hand-coded rules: matrices given, and at
        # the stage's boundary (tables in, facts located out, chunk by chunk)
        ratios: dict[str, list[float]] = {name: [] for name in runs}
        same_ratios: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            hand = cpu(partial(handcoded_numpy.derive, inputs))[0]
            t_hand += hand
            boundary = cpu(partial(hand_at_boundary, engine.kb, chunks))[0]
            t_same += boundary
            for name, rules in runs.items():
                t_tensors, facts = cpu(partial(tensors_of, rules, chunks))
                t_out, outputs[name] = cpu(partial(outcomes_of, facts, limit))
                spent[name][0] += t_tensors
                spent[name][1] += t_out
                ratios[name].append((t_tensors + t_out) / hand)
                same_ratios[name].append((t_tensors + t_out) / boundary)
    print(f"dense stage against {rev} ({repeats} repeats interleaved, mean CPU):")
    for name, (t_tensors, t_out) in spent.items():
        per = [t / repeats / n * 1e6 for t in (t_tensors, t_out, t_tensors + t_out)]
        print(
            f"  {name:<12} tensors {per[0]:6.2f}  outcome {per[1]:6.2f}  "
            f"stage {per[2]:6.2f} µs/profile  {n / (per[2] * n / 1e6):>10,.0f} profiles/s"
        )
    print(line("hand-coded numpy, all rules (matrices given)", t_hand / repeats, n))
    print(line("hand-coded numpy, tables -> facts located", t_same / repeats, n, SAME_NOTE))
    (old_t, old_o), (new_t, new_o) = spent.values()
    same = same_facts(*outputs.values())
    identical = same_blocks(*outputs.values())
    print(
        f"  this tree / {rev}: tensors x{new_t / old_t:.2f}, outcome x{new_o / old_o:.2f}, "
        f"stage x{(new_t + new_o) / (old_t + old_o):.2f}; same derived facts: {same} "
        f"(identical FactBlocks: {identical}); "
        f"stage {times(old_t + old_o, t_hand, 'hand-coded numpy')} at {rev}, "
        f"{times(new_t + new_o, t_hand, 'it')} here"
    )
    # the load of a shared machine varies within a run: the median of the repeats'
    # ratios (each from one repeat's back-to-back timings) is steadier than the means'
    (old_r, new_r) = (float(np.median(r)) for r in ratios.values())
    (old_s, new_s) = (float(np.median(r)) for r in same_ratios.values())
    print(
        f"  median of the {repeats} repeats: stage x{old_r:.2f} of hand-coded numpy "
        f"(matrices given) at {rev}, x{new_r:.2f} here; same boundary (the target): "
        f"x{old_s:.2f} at {rev}, x{new_s:.2f} here"
    )
    assert dense_module.DenseRules is DenseRules  # this tree's module is the one timed
    return 0 if same and identical else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=COLUMNAR_CHUNK, help="profiles per chunk")
    parser.add_argument("--against", metavar="REV", help="also the dense stage at git REV")
    parser.add_argument(
        "--repeats", type=int, default=5, help="of the dense stage and hand-coded numpy, in turns"
    )
    args = parser.parse_args(argv)
    n, chunk = args.profiles, args.chunk
    repo = Path(__file__).resolve().parents[1]
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}; {n:,} profiles, "
        f"seed {args.seed}, chunks of {chunk:,}; CPU time of one process"
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
    rules = engine.columnar  # compiled once per engine, before the clock starts
    print(f"shipped rules ({len(engine.kb.rules)}), dense path: {rules.dense_unfit or 'all'}:")
    print(line("validate, normalise, base facts", t_prep, n))
    if args.against:
        return against(engine, cohort, chunk, args.against, args.repeats)
    t_fast, _ = cpu(lambda: fast_inference(engine, prepared))
    t_tables, chunks = cpu(lambda: tables(engine, cohort, chunk))
    warm_up(engine, chunks[0], cohort[:chunk])
    t_inputs, inputs = cpu(lambda: handcoded_numpy.Inputs(engine.kb, cohort))
    # the same rules by hand in the stage's chunks, given their matrices; and at the
    # stage's boundary (tables in, facts located out), in its chunks and whole
    chunk_inputs = [handcoded_numpy.Inputs.from_tables(engine.kb, base) for base in chunks]
    whole = tables(engine, cohort, n)
    kb = engine.kb
    medians, values = interleaved(
        [
            ("tensors", lambda _: dense_tensors(engine, chunks)),
            ("outcome", lambda facts: dense_blocks(engine, facts)),
            ("hand", lambda _: handcoded_numpy.derive(inputs)),
            ("hand in chunks", lambda _: hand_given(chunk_inputs)),
            ("same boundary", lambda _: hand_at_boundary(kb, chunks)),
            ("same boundary, whole", lambda _: hand_at_boundary(kb, whole)),
        ],
        args.repeats,
    )
    t_tensors, t_blocks, t_hand, t_hand_chunks, t_same, t_same_whole = medians.values()
    derived, by_hand, at_boundary = values["outcome"], values["hand"], values["same boundary"]
    t_stage = t_tensors + t_blocks
    t_generic, generic = cpu(lambda: diagnose_stage(engine, chunks, dense=False))
    t_dicts, _ = cpu(lambda: fact_dicts(derived))
    sizes = [c.n for c in chunks]
    same_located = np.array_equal(
        located_counts(sizes, [[b.pid for b in d.blocks] for d in derived]),
        located_counts(sizes, [[f[1] for f in facts] for facts in at_boundary]),
    )
    same_inputs = handcoded_numpy.Inputs.from_tables(engine.kb, whole[0]).same_as(inputs)
    undecided = sum(int((~d.decided).sum()) for d in derived)
    print(line("fast backend: inference", t_fast, n))
    print(line("columnar: base-fact tables (base_columns)", t_tables, n, "the input of both paths"))
    print(f"  (the dense stage and the hand-coded numpy: medians of {args.repeats} repeats)")
    tensor_note = times(t_tensors, t_hand, "hand-coded numpy")
    print(line("dense: tensors, first asserters (tensors)", t_tensors, n, tensor_note))
    print(line("dense: tensors -> FactBlocks (outcome)", t_blocks, n))
    stage_note = (
        f"{times(t_stage, t_same, 'hand-coded numpy, same boundary')} "
        f"({times(t_stage, t_hand, 'it given its matrices')}); {t_fast / t_stage:.0f}x fast"
    )
    print(line("dense: DIAGNOSE STAGE (derive_columns)", t_stage, n, stage_note))
    generic_note = f"dense stage {t_generic / t_stage:.1f}x faster"
    print(line("generic fact tables: the same stage", t_generic, n, generic_note))
    print(line("columnar: fact dicts per profile (facts())", t_dicts, n))
    print(f"  {'':46} {undecided:,} profiles ({undecided / n:.1%}) left to the per-profile engine")
    print(line("hand-coded numpy, all rules (matrices given)", t_hand, n, "whole cohort"))
    print(line("  its dense matrices from the base facts", t_inputs, n))
    print(line("  the same, matrices given, in chunks", t_hand_chunks, n))
    print(line("hand-coded numpy, tables -> facts located", t_same, n, SAME_NOTE))
    print(line("  the same, whole cohort", t_same_whole, n))
    t_one, reference = cpu(lambda: [engine.diagnose(p)[1] for p in profiles])
    print(line("fast backend: diagnose, end to end", t_one, n))
    t_many, many = cpu(lambda: engine.diagnose_many(profiles))
    print(line("columnar: diagnose_many, end to end", t_many, n, f"{t_one / t_many:.1f}x faster"))
    same = all(
        (a.deficits, a.needs, a.facts) == (b.deficits, b.needs, b.facts)
        for (_p, a), b in zip(many, reference, strict=True)
    )
    paths = same_facts(derived, generic)
    hand_same = handcoded_numpy.outcomes(inputs, by_hand) == [
        handcoded_numpy.outcome_of(r) for r in reference
    ]
    print(f"  identical deficits, needs and facts (diagnose_many, fast backend): {same}")
    print(f"  identical derived facts and first asserters (dense, generic): {paths}")
    print(f"  identical deficits, needs and facts (hand-coded numpy, fast backend): {hand_same}")
    print(f"  same matrices from the tables and from the fact dicts (hand-coded): {same_inputs}")
    print(f"  same facts per profile located (dense stage, hand-coded at it): {same_located}")
    with tempfile.TemporaryDirectory() as tmp:
        small = Engine.from_path(deficit_rules_kb(repo, Path(tmp) / "kb"), backend="fast")
        print(f"deficit rules alone ({len(small.kb.rules)}, rules/10_deficits.yaml):")
        t_dense, dense = cpu(lambda: Dense(small.kb, cohort))
        t_hand2, hand = cpu(lambda: hand_coded(dense))
        t_fast2, _ = cpu(lambda: fast_inference(small, prepared))
        t_tables2, chunks2 = cpu(lambda: tables(small, cohort, chunk))
        t_stage2, _ = cpu(lambda: diagnose_stage(small, chunks2))
        t_col2, got = cpu(lambda: small.diagnose_many(profiles))
        reference2 = [small.diagnose(p)[1] for p in profiles]
        agree = np.array_equal(severities(small.kb, [r for _p, r in got]), hand) and (
            np.array_equal(severities(small.kb, reference2), hand)
        )
        print(f"  identical most severe deficits (columnar, fast, hand-coded): {agree}")
        hand_note = "the input of each: "
        print(line("hand-coded numpy (dense matrix given)", t_hand2, n))
        print(line("  its dense matrix from the base facts", t_dense, n, hand_note + "hand"))
        print(line("columnar: base-fact tables (base_columns)", t_tables2, n, hand_note + "col."))
        stage2 = times(t_stage2, t_hand2, "hand-coded numpy")
        print(line("columnar: DIAGNOSE STAGE (derive_columns)", t_stage2, n, stage2))
        print(line("fast backend: inference", t_fast2, n, times(t_fast2, t_hand2, "hand-coded")))
        both = times(t_tables2 + t_stage2, t_dense + t_hand2, "hand-coded, input included")
        print(f"  {'columnar tables + stage':46} {both}")
        print(line("columnar: diagnose_many, end to end", t_col2, n))
    print(
        f"TARGETS (all {len(engine.kb.rules)} rules): diagnose stage {n / t_stage:,.0f} profiles/s "
        f"per core (>= 100,000; tensors alone {n / t_tensors:,.0f}/s); x{t_stage / t_same:.1f} "
        f"of hand-coded numpy at the same boundary, in the same chunks (<= 3; x"
        f"{t_stage / t_same_whole:.1f} of it on the whole cohort); x{t_stage / t_hand:.1f} of "
        f"it given its matrices (tensors alone x{t_tensors / t_hand:.1f}); "
        f"{t_fast / t_stage:.0f}x faster than the fast backend; deficit rules alone: "
        f"x{t_stage2 / t_hand2:.1f} of hand-coded numpy"
    )
    checks = (same, agree, paths, hand_same, same_inputs, same_located)
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
