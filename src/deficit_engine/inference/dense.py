"""The dense columnar path: rules over small finite domains as boolean tensors.

The generic columnar path (``columnar._Run``) keeps every fact in a table and joins
rows by profile. Most rules need much less: their facts live on the competency
axis. A derived fact whose fields are literals and, at most, a competency is one
cell of a boolean tensor: ``deficit`` is [profiles x competency] per severity,
``need`` [profiles x competency] per combination of its literal fields (a
*variant*), ``burnout_risk`` [profiles] per level. Compiled once per KB, a rule
becomes elementwise operations over such tensors:

* a pattern on a base fact tests its conditions on the fact rows (as the generic
  path does) and is scattered to [profiles x competency] (``result``, ``request``,
  ``indicator_result``: located by their ``competency``), [profiles x group]
  (``group_result``) or [profiles] (``person``);
* a pattern on a derived fact ORs the variants whose literal fields pass its
  conditions, masked per competency (a condition on the competency, or on a
  deficit's group, is a constant per competency) and by the deficit's score;
* ``competency: $x.competency`` joins two patterns at the same competency (AND);
  ``group: $g.group`` reads a group pattern at each competency's group;
  ``competency: {gt: $a.competency}`` between two otherwise unjoined patterns holds
  when some competency of the first sorts before one of the second (the axis is
  in string order); a ``not:`` pattern is AND NOT at its competency, or over the
  whole profile when it joins nothing;
* patterns joined to nothing the action copies are reduced over the axis (any).

Strata run in order; inside one, rules run once each in the order of what they
read, and rules reading what they assert run together to a fixed point. Which
rule asserted each fact first is decided as on the generic path (docs/rules.md,
"Columnar path"): the best-ranked asserter, unless its activation may wait for a
fact of the stratum when a rival fires, then the profile goes to the per-profile
engine. An activation's wait (``avail``) is the worst, over its patterns, of the
best, over the facts a pattern may bind, rank at which that fact is available.

:func:`compile_dense` gives None with a reason when a rule does not fit; the
generic path then runs the whole KB, so both stay in use and are tested against
each other (tests/test_columnar_dense.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ..compiler import FIELD, LITERAL, SubRule
from ..rules import BASE_TYPES, SEVERITIES, Cond, Pattern, Ref
from ..rules.model import NUM, STR
from .columnar import (
    _COMPARE,
    _DEFICIT_ORDER,
    BaseColumns,
    Column,
    DerivedColumns,
    FactBlock,
    _Conditions,
    _has_ref,
    _objects,
    _Strings,
    _Table,
)
from .semantics import holds
from .store import fact_key

__all__ = ["DenseFacts", "DenseRules", "compile_dense"]

Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Waits = npt.NDArray[np.int16]
Array = npt.NDArray[Any]

#: A wait worse than every rule's rank: "not available" (waits are int16: rule ranks
#: are below it, a KB with more rules stays on the generic path).
_NEVER = np.int16(30000)  # headroom: ``_avail`` adds one
_WAIT = np.int16
_NUMERIC_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "exists")


class _Unfit(Exception):
    """A rule the dense path cannot compile (the message says why)."""


# --- the compiled form -----------------------------------------------------------------


@dataclass(frozen=True)
class _Variant:
    """One combination of a derived type's literal fields; ``located`` if it has a competency."""

    type: str
    literals: tuple[tuple[str, Any], ...]
    located: bool


@dataclass
class _Pat:
    """A pattern compiled: its conditions on the fact alone, and for a derived type the
    variants it may match with their per-competency masks."""

    pattern: Pattern
    side: str  # "C" (located by competency), "G" (by group), "-" (neither)
    alpha: tuple[Cond, ...]
    derived: bool
    located: list[tuple[int, Mask]] = field(default_factory=list)  # variant, mask [C]
    unlocated: list[int] = field(default_factory=list)  # variants matching without competency
    score_conds: tuple[Cond, ...] = ()  # a deficit's score_pct, tested per cell
    # the type and conditions, under which patterns alike share a tensor in a chunk
    # (made once here: a chunk looks its patterns' tensors up a few hundred times)
    key: tuple[str, tuple[tuple[str, str, str], ...]] = field(init=False)

    def __post_init__(self) -> None:
        conds = tuple((c.field, c.op, repr(c.value)) for c in self.alpha)
        self.key = (self.pattern.type, conds)


@dataclass
class _Component:
    """Patterns joined to each other: one tensor over the competency axis, or over
    the profile alone (``axis`` False), or a ``gt`` pair (``pair``)."""

    members: list[int]  # positive pattern positions; in pair order for a pair
    negatives: list[int]
    axis: bool
    pair: bool = False


@dataclass
class _Template:
    """One action: the variant it asserts and where its competency comes from."""

    variant: int
    mode: str  # "copy" (the output component's competency), "fixed" (``column``), "none"
    column: int
    order: tuple[str, ...]


@dataclass(eq=False)  # one object per sub-rule: compared by identity (value equality
class _Sub:  # would walk its patterns on every ``in`` test of the stratum's bookkeeping)
    """A sub-rule compiled."""

    rule: str
    rank: int
    pats: list[_Pat]
    negs: list[_Pat]
    components: list[_Component]
    output: int | None  # the component whose competency the actions copy
    templates: list[_Template]
    reads: frozenset[str]
    waits: bool = True  # whether its activations' waits can matter (``_mark_waits``)


def compile_dense(
    strata: Sequence[Sequence[SubRule]],
    kinds: Mapping[str, Mapping[str, str]],
    groups: Mapping[str, str],
    rank: Mapping[str, int],
) -> DenseRules | str:
    """The rule set compiled to dense tensor operations, or why it cannot be.

    Parameters
    ----------
    strata : sequence of sequences of SubRule
        The compiled sub-rules, every one compilable by the generic columnar path.
    kinds : mapping
        Fact type -> field -> kind (``rules.field_kinds``).
    groups : mapping
        Competency id -> group id: the competency axis (in string order) and the
        groups that deficits are completed with.
    rank : mapping
        Rule id -> its agenda rank (0 fires first).

    Returns
    -------
    DenseRules or str
        The compiled rules, or the first reason found why a rule does not fit.
    """
    try:
        return DenseRules(strata, kinds, groups, rank)
    except _Unfit as why:
        return str(why)


class DenseRules:
    """A rule set compiled, once per KB, to tensors over the competency axis.

    Use :func:`compile_dense`; the constructor raises ``_Unfit`` for a rule that does
    not fit. :meth:`derive` is the generic path's ``derive_columns``, the same output.
    """

    def __init__(
        self,
        strata: Sequence[Sequence[SubRule]],
        kinds: Mapping[str, Mapping[str, str]],
        groups: Mapping[str, str],
        rank: Mapping[str, int],
    ) -> None:
        if not groups:
            raise _Unfit("no competencies to lay facts out on")
        if len(rank) >= _NEVER:
            raise _Unfit("more rules than a wait can rank")
        self.kinds = {t: dict(f) for t, f in kinds.items()}
        self.comps = sorted(groups)  # string order: ``gt`` between competencies is index order
        self.group_names = sorted(set(groups.values()))
        self.group_of = np.array([self.group_names.index(groups[c]) for c in self.comps])
        self.variants: list[_Variant] = []
        self.variant_ids: dict[tuple[Any, ...], int] = {}
        self.c_side: set[str] = set()  # base types whose group is read as the competency's
        templates = [(sub, t) for subs in strata for sub in subs for t in sub.actions]
        for sub, (ftype, fields) in templates:  # every variant known before patterns
            self._variant_of(sub, ftype, fields)
        self.strata = [[self._sub(sub, rank) for sub in subs] for subs in strata]
        for compiled in self.strata:
            self._mark_waits(compiled)

    # --- compiling ---------------------------------------------------------------------

    def _variant_of(
        self, sub: SubRule, ftype: str, fields: Sequence[tuple[str, int, Any, bool]]
    ) -> tuple[int, str, int]:
        """The variant a template asserts, how its competency is found, and its column."""
        if ftype in BASE_TYPES:
            raise _Unfit(f"{sub.rule.id}: it asserts a {ftype} fact")
        literals: dict[str, Any] = {}
        mode, column = "none", -1
        for name, how, payload, _required in fields:
            if name == "competency":
                if how == FIELD and payload[1] == "competency":
                    mode = "copy"
                elif how == LITERAL and payload in self.comps:
                    mode, column = "fixed", self.comps.index(payload)
                else:
                    raise _Unfit(f"{sub.rule.id}: its competency is not one of the KB's")
            elif how == LITERAL:
                literals[name] = payload
            else:
                raise _Unfit(f"{sub.rule.id}: it copies {name!r}, not a competency")
        if ftype == "deficit":
            if mode == "none" or literals.get("severity") not in SEVERITIES:
                raise _Unfit(f"{sub.rule.id}: a deficit without a competency or known severity")
            literals = {"severity": literals["severity"]}  # the rest is completed per cell
        located = mode != "none"
        key = (ftype, fact_key({"type": ftype, **literals}), located)
        if key not in self.variant_ids:
            self.variant_ids[key] = len(self.variants)
            self.variants.append(_Variant(ftype, tuple(literals.items()), located))
        return self.variant_ids[key], mode, column

    def _sub(self, sub: SubRule, rank: Mapping[str, int]) -> _Sub:
        pats = [self._pattern(sub, p) for p in sub.positives]
        negs = [self._pattern(sub, p) for p in sub.negatives]
        components, output = self._components(sub, pats, negs)
        templates, seen = [], set()
        for ftype, fields in sub.actions:
            variant, mode, column = self._variant_of(sub, ftype, fields)
            if variant in seen:
                raise _Unfit(f"{sub.rule.id}: two actions assert the same kind of fact")
            seen.add(variant)
            if mode == "copy":
                source = next(f[2][0] for f in fields if f[0] == "competency")
                home = next(i for i, c in enumerate(components) if source in c.members)
                if output != home or components[home].pair:
                    raise _Unfit(f"{sub.rule.id}: its actions copy from unjoined patterns")
            order = _DEFICIT_ORDER if ftype == "deficit" else tuple(f[0] for f in fields)
            templates.append(_Template(variant, mode, column, order))
        reads = frozenset(p.type for p in sub.positives)
        return _Sub(
            sub.rule.id, rank[sub.rule.id], pats, negs, components, output, templates, reads
        )

    def _pattern(self, sub: SubRule, pat: Pattern) -> _Pat:
        fields = self.kinds.get(pat.type, {})
        side = "C" if "competency" in fields else "G" if "group" in fields else "-"
        alpha = tuple(c for c in pat.conds if not _has_ref(c.value))
        if pat.type in BASE_TYPES:
            return _Pat(pat, side, alpha, derived=False)
        out = _Pat(pat, side, alpha, derived=True)
        deficit = pat.type == "deficit"
        per_cell = tuple(c for c in alpha if deficit and c.field == "score_pct")
        for cond in per_cell:
            numbers = cond.value if isinstance(cond.value, list) else [cond.value]
            numeric = cond.op in _NUMERIC_OPS and all(isinstance(v, float) for v in numbers)
            if not numeric and cond.op != "exists":
                raise _Unfit(f"{sub.rule.id}: {cond.op!r} on a deficit's score")
        out.score_conds = per_cell
        constant = [c for c in alpha if c not in per_cell]
        for v, variant in enumerate(self.variants):
            if variant.type != pat.type:
                continue
            fact = dict(variant.literals)
            if not variant.located:
                if all(holds(c, fact, (), {}) for c in constant):
                    out.unlocated.append(v)
                continue
            mask = np.zeros(len(self.comps), dtype=bool)
            for i, comp in enumerate(self.comps):
                cell = {**fact, "competency": comp}
                if deficit:
                    cell["group"] = self.group_names[self.group_of[i]]
                    if per_cell:
                        cell["score_pct"] = 0.0  # stands for the score; tested per cell
                mask[i] = all(holds(c, cell, (), {}) for c in constant)
            if mask.any():
                out.located.append((v, mask))
        return out

    def _components(
        self, sub: SubRule, pats: list[_Pat], negs: list[_Pat]
    ) -> tuple[list[_Component], int | None]:
        """The patterns grouped by their joins, and the component the actions copy from."""
        parent = list(range(len(pats)))

        def root(i: int) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        pairs: list[tuple[int, int]] = []
        neg_home: list[int | None] = []
        for j, pat in enumerate(pats):
            for cond in pat.pattern.conds:
                if not _has_ref(cond.value):
                    continue
                i = self._join(sub, cond, pat, pats)
                if cond.op == "gt":
                    pairs.append((i, j))
                else:
                    parent[root(j)] = root(i)
        for neg in negs:
            homes = set()
            for cond in neg.pattern.conds:
                if _has_ref(cond.value):
                    if cond.op == "gt":
                        raise _Unfit(f"{sub.rule.id}: 'gt' between a not: and a pattern")
                    homes.add(root(self._join(sub, cond, neg, pats)))
            if len(homes) > 1:
                raise _Unfit(f"{sub.rule.id}: a not: joins two unjoined patterns")
            neg_home.append(homes.pop() if homes else None)
        sources = {
            root(f[2][0])
            for _t, fields in sub.actions
            for f in fields
            if f[0] == "competency" and f[1] == FIELD
        }
        if len(sources) > 1:
            raise _Unfit(f"{sub.rule.id}: its actions copy from unjoined patterns")
        paired = {i for pair in pairs for i in pair}
        components: list[_Component] = []
        output = None
        for r in sorted({root(i) for i in range(len(pats))}):
            members = [i for i in range(len(pats)) if root(i) == r]
            negatives = [k for k, h in enumerate(neg_home) if h == r]
            if paired & set(members):
                continue
            axis = len(members) + len(negatives) > 1 or r in sources
            if axis and not any(pats[i].side == "C" for i in members):
                raise _Unfit(f"{sub.rule.id}: patterns joined off the competency axis")
            if r in sources:
                output = len(components)
            components.append(_Component(members, negatives, axis))
        in_pairs = [i for pair in pairs for i in pair]
        for i, j in pairs:
            sizes = [sum(root(m) == root(k) for m in range(len(pats))) for k in (i, j)]
            once = in_pairs.count(i) == 1 and in_pairs.count(j) == 1
            if sizes != [1, 1] or not once or root(i) in sources or root(j) in sources:
                raise _Unfit(f"{sub.rule.id}: 'gt' between patterns joined otherwise")
            if any(h in (root(i), root(j)) for h in neg_home):
                raise _Unfit(f"{sub.rule.id}: a not: joins a 'gt' pair")
            components.append(_Component([i, j], [], axis=True, pair=True))
        for k, h in enumerate(neg_home):
            if h is None:
                components.append(_Component([], [k], axis=False))
        self._disjoint(sub, pats, pairs)
        return components, output

    def _join(self, sub: SubRule, cond: Cond, pat: _Pat, pats: list[_Pat]) -> int:
        """The earlier pattern a join condition reads (checking it is a join that fits)."""
        ref = cond.value
        if not isinstance(ref, Ref) or ref.alias not in sub.aliases:
            raise _Unfit(f"{sub.rule.id}: {cond.op!r} on {cond.field!r} reads several values")
        other = pats[sub.aliases[ref.alias]]
        fits = cond.field == ref.field and (
            (cond.field == "competency" and cond.op in ("eq", "gt"))
            or (cond.field == "group" and cond.op == "eq" and {pat.side, other.side} == {"C", "G"})
        )
        if not fits or (cond.field == "competency" and {pat.side, other.side} != {"C"}):
            raise _Unfit(f"{sub.rule.id}: the join {cond.field} {cond.op} ${ref.alias}.{ref.field}")
        if cond.field == "group":
            c_side = pat if pat.side == "C" else other
            if c_side.derived and c_side.pattern.type != "deficit":
                raise _Unfit(f"{sub.rule.id}: a group join on a {c_side.pattern.type} fact")
            if not c_side.derived:
                self.c_side.add(c_side.pattern.type)
        return sub.aliases[ref.alias]

    def _disjoint(self, sub: SubRule, pats: list[_Pat], pairs: list[tuple[int, int]]) -> None:
        """Two positive patterns of one type never bind the same fact (the engine binds a
        fact once per activation): a ``gt`` pair, or different literals for one field."""
        for j, b in enumerate(pats):
            for i in range(j):
                a = pats[i]
                if a.pattern.type != b.pattern.type or (i, j) in pairs:
                    continue
                eq_a = {c.field: c.value for c in a.alpha if c.op == "eq"}
                eq_b = {c.field: c.value for c in b.alpha if c.op == "eq"}
                if not any(f in eq_b and eq_b[f] != v for f, v in eq_a.items()):
                    raise _Unfit(f"{sub.rule.id}: two patterns may bind the same fact")

    def _mark_waits(self, subs: Sequence[_Sub]) -> None:
        """Which sub-rules need their activations' waits: those asserting a fact another
        rule of the stratum asserts too (who was first?), and those asserting what such
        a rule reads (when is it available?). The others skip that work."""
        rules_of: dict[int, set[str]] = {}
        for sub in subs:
            for tmpl in sub.templates:
                rules_of.setdefault(tmpl.variant, set()).add(sub.rule)
        asserted = {self.variants[v].type for v in rules_of}
        for sub in subs:
            sub.waits = any(len(rules_of[t.variant]) > 1 for t in sub.templates)
        while True:
            read = {t for sub in subs if sub.waits for t in sub.reads & asserted}
            more = [
                sub
                for sub in subs
                if not sub.waits
                and any(self.variants[t.variant].type in read for t in sub.templates)
            ]
            if not more:
                return
            for sub in more:
                sub.waits = True

    # --- running -----------------------------------------------------------------------

    def derive(self, base: BaseColumns, limit: int) -> DerivedColumns:
        """The facts the rules derive for each profile: ``ColumnarRules.derive_columns``.

        Parameters
        ----------
        base : BaseColumns
            The cohort's base facts as tables.
        limit : int
            The firing limit: a profile deriving more facts goes to the per-profile engine.

        Returns
        -------
        DerivedColumns
            The same derived facts and decided profiles as the generic path gives.
        """
        return self.tensors(base).outcome(limit)

    def tensors(self, base: BaseColumns) -> DenseFacts:
        """The derived facts as tensors, each with the rule that asserted it first.

        The first half of :meth:`derive`, apart so its cost can be measured apart from
        laying the tensors out as columns (:meth:`DenseFacts.outcome`).

        Parameters
        ----------
        base : BaseColumns
            The cohort's base facts as tables.

        Returns
        -------
        DenseFacts
            Per variant the cells each rule asserted first, and the undecided profiles.
        """
        run = DenseFacts(self, base)
        for subs in self.strata:
            run.stratum(subs)
        return run


Shaped = tuple[Mask, Waits | None]  # a match tensor and its activations' wait (None: -1)


class _Cells(NamedTuple):
    """A base table's rows on a flattened [axis x profile] tensor (``DenseFacts._cells``)."""

    flat: Ints  # the rows' cells, sorted (off the axis: the one past the end)
    order: Ints  # the row order that sorts them
    unique: bool  # no two rows on the axis share a cell


class DenseFacts(_Conditions):
    """One cohort chunk on the dense path: its tensors, and who asserted each fact first.

    Tensors are competency-major, [competency x profile]: reducing over the competency
    axis is then a few row operations, not a reduction along each short row. Masking
    is arithmetic (``_masked``): numpy's masked ufuncs and ``where`` are far slower.
    """

    def __init__(self, rules: DenseRules, base: BaseColumns) -> None:
        super().__init__(base.strings.copy(), rules.kinds)
        self.rules = rules
        self.n = n = base.n
        self.tables = base.tables
        ncomp = len(rules.comps)
        self.comp_codes = np.array([self.strings.code(c) for c in rules.comps], dtype=np.int64)
        self.group_codes = np.array([self.strings.code(g) for g in rules.group_names])
        self.axis_of = np.full(len(self.strings.names) + 1, -1, dtype=np.int64)
        self.axis_of[self.comp_codes] = np.arange(ncomp)
        self.comp_group_codes = self.group_codes[rules.group_of]  # a deficit's group, by place
        self.gaxis_of = np.full(len(self.strings.names) + 1, -1, dtype=np.int64)
        self.gaxis_of[self.group_codes] = np.arange(len(self.group_codes))
        self.undecided = np.zeros(n, dtype=bool)
        self.locate: dict[str, tuple[Ints, Ints]] = {}  # base type -> per row (pid, axis)
        self.flat_cells: dict[tuple[str, str], _Cells] = {}  # ``_cells``
        shapes = [(ncomp, n) if v.located else (n,) for v in rules.variants]
        self.has = [np.zeros(shape, dtype=bool) for shape in shapes]  # where a fact is
        self.new = list(self.has)  # ... added this stratum (set per stratum: ``stratum``)
        self.ready: dict[int, Waits] = {}  # variant -> per cell, the rank it is available at
        self.avails: dict[int, Waits] = {}  # variant -> ``_avail``, while facts and ready hold
        self.track = True  # whether the sub-rule being run needs its waits
        self.bases: dict[Any, Mask] = {}  # a base pattern's tensor, by conditions and shape
        self.derived: dict[Any, Shaped] = {}  # a derived pattern's, while its type holds
        self.versions: dict[str, int] = {}  # per derived type, bumped when it (or a wait) changes
        self.done: dict[int, list[tuple[_Sub, int, Mask, Waits | None]]] = {}  # variant -> acts
        # variant, rule, the cells it asserted first, and all the variant's cells kept in
        # that stratum (one tensor shared by its rules' entries: ``_won_cells``)
        self.won: list[tuple[int, _Sub, Mask, Mask]] = []
        self.alphas: dict[Any, Mask] = {}
        self.asserted: set[str] = set()  # the types the running stratum asserts
        self.waited: set[str] = set()  # ... and of those, read by a rule tracking waits
        self.score, self.scored = self._scores()

    def _rows(self, ftype: str) -> _Table | None:
        table = self.tables.get(ftype)
        return table if table is not None and len(table) else None

    def _where(self, ftype: str, side: str) -> tuple[Ints, Ints]:
        """Each row's profile and place on its axis (-1: none); a profile with a row off
        the axis, or whose group disagrees with its competency's, is left undecided."""
        if ftype not in self.locate:
            table = self.tables[ftype]
            name = "competency" if side == "C" else "group"
            col = table.columns[name]
            axis_of = self.axis_of if side == "C" else self.gaxis_of
            place = np.where(col.present, axis_of[np.minimum(col.values, len(axis_of) - 1)], -1)
            odd = col.present & (place < 0)
            if side == "C" and ftype in self.rules.c_side:
                group = table.columns["group"]
                want = self.group_codes[self.rules.group_of[np.maximum(place, 0)]]
                odd |= (place >= 0) & ~(group.present & (group.values == want))
            self.undecided[table.pid[odd]] = True
            self.locate[ftype] = (table.pid, place)
        return self.locate[ftype]

    def _scores(self) -> tuple[Array, Mask]:
        """Each profile's score per competency (a deficit's score_pct), and whether it has one."""
        score = np.zeros((len(self.rules.comps), self.n))
        scored = np.zeros(score.shape, dtype=bool)
        table = self._rows("result")
        if table is None:
            return score, scored
        flat, order, _unique = self._cells("result", "C", len(self.rules.comps))
        pct = table.columns["score_pct"]
        ok = (flat < score.size) & pct.present[order]  # in cell order: a scatter in order
        cells = flat[ok]
        score.reshape(-1)[cells] = pct.values[order][ok]  # views: .flat is much slower
        scored.reshape(-1)[cells] = True
        if np.count_nonzero(scored) < len(cells):  # two scores for one competency: which?
            twice = np.bincount(cells, minlength=score.size) > 1
            self.undecided[np.flatnonzero(twice) % self.n] = True  # the engine knows
        return score, scored

    # --- patterns ----------------------------------------------------------------------

    def _alpha(self, pat: _Pat, table: _Table) -> Mask:
        key = pat.key
        if key not in self.alphas:
            mask = np.ones(len(table), dtype=bool)
            for cond in pat.alpha:
                mask &= self._holds(cond, pat.pattern, table, None, None, {})
            self.alphas[key] = mask
        return self.alphas[key]

    def _base(self, pat: _Pat, axis: bool) -> Mask:
        """A base pattern's matches per profile, per competency if ``axis`` (the same
        conditions recur across rules: each tensor is made once, and read only)."""
        key = (pat.key, axis)
        if key not in self.bases:
            self.bases[key] = self._base_tensor(pat, axis)
        return self.bases[key]

    def _base_tensor(self, pat: _Pat, axis: bool) -> Mask:
        ncomp = len(self.rules.comps)
        table = self._rows(pat.pattern.type)
        if table is None:
            return np.zeros((ncomp, self.n) if axis else self.n, dtype=bool)
        mask = self._alpha(pat, table)
        if not axis:
            out = np.zeros(self.n, dtype=bool)
            out[table.pid[mask]] = True
            return out
        width = ncomp if pat.side == "C" else len(self.rules.group_names)
        cells = np.zeros(width * self.n + 1, dtype=bool)  # the last: rows off the axis
        flat, order, unique = self._cells(pat.pattern.type, pat.side, width)
        in_cell_order = mask[order]  # then the scatter writes memory in order (x6 faster)
        if unique:  # one row a cell: every row's mask written as it is (1-d: fast)
            cells[flat] = in_cell_order
        else:  # rows sharing a cell: any of them
            cells[flat[in_cell_order]] = True
        table_cells: Mask = cells[:-1].reshape(width, self.n)
        if pat.side == "C":
            return table_cells
        at_comp: Mask = table_cells[self.rules.group_of]
        return at_comp

    def _cells(self, ftype: str, side: str, width: int) -> _Cells:
        """Each row's cell in a flattened [axis x profile] tensor (rows off the axis: the
        one past the end), sorted, with the row order that sorts them, and whether no
        two rows share a cell.

        A table's rows go profile by profile, so their cells jump across the axis: a
        scatter in that order misses the cache on nearly every row. Sorted once per
        chunk, every pattern's scatter writes in order. The rows are already in profile
        order, so a stable sort by place alone sorts the cells, and on int16 places
        numpy's stable sort is a radix sort (x4 faster than sorting the cells).
        """
        key = (ftype, side)
        if key not in self.flat_cells:
            pid, place = self._where(ftype, side)
            on = place >= 0
            at = np.where(on, place, width)  # off the axis: after every place
            small = np.int16 if width < np.iinfo(np.int16).max else np.int64
            order = np.argsort(at.astype(small), kind="stable")
            cell = at * self.n + np.where(on, pid, 0)
            flat = cell[order]
            if np.any(flat[1:] < flat[:-1]):  # rows not in profile order: sort the cells
                order = np.argsort(cell, kind="stable")
                flat = cell[order]
            shared = (flat[1:] == flat[:-1]) & (flat[1:] < width * self.n)
            unique = not shared.any()
            self.flat_cells[key] = _Cells(flat, order, unique)
        return self.flat_cells[key]

    def _derived(self, pat: _Pat, axis: bool) -> Shaped:
        """A derived pattern's matches, and per match the best rank its fact is available at."""
        n, ncomp = self.n, len(self.rules.comps)
        match: Mask | None = None  # made by the first variant: no tensor of zeros ORed into
        # facts of an earlier stratum are there from the start: no wait to track
        track = self.track and pat.pattern.type in self.asserted
        wait: Waits | None = None  # made by the first variant too, when tracked
        cell_ok = self._score_holds(pat.score_conds) if pat.score_conds and pat.located else None
        for v, per_comp in pat.located:
            here = self._cells_of(v, per_comp, cell_ok)
            if match is None:  # ``has`` grows later: the match must not be it
                match = here.copy() if here is self.has[v] else here
            else:
                match |= here
            if track:
                wait = self._waited(wait, v, per_comp, here, cell_ok is not None)
        if track and wait is None:
            wait = np.full((ncomp, n), _NEVER, dtype=_WAIT)
        if match is None:
            match = np.zeros((ncomp, n), dtype=bool)
        if axis:
            return match, wait
        flat: Mask = np.any(match, axis=0)
        flat_wait = None if wait is None else wait.min(axis=0)
        for v in pat.unlocated:
            flat = flat | self.has[v]
            if flat_wait is not None:
                np.minimum(flat_wait, self._avail(v), out=flat_wait)
        return flat, flat_wait

    def _waited(
        self, wait: Waits | None, v: int, per_comp: Mask, here: Mask, masked: bool
    ) -> Waits:
        """``wait`` (None: not made yet) lowered to variant ``v``'s availability over
        the cells ``here`` a pattern takes from it (``masked``: ``here`` is narrower
        than the accepted competencies' facts). The first variant makes the tensor:
        no fill with never to take a minimum with."""
        avail = self._avail(v)  # never where there is no fact: masked by ``has`` already
        if masked:
            if wait is None:
                return _masked(avail, here)
            return np.minimum(wait, _masked(avail, here), out=wait)
        if per_comp.all():  # ``avail`` is cached and read only: copied before written
            return avail.copy() if wait is None else np.minimum(wait, avail, out=wait)
        rows = np.flatnonzero(per_comp)  # only the competencies the pattern accepts
        if wait is None:
            wait = np.full(avail.shape, _NEVER, dtype=_WAIT)
            wait[rows] = avail[rows]
            return wait
        wait[rows] = np.minimum(wait[rows], avail[rows])
        return wait

    def _cells_of(self, v: int, per_comp: Mask, cell_ok: Mask | None) -> Mask:
        """The cells of variant ``v`` a pattern accepts: its facts at the competencies
        ``per_comp`` where ``cell_ok`` holds. Read only: it may be ``has[v]`` itself
        (a pattern accepting every competency and score takes every fact, no copy)."""
        has = self.has[v]
        if per_comp.all():
            return has if cell_ok is None else has & cell_ok
        here = has & per_comp[:, None]
        if cell_ok is not None:
            here &= cell_ok
        return here

    def _avail(self, v: int) -> Waits:
        """Per cell of a variant, the best rank its fact is available at: -1 for a fact
        of an earlier stratum (there from the start), its ``ready`` rank for one of this
        stratum (unknown yet: never), never where there is no fact."""
        if v not in self.avails:
            has, new = self.has[v], self.new[v]
            ready = self.ready.get(v)
            start = _from_start(has)  # -1 or never
            fresh = _NEVER if ready is None else ready
            # new cells (all of them facts): max(-1, ready) = ready; the others keep start
            self.avails[v] = np.maximum(start, new * (fresh + _WAIT(1)) - _WAIT(1))
        return self.avails[v]

    def _score_holds(self, conds: Sequence[Cond]) -> Mask:
        mask = np.ones(self.score.shape, dtype=bool)
        for cond in conds:
            if cond.op == "exists":
                mask &= self.scored if cond.value else ~self.scored
                continue
            x = self.score
            if cond.op in ("in", "not_in"):
                hit = np.isin(x, np.array(cond.value, dtype=np.float64))
                mask &= self.scored & (hit if cond.op == "in" else ~hit)
            elif cond.op == "between":
                lo, hi = cond.value
                mask &= self.scored & (x >= lo) & (x <= hi)
            else:
                mask &= self.scored & np.asarray(_COMPARE[cond.op](x, cond.value), dtype=bool)
        return mask

    def _pattern(self, pat: _Pat, axis: bool) -> Shaped:
        """A pattern's matches and waits. Many rules share a pattern (``deficit: {}``,
        a severity): each is made once while the facts of its type stay as they are
        (results are read only)."""
        if not pat.derived:
            return self._base(pat, axis), None
        ftype = pat.pattern.type
        track = self.track and ftype in self.asserted
        key = (pat.key, axis, track, self.versions.get(ftype, 0))
        if key not in self.derived:
            self.derived[key] = self._derived(pat, axis)
        return self.derived[key]

    def _component(self, sub: _Sub, comp: _Component) -> Shaped:
        """A component's activations: per profile (and competency if on the axis)."""
        if comp.pair:
            return self._pair(sub, comp)
        match: Mask | None = None
        wait: Waits | None = None
        for i in comp.members:
            m, w = self._pattern(sub.pats[i], comp.axis)
            match = m if match is None else match & m
            wait = _worst(wait, w)
        for k in comp.negatives:
            blocked, _w = self._pattern(sub.negs[k], comp.axis)
            match = ~blocked if match is None else _and_not(match, blocked)
        assert match is not None
        return match, wait  # the wait is meaningful only where it matches

    def _pair(self, sub: _Sub, comp: _Component) -> Shaped:
        """``b.competency gt $a.competency``: some ``a`` sorts before some ``b``.

        One pass down the competency axis (in string order), keeping per profile
        whether an ``a`` was seen and the best wait of one: a row operation per
        competency (an ``accumulate`` over the axis is much slower).
        """
        (a, wa), (b, wb) = (self._pattern(sub.pats[i], True) for i in comp.members)
        seen = np.zeros(self.n, dtype=bool)
        match = np.zeros(self.n, dtype=bool)
        if wa is None and wb is None:
            for c in range(len(a)):
                match |= seen & b[c]
                seen |= a[c]
            return match, None
        wa = _from_start(a) if wa is None else _masked(wa, a)
        wb = _from_start(b) if wb is None else _masked(wb, b)
        best_a = np.full(self.n, _NEVER, dtype=_WAIT)
        least = np.full(self.n, _NEVER, dtype=_WAIT)
        for c in range(len(a)):
            np.minimum(least, np.maximum(best_a, wb[c]), out=least)  # never unless both
            np.minimum(best_a, wa[c], out=best_a)
            match |= seen & b[c]
            seen |= a[c]
        return match, least

    def _activations(self, sub: _Sub) -> list[tuple[_Template, Mask, Waits | None]]:
        """Per action, where it asserts its fact and the activation's wait there."""
        self.track = sub.waits
        parts = [self._component(sub, comp) for comp in sub.components]
        # the per-profile components ANDed; None: there are none (every profile holds),
        # and the output component is then the activations as they are, without a copy
        # (the tensors here are read only: none is written after it is made)
        flat: Mask | None = None
        flat_wait: Waits | None = None
        for c, (m, w) in enumerate(parts):
            if c != sub.output:
                flat = m if flat is None else flat & m
                flat_wait = _worst(flat_wait, None if w is None else _masked(w, m))
        out = []
        for tmpl in sub.templates:
            if tmpl.mode == "copy":
                assert sub.output is not None
                m, w = parts[sub.output]
                act = m if flat is None else m & flat
                wait = _worst(w, flat_wait)
            elif sub.output is not None:
                m, w = parts[sub.output]
                act = np.any(m, axis=0) if flat is None else np.any(m, axis=0) & flat
                wait = _worst(None if w is None else _masked(w, m).min(axis=0), flat_wait)
            else:
                act = np.ones(self.n, dtype=bool) if flat is None else flat
                wait = flat_wait
            out.append((tmpl, act, wait))  # the wait is meaningful only where it acts
        return out

    # --- a stratum ---------------------------------------------------------------------

    def stratum(self, subs: Sequence[_Sub]) -> None:
        """Every rule of the stratum run to its fixed point, then each new fact attributed."""
        self.ready, self.avails, self.derived = {}, {}, {}
        asserted = {self.rules.variants[t.variant].type for s in subs for t in s.templates}
        # fresh arrays, for what the stratum asserts (the last stratum's are kept as the
        # cells its rules asserted first); the others have nothing new
        for v, variant in enumerate(self.rules.variants):
            if variant.type in asserted:
                self.new[v] = np.zeros(self.has[v].shape, dtype=bool)
        self.asserted = asserted
        self.waited = {t for s in subs if s.waits for t in s.reads}  # ``_make_ready``
        pending = list(subs)
        finished: set[str] = set()
        while pending:
            open_types = {self.rules.variants[t.variant].type for s in pending for t in s.templates}
            newly = (asserted - open_types) - finished
            self._make_ready(newly)
            finished |= newly
            runnable = [s for s in pending if not (s.reads & asserted) - finished]
            if runnable:
                for sub in runnable:
                    self._assert(sub, self._activations(sub))
                pending = [s for s in pending if s not in runnable]
                continue
            self._fixed_point(pending, open_types)
            pending = []
        self._attribute(asserted)

    def _fixed_point(self, subs: list[_Sub], open_types: set[str]) -> None:
        """Rules reading what they (or each other) assert: run together until nothing is
        added; then their waits, which need the ``ready`` ranks of what they assert."""
        while any([self._assert(s, self._activations(s), keep=False) for s in subs]):
            pass
        for sub in subs:  # waits without ready ranks: enough to tell who waited from the start
            self._assert(sub, self._activations(sub))
        self._make_ready(open_types)
        for v, acts in self.done.items():
            self.done[v] = [a for a in acts if a[0] not in subs]
        for sub in subs:
            self._assert(sub, self._activations(sub))

    def _assert(
        self, sub: _Sub, acts: list[tuple[_Template, Mask, Waits | None]], keep: bool = True
    ) -> bool:
        """Add the facts the actions assert; whether any was new. ``keep``: record the
        activations for attribution."""
        added = False
        for tmpl, act, wait in acts:
            has, new = self.has[tmpl.variant], self.new[tmpl.variant]
            if tmpl.mode == "fixed":  # one competency's row: a view, written through
                has, new = has[tmpl.column], new[tmpl.column]
            fresh = _and_not(act, has)
            if fresh.any():
                added = True
                has |= fresh
                new |= fresh
                self.avails.pop(tmpl.variant, None)
                self._changed(self.rules.variants[tmpl.variant].type)
            if keep:
                self.done.setdefault(tmpl.variant, []).append((sub, tmpl.column, act, wait))
        return added

    def _make_ready(self, types: set[str]) -> None:
        """For the facts of ``types`` new in this stratum: the best rank of an asserter
        whose activation waited from the start (the latest they can be asserted).

        Only a rule that tracks its waits reads these ranks (through ``_avail``): for a
        type no such rule of the stratum reads, they are not made (nor its patterns'
        cache bumped: their facts did not change)."""
        for v, variant in enumerate(self.rules.variants):
            if variant.type not in types or v not in self.done:
                continue
            if variant.type not in self.waited:
                continue
            self.ready[v] = self._ready(v)
            self.avails.pop(v, None)
            self._changed(variant.type)

    def _ready(self, v: int) -> Waits:
        """Per cell of variant ``v``, the best rank of an asserter whose activation
        waited from the start there; never elsewhere."""
        acts = self.done[v]
        whole = [a for a in acts if a[1] < 0]
        first = whole[0] if whole else None
        if first is None:
            ready = np.full(self.has[v].shape, _NEVER, dtype=_WAIT)
        else:  # the first whole-tensor asserter makes the array (no fill, no minimum)
            ready = _ranked(first[2], first[3], first[0].rank)
        for act in acts:
            if act is first:
                continue
            sub, column, where, wait = act
            cells = ready[column] if column >= 0 else ready
            np.minimum(cells, _ranked(where, wait, sub.rank), out=cells)
        return ready

    def _changed(self, ftype: str) -> None:
        """Patterns on ``ftype`` made before this are out of date."""
        self.versions[ftype] = self.versions.get(ftype, 0) + 1

    def _attribute(self, asserted: set[str]) -> None:
        """Each fact new in this stratum with the rule that asserted it first; profiles
        where that depends on the firing order are left undecided."""
        seen: Mask | None = None  # deficits: the cells that already have a more severe one
        order = sorted(
            (v for v in self.done if self.rules.variants[v].type in asserted),
            key=lambda v: _severity(self.rules.variants[v]),
        )
        for v in order:
            variant = self.rules.variants[v]
            new = self.new[v]
            if not new.any():
                self.done.pop(v)
                continue
            asserters = self._asserters(v)
            kept = new
            if variant.type == "deficit":  # of each competency, only the most severe is kept
                kept = new if seen is None else _and_not(new, seen)
                seen = new.copy() if seen is None else seen | new
            self.done.pop(v)
            if len(asserters) == 1:
                self.won.append((v, asserters[0][1], kept, kept))
                continue
            winners = self._winners(new, asserters)
            for (_rank, sub, _act, _wait), first in zip(asserters, winners, strict=True):
                # the first asserter's cells are new ones: only a deficit's need ``kept``
                self.won.append((v, sub, first if kept is new else kept & first, kept))

    def _winners(
        self, new: Mask, asserters: list[tuple[int, _Sub, Mask, Waits | None]]
    ) -> list[Mask]:
        """Per asserter (in rank order), the new cells it asserted first; the profiles
        where a rival fired while the winner still waited are left undecided."""
        remaining = new  # the cells no earlier asserter took (``new`` itself: read only)
        winners: list[Mask] = []
        waiting: list[tuple[Mask, Waits]] = []  # a winner's cells and its wait there
        last = len(asserters) - 1
        for k, (rank, _sub, act, wait) in enumerate(asserters):
            for won, won_wait in waiting:  # a rival fired while the winner still waited?
                odd = won & act & (won_wait >= rank)
                self.undecided |= np.any(odd, axis=0) if odd.ndim == 2 else odd
            first = act & remaining
            if k < last:  # remaining AND NOT act (in place once it is a copy of its own)
                out = None if remaining is new else remaining
                remaining = np.greater(remaining, act, out=out)
            winners.append(first)
            if wait is not None:
                waiting.append((first, wait))
        return winners

    def _asserters(self, v: int) -> list[tuple[int, _Sub, Mask, Waits | None]]:
        """A variant's asserters in rank order, the sub-rules of one rule merged."""
        by_rule: dict[str, tuple[int, _Sub, Mask, Waits | None]] = {}
        shape = self.has[v].shape
        for sub, column, act, wait in self.done[v]:
            if column >= 0:
                full = np.zeros(shape, dtype=bool)
                full[column] = act
                full_wait = None
                if wait is not None:
                    full_wait = np.full(shape, _NEVER, dtype=_WAIT)
                    full_wait[column] = wait
                act, wait = full, full_wait
            if sub.rule in by_rule:
                rank, first, act0, wait0 = by_rule[sub.rule]
                w0 = _from_start(act0) if wait0 is None else _masked(wait0, act0)
                w1 = _from_start(act) if wait is None else _masked(wait, act)
                by_rule[sub.rule] = (rank, first, act0 | act, np.minimum(w0, w1))
            else:
                by_rule[sub.rule] = (sub.rank, sub, act, wait)
        return sorted(by_rule.values(), key=lambda a: a[0])

    def _won_cells(self) -> list[Ints]:
        """Per entry of ``won``, its cells as flat indices (then divided: much faster
        than a 2-d nonzero).

        A scan for nonzero cells reads the whole tensor however few cells are set, and
        was the largest cost of laying facts out: a variant several rules asserted
        first is scanned once, its rules' cells (disjoint) then picked from what it
        found.
        """
        entries: dict[int, list[int]] = {}  # by the kept tensor: a variant in one stratum
        for k, (_v, _sub, _cells, kept) in enumerate(self.won):
            entries.setdefault(id(kept), []).append(k)
        flats: dict[int, Ints] = {}
        for ks in entries.values():
            masks = [self.won[k][2] for k in ks]
            if len(ks) == 1:
                flats[ks[0]] = np.flatnonzero(masks[0])
                continue
            # every rule's cells are among the kept ones: scanned once, no union made
            found = np.flatnonzero(self.won[ks[0]][3])
            for k, cells in zip(ks, masks, strict=True):
                flats[k] = found[cells.reshape(-1)[found]]
        return [flats[k] for k in range(len(self.won))]

    def _block(self, v: int, sub: _Sub, flat: Ints) -> FactBlock | None:
        """The facts of one variant that one rule asserted first (at the flat indices
        of its cells), as a FactBlock."""
        if not len(flat):
            return None
        variant = self.rules.variants[v]
        tmpl = next(t for t in sub.templates if t.variant == v)
        kinds = self.rules.kinds[variant.type]
        if variant.located:
            place, pid = self._split(flat)
        else:
            pid, place = flat, np.zeros(0, dtype=np.int64)
        count = len(pid)
        literals = dict(variant.literals)
        columns: dict[str, Column] = {}
        for name in tmpl.order:
            if name == "competency":
                columns[name] = Column(self.comp_codes[place], np.ones(count, dtype=bool))
            elif variant.type == "deficit" and name == "group":
                codes = self.comp_group_codes[place]
                columns[name] = Column(codes, np.ones(count, dtype=bool))
            elif variant.type == "deficit" and name == "score_pct":
                # the flat index is the cell's: a 1-d gather
                score, scored = self.score.reshape(-1)[flat], self.scored.reshape(-1)[flat]
                columns[name] = Column(score, scored)
            else:
                columns[name] = _literal(kinds.get(name, STR), literals[name], count, self.strings)
        return FactBlock(variant.type, sub.rule, tmpl.order, pid, columns)

    def _split(self, flat: Ints) -> tuple[Ints, Ints]:
        """Flat cell indices of a [competency x profile] tensor as (place, profile): a
        shift and a mask when the chunk is a power of two (the batch's 4,096), whose
        integer division is several times slower."""
        n = self.n
        if n > 0 and n & (n - 1) == 0:
            shift = n.bit_length() - 1
            return flat >> shift, flat & (n - 1)
        place, pid = np.divmod(flat, n)
        return place, pid

    def _over(self, limit: int) -> Mask:
        """The profiles deriving more facts than ``limit``. The count costs a reduction
        per variant (a quarter of laying out the facts): skipped when no profile can
        hold more facts than the limit (the shipped KB: about 1,400 against 10,000)."""
        if _most_facts(self.has) <= limit:
            return np.zeros(self.n, dtype=bool)
        count = np.zeros(self.n, dtype=np.int64)
        for held in self.has:
            count += held.sum(axis=0) if held.ndim == 2 else held
        over: Mask = count > limit
        return over

    def outcome(self, limit: int) -> DerivedColumns:
        """The derived facts laid out as columns, with the profiles the per-profile
        engine decides.

        Parameters
        ----------
        limit : int
            The firing limit: a profile deriving more facts goes to the per-profile engine.

        Returns
        -------
        DerivedColumns
            What ``ColumnarRules.derive_columns`` gives.
        """
        won = zip(self.won, self._won_cells(), strict=True)
        blocks = [self._block(v, sub, flat) for (v, sub, _cells, _kept), flat in won]
        undecided = self.undecided | self._over(limit)
        names = tuple(self.strings.names)
        made = [block for block in blocks if block is not None]
        return DerivedColumns(self.n, ~undecided, made, names, self.rules.kinds)


def _most_facts(held: Sequence[Mask]) -> int:
    """The most derived facts a profile can hold: one per cell of every variant."""
    return sum(len(h) if h.ndim == 2 else 1 for h in held)


def _and_not(a: Mask, b: Mask) -> Mask:
    """``a & ~b`` in one pass: on booleans ``a > b`` holds exactly when a and not b
    (``~b`` would first write a whole temporary tensor)."""
    out: Mask = np.greater(a, b)
    return out


def _masked(wait: Waits, where: Mask) -> Waits:
    """A wait with "never" where there is no activation (arithmetic: waits are at most
    never, so the max with never-or-0 is the wait or never)."""
    out: Waits = np.maximum(wait, ~where * _NEVER)
    return out


def _from_start(where: Mask) -> Waits:
    """-1 (from the start) where there is an activation, never elsewhere."""
    out: Waits = where * _WAIT(-1 - _NEVER) + _NEVER
    return out


def _ranked(act: Mask, wait: Waits | None, rank: int) -> Waits:
    """``rank`` where an activation waited from the start (``wait`` None: everywhere it
    acts), never elsewhere: by arithmetic, ten times faster than ``np.where``."""
    early = act if wait is None else act & (wait < 0)
    out: Waits = early * _WAIT(rank - _NEVER) + _NEVER
    return out


def _worst(a: Waits | None, b: Waits | None) -> Waits | None:
    """The later of two waits (None: from the start)."""
    if a is None:
        return b
    if b is None:
        return a
    return np.maximum(a, b)


def _severity(variant: _Variant) -> int:
    """Deficit variants most severe first (the Result keeps each competency's most severe)."""
    return SEVERITIES.index(dict(variant.literals)["severity"]) if variant.type == "deficit" else 0


def _literal(kind: str, value: Any, n: int, strings: _Strings) -> Column:
    if kind == STR:
        values: Array = np.full(n, strings.code(value), dtype=np.int64)
    elif kind == NUM:
        values = np.full(n, value, dtype=np.float64)
    else:
        values = _objects([value] * n)
    return Column(values, np.ones(n, dtype=bool))
