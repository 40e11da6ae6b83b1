"""The columnar path: a cohort's facts as numpy columns, every rule run over all of them.

The per-profile backends (``python``, ``fast``, ``durable``) stay the reference;
this module derives the same facts for a whole cohort at once. Each fact type
is one table: a profile number per row, and per field a column of values
(float64 numbers, interned string codes, objects for booleans and lists) with
a column saying whether the row has the field. A pattern's conditions on the
fact alone are one boolean mask over its table; a join pairs the rows of one
profile (sorted by profile, ``searchsorted``) and tests the conditions that
read earlier patterns on the pairs; ``not:`` is such a join whose survivors
block; actions build the new rows column by column. Each stratum is re-run
until it adds nothing (the fixed point), and facts are a set per profile.

What the Result needs beyond the facts is which rule asserted each first
(docs/rules.md, "Running: the agenda"). The driver fires the best-ranked
activation first among those waiting, so the best-ranked rule asserting a fact
asserted it first if its activation waits from the start of the stratum, or
waits only on facts whose best start-of-stratum asserter ranks before every
rival (``_Run._availability``). Otherwise the order depends on the firing
sequence: that profile is given back to the per-profile engine, as are profiles
an uncompilable rule could fire on and profiles deriving more facts than the
firing limit allows. Of the deficits only each competency's most severe is
kept, all a Result holds.

When every rule fits, ``derive_columns`` runs the dense path instead
(``dense.py``: the same output, from boolean tensors over the competency axis);
these fact tables then serve rule sets it does not fit, and the tests that hold
the two paths to the same answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..compiler import FIELD, LITERAL, SubRule, compile_rules
from ..models import Fact
from ..rules import BASE_TYPES, SEVERITIES, Cond, Pattern, Ref, Rule
from ..rules.model import LIST, NUM, STR, field_kinds, literal_kind
from .store import fact_key

__all__ = [
    "ABSENT",
    "BaseColumns",
    "Column",
    "ColumnarRules",
    "Derived",
    "DerivedColumns",
    "FactBlock",
    "Gathered",
    "TypeRows",
    "by_profile",
    "ranks",
    "uncompilable_reason",
    "uncompiled_rules",
]

Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Array = npt.NDArray[Any]

#: What the columnar path gives for one profile: each derived fact with the rule that
#: asserted it first, in no particular order; or None, meaning "ask the per-profile
#: engine" (see the module docstring).
Derived = list[tuple[str, Fact]] | None

_ORDER_OPS = ("lt", "le", "gt", "ge")
_SCALAR_KINDS = (NUM, STR)


class _Strings:
    """Interned strings: a string column holds codes; equal strings, equal codes."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.names: list[str] = []

    def copy(self) -> _Strings:
        """The same codes, interned further independently."""
        other = _Strings()
        other.codes, other.names = dict(self.codes), list(self.names)
        return other

    def code(self, text: str) -> int:
        """The code of ``text``, interned on first sight."""
        found = self.codes.get(text)
        if found is None:
            found = self.codes[text] = len(self.names)
            self.names.append(text)
        return found

    def decode(self, codes: Array) -> Array:
        """The strings of an array of codes, as an object array (for ordered comparison)."""
        table = np.array([*self.names, ""], dtype=object)
        return table[codes]


@dataclass
class Column:
    """One field of a fact table: a value per row (float64 numbers, interned string
    codes, objects for booleans and lists) and whether the row has the field."""

    values: Array
    present: Mask

    def take(self, rows: Ints | Mask) -> Column:
        """Some rows of the column."""
        return Column(self.values[rows], self.present[rows])


@dataclass(frozen=True)
class FactBlock:
    """Derived facts of one type asserted first by one rule's template, as columns.

    Attributes
    ----------
    type : str
        The fact type.
    rule : str
        The rule that asserted each of these facts first.
    order : tuple of str
        The fields in the order the template builds them (a fact's key order).
    pid : ndarray of int64
        Each fact's profile number (its position in the cohort).
    columns : dict
        Field name -> :class:`Column`; string fields hold codes into
        :attr:`DerivedColumns.strings`.
    """

    type: str
    rule: str
    order: tuple[str, ...]
    pid: Ints
    columns: dict[str, Column]


@dataclass(frozen=True)
class DerivedColumns:
    """What the columnar path derives for a cohort, as columns: no dict per fact.

    Attributes
    ----------
    n : int
        The number of profiles.
    decided : ndarray of bool
        Per profile, whether the columnar path decided it; a profile not decided
        goes to the per-profile engine (see the module docstring).
    blocks : list of FactBlock
        The derived facts (of decided and undecided profiles alike), in the order
        they were found.
    strings : tuple of str
        The strings the string columns' codes stand for.
    kinds : dict
        Fact type -> field -> kind (``rules.field_kinds``).
    """

    n: int
    decided: Mask
    blocks: list[FactBlock]
    strings: tuple[str, ...]
    kinds: Mapping[str, Mapping[str, str]]

    def facts(self) -> list[Derived]:
        """Per profile, its derived facts as dicts with their rules, or None.

        Returns
        -------
        list of Derived
            One per profile, in order: each derived fact (fields in the asserting
            template's order) with the rule that asserted it first, or None when
            the profile must be diagnosed by the per-profile engine.
        """
        derived: list[list[tuple[str, Fact]]] = [[] for _ in range(self.n)]
        names = np.array([*self.strings, ""], dtype=object)
        for block in self.blocks:
            _file_facts(block, self.kinds[block.type], names, derived)
        decided = self.decided.tolist()
        return [facts if decided[i] else None for i, facts in enumerate(derived)]

    def gather(self, types: Collection[str]) -> Gathered:
        """The derived facts of some types row by row, each row naming its distinct fact.

        What :meth:`facts` gives without a dict per fact: a cohort asserts a few
        thousand distinct facts (a need is its rule's literals and a competency), so
        whatever is made of a fact is made once per distinct one, and per profile
        only indices are gathered (:func:`by_profile`).

        Parameters
        ----------
        types : collection of str
            The fact types wanted.

        Returns
        -------
        Gathered
            Rows in the order :meth:`facts` lists the facts of each profile.
        """
        names = np.array([*self.strings, ""], dtype=object)
        pids: list[Ints] = []
        which: list[Ints] = []
        facts: list[tuple[str, Fact]] = []
        for block in self.blocks:
            if block.type not in types or not len(block.pid):
                continue
            kinds = self.kinds[block.type]
            ids, firsts = _distinct_rows(block, kinds)
            columns = {name: col.take(firsts) for name, col in block.columns.items()}
            sample = FactBlock(block.type, block.rule, block.order, block.pid[firsts], columns)
            which.append(ids + len(facts))
            facts.extend((block.rule, fact) for fact in _block_facts(sample, kinds, names))
            pids.append(block.pid)
        pid = np.concatenate(pids) if pids else np.zeros(0, dtype=np.int64)
        rows = np.concatenate(which) if which else np.zeros(0, dtype=np.int64)
        return Gathered(pid, rows, facts)


@dataclass(frozen=True)
class Gathered:
    """Derived facts of some types, row by row (:meth:`DerivedColumns.gather`).

    Attributes
    ----------
    pid : ndarray of int64
        Each row's profile; rows in the order the fact-dict path lists them (block
        by block, in each block row by row).
    which : ndarray of int64
        Each row's distinct fact: a position in :attr:`facts`.
    facts : list of (str, Fact)
        The distinct facts, each with the rule that asserted it first.
    """

    pid: Ints
    which: Ints
    facts: list[tuple[str, Fact]]


def ranks(keys: Sequence[Any]) -> Ints:
    """Each key's place in the sorted keys, equal keys sharing one (so a stable sort by
    these places keeps equal keys in the order they came, as ``sorted`` would)."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    out = [0] * len(keys)
    place = 0
    for before, at in itertools.pairwise(order):
        place += keys[at] != keys[before]
        out[at] = place
    return np.array(out, dtype=np.int64)


def by_profile(n: int, pid: Ints, key: Ints, values: Array) -> list[list[Any]]:
    """Per profile, the values of its rows sorted by ``key`` (stable: rows of equal keys
    stay in their order), for ``n`` profiles.

    Parameters
    ----------
    n : int
        The number of profiles.
    pid, key : ndarray of int64
        Each row's profile and sort key.
    values : ndarray of object
        Each row's value.

    Returns
    -------
    list of list
        One list per profile, in profile order.
    """
    order = np.lexsort((key, pid))  # lexsort is stable
    flat = values[order].tolist()
    ends = np.cumsum(np.bincount(pid, minlength=n)).tolist()
    return [flat[start:end] for start, end in zip([0, *ends], ends, strict=False)]


def _distinct_rows(block: FactBlock, kinds: Mapping[str, str]) -> tuple[Ints, Ints]:
    """Each row's distinct fact of the block (dense numbers), and each
    distinct fact's first row. Numbers are told apart by their bits (``-0.0`` is not
    ``0.0`` in JSON); a row with a boolean or list field is a fact of its own."""
    count = len(block.pid)
    parts = [np.zeros(count, dtype=np.int64)]
    for name in block.order:
        col = block.columns[name]
        if kinds[name] == STR:
            parts.append(np.where(col.present, col.values, -1))
        elif kinds[name] == NUM:
            parts.append(np.where(col.present, col.values, 0.0).view(np.int64))
            parts.append(col.present.astype(np.int64))
        else:
            every = np.arange(count, dtype=np.int64)
            return every, every
    ids, _count = _row_ids(np.stack(parts, axis=1))
    _uniq, firsts = np.unique(ids, return_index=True)
    return ids, firsts


def _file_facts(
    block: FactBlock,
    kinds: Mapping[str, str],
    names: Array,
    derived: list[list[tuple[str, Fact]]],
) -> None:
    """A block's facts as the driver would have built them, each filed under its profile."""
    rule = block.rule
    for pid, fact in zip(block.pid.tolist(), _block_facts(block, kinds, names), strict=True):
        derived[pid].append((rule, fact))


def _block_facts(block: FactBlock, kinds: Mapping[str, str], names: Array) -> list[Fact]:
    """A block's facts as the driver would have built them, row by row.

    Each field is turned into a Python list at once (``tolist``), so building a fact
    is one ``dict.update`` of zipped values when it has every field.
    """
    ftype, order = block.type, block.order
    values, present = [], []
    for name in order:
        col = block.columns[name]
        raw = col.values
        if kinds[name] == STR:
            raw = names[np.where(col.present, raw, -1)]
        values.append(raw.tolist())
        present.append(col.present)
    complete = np.logical_and.reduce(present).tolist() if present else None
    present_rows = list(zip(*[p.tolist() for p in present], strict=True))
    facts: list[Fact] = []
    for i, vals in enumerate(zip(*values, strict=True) if order else [()] * len(block.pid)):
        fact: Fact = {"type": ftype}
        if complete is None or complete[i]:
            fact.update(zip(order, vals, strict=True))
        else:
            given = zip(order, vals, present_rows[i], strict=True)
            fact.update((n, v) for n, v, p in given if p)
        facts.append(fact)
    return facts


@dataclass
class _Table:
    """One fact type's rows: profile numbers, the stratum each row was added in (-1: base
    facts), and a column per field."""

    pid: Ints
    born: Ints
    columns: dict[str, Column]
    step: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # pass added in

    def __len__(self) -> int:
        return len(self.pid)


def _empty_column(kind: str, n: int = 0) -> Column:
    return Column(np.zeros(n, dtype=_dtype(kind)), np.zeros(n, dtype=bool))


def _dtype(kind: str) -> Any:
    return {NUM: np.float64, STR: np.int64}.get(kind, object)


def uncompilable_reason(sub: SubRule, kinds: Mapping[str, Mapping[str, str]]) -> str | None:
    """Why the columnar path cannot run a sub-rule, or None when it can.

    Parameters
    ----------
    sub : SubRule
        A compiled sub-rule.
    kinds : mapping
        Fact type -> field -> kind (:func:`~deficit_engine.rules.field_kinds`).

    Returns
    -------
    str or None
        A short reason (the first found), or None.
    """
    types = {p.alias: p.type for p in sub.positives}
    for pat in (*sub.positives, *sub.negatives):
        for cond in pat.conds:
            why = _cond_reason(cond, pat, types, kinds)
            if why:
                return why
    for ftype, fields in sub.actions:
        if ftype in BASE_TYPES:
            return f"it asserts a {ftype} fact"
        for name, mode, payload, _required in fields:
            target = kinds.get(ftype, {}).get(name, STR)
            if mode == FIELD:
                source = kinds.get(sub.positives[payload[0]].type, {}).get(payload[1], STR)
                if source != target:
                    return f"it copies a {source} into the {target} field {name!r}"
            elif mode != LITERAL:
                return f"the value of {name!r} mixes literals and references"
    return None


def _operand_kind(value: Any, types: Mapping[str, str], kinds: Any) -> str:
    if isinstance(value, Ref):
        return str(kinds.get(types.get(value.alias, ""), {}).get(value.field, STR))
    return literal_kind(value)


def _cond_reason(
    cond: Cond, pat: Pattern, types: Mapping[str, str], kinds: Mapping[str, Mapping[str, str]]
) -> str | None:
    fkind = kinds.get(pat.type, {}).get(cond.field)
    if cond.op == "exists" or fkind is None:
        return None  # presence only, or a field no fact of the type has
    if cond.op == "contains":
        ok = fkind == LIST and literal_kind(cond.value) in _SCALAR_KINDS
        return None if ok else f"'contains' on the {fkind} field {cond.field!r}"
    if fkind not in _SCALAR_KINDS:
        return f"{cond.op!r} on the {fkind} field {cond.field!r}"
    operands = cond.value if cond.op in ("in", "not_in", "between") else [cond.value]
    for item in operands:
        okind = _operand_kind(item, types, kinds)
        if okind != fkind:
            return f"{cond.op!r} compares the {fkind} field {cond.field!r} with a {okind}"
    return None


def uncompiled_rules(rules: Sequence[Rule]) -> dict[str, str]:
    """The rules the columnar path leaves to the per-profile engine, each with why.

    Parameters
    ----------
    rules : sequence of Rule
        A checked rule set (a KB's rules).

    Returns
    -------
    dict
        Rule id -> the first reason found, in rule order; empty when every rule compiles.
    """
    return ColumnarRules(compile_rules(rules), field_kinds(rules), {}).uncompiled


# --- building the tables -------------------------------------------------------------


class _Builder:
    """Facts of one type gathered, then made into a table field by field."""

    def __init__(self, kinds: Mapping[str, str], strings: _Strings) -> None:
        self.kinds = kinds
        self.strings = strings
        self.pid: list[int] = []
        self.facts: list[Fact] = []

    def table(self, born: int) -> _Table:
        """The gathered facts as a table whose rows were born in stratum ``born``.

        This reads every field of every base fact, so each column is one list
        comprehension: numbers absent are NaN (no fact holds NaN), strings absent -1.
        """
        facts = self.facts

        def values(name: str, kind: str) -> list[Any]:
            if kind == NUM:
                return [f.get(name, np.nan) for f in facts]
            if kind == STR:
                return [f.get(name) for f in facts]
            return [f.get(name, _ABSENT) for f in facts]

        return _table(self.kinds, self.strings, self.pid, values, born)


def _table(
    kinds: Mapping[str, str],
    strings: _Strings,
    pid: Sequence[int],
    values: Callable[[str, str], list[Any] | None],
    born: int,
) -> _Table:
    """A table of ``len(pid)`` rows born in stratum ``born``, a column per field of
    ``kinds`` from ``values(name, kind)``: a value per row, an absent one NaN for a
    number, None for a string, :data:`ABSENT` otherwise; None when every row lacks
    the field. Strings are coded in field order, then row order (the codes of a
    cohort's tables do not depend on how the rows were gathered)."""
    n = len(pid)
    columns = {}
    for name, kind in kinds.items():
        raw = values(name, kind)
        column: Array
        if raw is None:
            if kind in _SCALAR_KINDS:
                columns[name] = _empty_column(kind, n)
                continue
            raw = [_ABSENT] * n
        if kind == NUM:
            column = np.array(raw, dtype=np.float64)
            present = ~np.isnan(column)
            column[~present] = 0.0
        elif kind == STR:
            column = _codes(strings, raw)
            present = column >= 0
            column[~present] = 0
        else:
            present = np.array([v is not _ABSENT for v in raw], dtype=bool)
            column = _objects([v if v is not _ABSENT else None for v in raw])
        columns[name] = Column(column, present)
    pids = np.array(pid, dtype=np.int64)
    table = _Table(pids, np.full(n, born, dtype=np.int64), columns)
    table.step = np.zeros(n, dtype=np.int64)
    return table


def _codes(strings: _Strings, raw: list[Any]) -> Ints:
    """The codes of strings (None: -1), a dict lookup each in the common case."""
    known: dict[Any, int] = {None: -1, **strings.codes}

    def intern(text: str) -> int:
        known[text] = strings.code(text)
        return known[text]

    return np.array([known[v] if v in known else intern(v) for v in raw], dtype=np.int64)


_ABSENT = object()
#: What a column of neither numbers nor strings holds for a row without the field.
ABSENT: Any = _ABSENT


@dataclass(frozen=True)
class BaseColumns:
    """A cohort's base facts as one table per fact type: what the rules run over.

    Made by :meth:`ColumnarRules.base_columns`; building it reads every field of
    every base fact once, and is kept apart from :meth:`ColumnarRules.derive_columns`
    so the two can be measured (and the tables made some other way) separately.

    Attributes
    ----------
    n : int
        The number of profiles.
    tables : dict
        Fact type -> its rows (profile numbers and a column per field).
    strings : _Strings
        The codes of the string columns.
    """

    n: int
    tables: Mapping[str, _Table]
    strings: _Strings


def _base_columns(
    kinds: Mapping[str, Mapping[str, str]], cohort: Sequence[Sequence[Fact]]
) -> BaseColumns:
    """The tables of a cohort's base facts (see :class:`BaseColumns`)."""
    strings = _Strings()
    builders = {t: _Builder(k, strings) for t, k in kinds.items()}
    by_type = {t: (b.pid.append, b.facts.append) for t, b in builders.items()}
    for pid, facts in enumerate(cohort):
        for fact in facts:
            add_pid, add_fact = by_type[fact["type"]]
            add_pid(pid)
            add_fact(fact)
    return BaseColumns(len(cohort), {t: b.table(-1) for t, b in builders.items()}, strings)


#: A fact type's rows as :meth:`ColumnarRules.base_columns_of` takes them.
TypeRows = tuple[Sequence[int], Callable[[str, str], "list[Any] | None"]]
_NO_TYPE_ROWS: TypeRows = ((), lambda _name, _kind: None)


def _objects(items: list[Any]) -> Array:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


# --- matching ------------------------------------------------------------------------


def _pairs(left_pid: Ints, rows: Ints, table: _Table) -> tuple[Ints, Ints]:
    """Every (left position, table row) with the same profile, rows from ``rows``."""
    rpid = table.pid[rows]
    if len(rpid) > 1 and (rpid[1:] < rpid[:-1]).any():  # base tables are in profile order
        order = np.argsort(rpid, kind="stable")
        rows, rpid = rows[order], rpid[order]
    starts = np.searchsorted(rpid, left_pid, "left")
    counts = np.searchsorted(rpid, left_pid, "right") - starts
    left = np.repeat(np.arange(len(left_pid), dtype=np.int64), counts)
    offsets = np.arange(len(left), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return left, rows[np.repeat(starts, counts) + offsets]


@dataclass
class _Binding:
    """Activations under construction: per profile, the rows bound to each pattern so far."""

    pid: Ints
    rows: list[Ints]
    tables: list[_Table]

    def take(self, keep: Ints | Mask) -> _Binding:
        return _Binding(self.pid[keep], [r[keep] for r in self.rows], self.tables)


class DenseStage(Protocol):
    """The dense path's compiled rules (``dense.DenseRules``), as this module sees them:
    named by what they do, since ``dense`` builds on this module and not the reverse."""

    def derive(self, base: BaseColumns, limit: int) -> DerivedColumns:
        """The facts the rules derive: :meth:`ColumnarRules.derive_columns`'s answer."""


class ColumnarRules:
    """A rule set compiled once per KB to run over whole cohorts.

    Parameters
    ----------
    strata : sequence of sequences of SubRule
        The compiled sub-rules (``compiler.compile_rules``).
    kinds : mapping
        Fact type -> field -> kind (``rules.field_kinds`` of the KB's rules).
    groups : mapping
        Competency id -> its group id (completes asserted deficits as the engine does).

    Attributes
    ----------
    uncompiled : dict
        Rule id -> why it cannot run here; profiles it could fire on go to the
        per-profile engine.
    """

    def __init__(
        self,
        strata: Sequence[Sequence[SubRule]],
        kinds: Mapping[str, Mapping[str, str]],
        groups: Mapping[str, str],
    ) -> None:
        self.kinds = {t: dict(f) for t, f in kinds.items()}
        self.groups = dict(groups)
        self.strata: list[list[SubRule]] = []
        self.fallback: list[SubRule] = []
        self.uncompiled: dict[str, str] = {}
        for subs in strata:
            kept = []
            for sub in subs:
                why = uncompilable_reason(sub, self.kinds)
                if why is None:
                    kept.append(sub)
                else:
                    self.fallback.append(sub)
                    self.uncompiled.setdefault(sub.rule.id, why)
            self.strata.append(kept)
        # The agenda ranks rules by priority (higher first), then rule order.
        ranked = sorted(
            {s.rule.id: s.rule for subs in strata for s in subs}.values(),
            key=lambda r: (-r.priority, r.order),
        )
        self.rank = {rule.id: i for i, rule in enumerate(ranked)}
        self.dense: DenseStage | None = None
        #: Why the dense path does not run this rule set (None: it does).
        self.dense_unfit: str | None = "some rules run on the per-profile engine"
        if not self.fallback:
            # dense.py builds on this module's columns, so it is imported only here
            from .dense import compile_dense

            compiled = compile_dense(self.strata, self.kinds, self.groups, self.rank)
            if isinstance(compiled, str):
                self.dense_unfit = compiled
            else:
                self.dense, self.dense_unfit = compiled, None

    def derive(self, cohort: Sequence[Sequence[Fact]], limit: int) -> list[Derived]:
        """The facts the rules derive for each profile, with the rule that asserted each first.

        The facts of :meth:`derive_columns`, made into dicts per profile.

        Parameters
        ----------
        cohort : sequence of sequences of Fact
            Each profile's base facts (``engine.base_facts``).
        limit : int
            The firing limit (see :meth:`derive_columns`).

        Returns
        -------
        list of Derived
            One per profile, in order: the derived facts with their rules, or None
            when that profile must be diagnosed by the per-profile engine.
        """
        return self.derive_columns(self.base_columns(cohort), limit).facts()

    def base_columns(self, cohort: Sequence[Sequence[Fact]]) -> BaseColumns:
        """A cohort's base facts as tables, what :meth:`derive_columns` runs over.

        Parameters
        ----------
        cohort : sequence of sequences of Fact
            Each profile's base facts (``engine.base_facts``).

        Returns
        -------
        BaseColumns
            One table per fact type the rules know.
        """
        return _base_columns(self.kinds, cohort)

    def base_columns_of(self, n: int, rows: Mapping[str, TypeRows]) -> BaseColumns:
        """A cohort's base facts as tables made from their rows, field by field.

        What :meth:`base_columns` makes of each profile's fact dicts, made without
        them: a batch's normalised chunk gives each type's rows as columns
        (``engine._chunk_columns``), so no dict is made per fact.

        Parameters
        ----------
        n : int
            The number of profiles.
        rows : mapping
            Fact type -> its rows: their profile numbers, in profile order (within a
            profile in the order ``engine.base_facts`` gives them), and a function of
            (field, kind) giving the field's value in each row (see :func:`_table`).

        Returns
        -------
        BaseColumns
            The tables :meth:`base_columns` makes of the same facts.

        Raises
        ------
        KeyError
            A type with rows is not one the rules know (as :meth:`base_columns`).
        """
        for name, (pid, _values) in rows.items():
            if len(pid) and name not in self.kinds:
                raise KeyError(name)
        strings = _Strings()
        tables = {
            name: _table(kinds, strings, *rows.get(name, _NO_TYPE_ROWS), -1)
            for name, kinds in self.kinds.items()
        }
        return BaseColumns(n, tables, strings)

    def derive_columns(
        self, base: BaseColumns, limit: int, *, dense: bool = True
    ) -> DerivedColumns:
        """The facts the rules derive for each profile, with the rule that asserted each first.

        This is the diagnose stage of the columnar path: tables in, columns out, no
        dict per fact either way.

        Parameters
        ----------
        base : BaseColumns
            The cohort's base facts as tables (:meth:`base_columns`).
        limit : int
            The firing limit: a profile deriving more facts than this goes to the
            per-profile engine (which then says whether the limit is reached).
        dense : bool
            Run the dense path when every rule compiled to it (:attr:`dense`); False
            runs the generic fact tables (the two give the same facts).

        Returns
        -------
        DerivedColumns
            The derived facts as columns, and which profiles the columnar path
            decided (the others must be diagnosed by the per-profile engine).
        """
        if dense and self.dense is not None:
            return self.dense.derive(base, limit)
        run = _Run(self, base)
        for k, subs in enumerate(self.strata):
            run.stratum(k, subs)
        return run.outcome(limit, self.fallback)


@dataclass
class _Output:
    """What the templates asserting one fact type produced in a pass: per row, the
    profile, the asserting rule's rank and id, whether its activation waited from the
    start of the stratum, which template (for the field order), and the columns."""

    pid: Ints
    rank: Ints
    waited: Mask
    template: Ints
    columns: dict[str, Column]
    orders: list[tuple[str, tuple[str, ...]]]  # per template: rule id, field order
    # per positive pattern of the activation: its type, the bound table rows, and
    # whether each was added in this stratum (only before outputs are merged)
    deps: list[tuple[str, Ints, Mask]] = field(default_factory=list)
    # how late the activation can be waiting: -1 if it waits from the start, else the
    # worst rank among the best asserters that wait from the start of the facts it binds
    avail: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # per row, the table row holding the fact it asserts (set when the pass adds it)
    facts: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class _Conditions:
    """Conditions tested over table rows (``semantics.holds``, vectorised): the generic
    path's joins and the dense path's base-fact patterns share this."""

    def __init__(self, strings: _Strings, kinds: Mapping[str, Mapping[str, str]]) -> None:
        self.strings = strings
        self.kinds = kinds

    def _operand(
        self, value: Any, n: int, act: _Binding | None, aliases: Mapping[str, int]
    ) -> tuple[Any, Mask]:
        """A condition's operand for each of ``n`` rows: its values and whether present."""
        if isinstance(value, Ref):
            assert act is not None
            pos = aliases[value.alias]
            column = act.tables[pos].columns.get(value.field)
            if column is None:
                return np.zeros(n), np.zeros(n, dtype=bool)
            rows = act.rows[pos]
            return column.values[rows], column.present[rows]
        if isinstance(value, str):
            return self.strings.code(value), np.ones(n, dtype=bool)
        return value, np.ones(n, dtype=bool)

    def _holds(
        self,
        cond: Cond,
        pat: Pattern,
        table: _Table,
        rows: Ints | None,
        act: _Binding | None,
        aliases: Mapping[str, int],
    ) -> Mask:
        """Whether the condition holds for each row (semantics.holds, vectorised); rows
        None: every row of the table, read in place."""
        column = table.columns.get(cond.field)
        n = len(table) if rows is None else len(rows)
        if column is None:  # no fact of the type has the field
            return np.full(n, cond.op == "exists" and cond.value is False)
        present, x = column.present, column.values
        if rows is not None:
            present, x = present[rows], x[rows]
        if cond.op == "exists":
            return present if cond.value else ~present
        if cond.op == "contains":
            found = [isinstance(item, list) and cond.value in item for item in x]
            contains: Mask = present & np.array(found, dtype=bool)
            return contains
        string = self.kinds[pat.type][cond.field] == STR
        if cond.op in ("in", "not_in"):
            hit = np.zeros(n, dtype=bool)
            for item in cond.value:
                v, ok = self._operand(item, n, act, aliases)
                hit |= ok & (x == v)
            return present & (hit if cond.op == "in" else ~hit)
        if cond.op == "between":
            lo, lo_ok = self._operand(cond.value[0], n, act, aliases)
            hi, hi_ok = self._operand(cond.value[1], n, act, aliases)
            above = self._compare("ge", x, lo, string)
            return present & lo_ok & hi_ok & above & self._compare("le", x, hi, string)
        v, ok = self._operand(cond.value, n, act, aliases)
        return present & ok & self._compare(cond.op, x, v, string)

    def _compare(self, op: str, x: Any, v: Any, string: bool) -> Mask:
        if op in _ORDER_OPS and string:  # codes are not in string order: compare the text
            x = self.strings.decode(x)
            v = self.strings.decode(v) if isinstance(v, np.ndarray) else self.strings.names[v]
        out: Mask = np.asarray(_COMPARE[op](x, v), dtype=bool)
        return out


class _Run(_Conditions):
    """One cohort's tables and the bookkeeping of who asserted what first."""

    def __init__(self, rules: ColumnarRules, base: BaseColumns) -> None:
        # the run interns more strings: the input stays as given
        super().__init__(base.strings.copy(), rules.kinds)
        self.rules = rules
        self.n = base.n
        self.objects: dict[Any, int] = {}  # boolean and list values, for fact identity
        self.tables = dict(base.tables)
        pairs = [(self.strings.code(c), self.strings.code(g)) for c, g in rules.groups.items()]
        self.group_of_code = np.full(len(self.strings.names), -1, dtype=np.int64)
        for comp, group in pairs:
            self.group_of_code[comp] = group
        self.empty = _Builder({}, self.strings).table(-1)
        self.scores = self._scores()
        self.index: dict[str, _Index] = {}  # derived type -> its table rows' identities
        self.new_count = np.zeros(self.n, dtype=np.int64)
        self.undecided = np.zeros(self.n, dtype=bool)
        self.blocks: list[FactBlock] = []  # the derived facts, in the order found
        self.alphas: dict[int, tuple[int, Mask]] = {}  # id(pattern) -> rows tested, mask
        self.current = 0  # the stratum running: rows born before it waited from its start
        self.step = 0  # passes so far; a table row keeps the pass that added it
        self.since = -1  # rows of this pass or later are new to the next pass

    def _scores(self) -> tuple[Ints, Array]:
        """Sorted (profile, competency code) keys and their score_pct, to complete deficits."""
        table = self.tables["result"]
        comp, pct = table.columns["competency"], table.columns["score_pct"]
        ok = comp.present & pct.present
        keys = table.pid[ok] * _CODE_SPACE + comp.values[ok]
        order = np.argsort(keys, kind="stable")
        return keys[order], pct.values[ok][order]

    # --- a stratum to its fixed point -------------------------------------------------

    def stratum(self, k: int, subs: Sequence[SubRule]) -> None:
        """Run a stratum's sub-rules until a pass adds nothing; then every activation
        found names, for each fact the stratum added, a rule that asserts it.

        Semi-naive: a pass after the first matches only the activations binding a fact
        the previous pass added (activations are never withdrawn within a stratum: its
        ``not:`` patterns read lower strata), so a rule reading no type this stratum
        asserts is matched once.
        """
        self.current = k
        self.since = -1  # the first pass matches everything
        asserted = {ftype for sub in subs for ftype, _fields in sub.actions}
        found: list[list[list[_Output]]] = [[[] for _a in sub.actions] for sub in subs]
        while True:
            self.step += 1
            new = self._produce_all(subs, asserted, found)
            produced = {ftype: self._merge(ftype, outs) for ftype, outs in new.items() if outs}
            self.since = self.step
            added = [self._add(k, ftype, out) for ftype, out in produced.items()]
            for ftype, out in produced.items():  # each activation keeps its fact's row
                bounds = np.cumsum([len(o.pid) for o in new[ftype]])[:-1]
                for part, rows in zip(new[ftype], np.split(out.facts, bounds), strict=True):
                    part.facts = rows
            if not any(added):
                break
        parts: dict[str, list[_Output]] = {}
        for sub, outs in zip(subs, found, strict=True):
            for (ftype, _fields), template_outs in zip(sub.actions, outs, strict=True):
                parts.setdefault(ftype, []).extend(template_outs)
        produced = {ftype: self._merge(ftype, outs) for ftype, outs in parts.items()}
        ids = {ftype: np.concatenate([o.facts for o in outs]) for ftype, outs in parts.items()}
        self._availability(k, parts, produced, ids)
        for ftype, out in produced.items():
            self._attribute(k, ftype, out, ids[ftype])

    def _availability(
        self,
        k: int,
        parts: Mapping[str, list[_Output]],
        produced: Mapping[str, _Output],
        rows_of: Mapping[str, Ints],
    ) -> None:
        """Each activation's ``avail``: an activation binding facts of this stratum is on
        the agenda once they are asserted, which is at the latest when the best-ranked
        of their asserters that waited from the start fires (nothing ranked after it
        fires before). So it fires before any activation ranked after ``avail``."""
        ready: dict[str, Ints] = {}
        for ftype, out in produced.items():
            rows = rows_of[ftype]
            best = np.full(len(self.tables[ftype]), _NEVER, dtype=np.int64)
            early = out.waited & (self._born(ftype, rows) == k)
            np.minimum.at(best, rows[early], out.rank[early])
            ready[ftype] = best
        for ftype, outs in parts.items():
            for out in outs:
                out.avail = np.full(len(out.pid), -1, dtype=np.int64)
                for dtype, rows, here in out.deps:
                    late = ready[dtype][rows] if dtype in ready else np.full(len(rows), _NEVER)
                    out.avail = np.maximum(out.avail, np.where(here, late, -1))
            produced[ftype].avail = np.concatenate([o.avail for o in outs])

    def _born(self, ftype: str, rows: Ints) -> Ints:
        """The stratum each table row was born in (-2 for -1: no row)."""
        born: Ints = np.where(rows >= 0, self.tables[ftype].born[rows], -2)
        return born

    def _produce_all(
        self, subs: Sequence[SubRule], asserted: set[str], found: list[list[list[_Output]]]
    ) -> dict[str, list[_Output]]:
        """What the activations new in this pass assert, per type; each is also kept in
        ``found`` (per sub-rule, per template)."""
        parts: dict[str, list[_Output]] = {}
        for sub, outs in zip(subs, found, strict=True):
            act = self._new_activations(sub, asserted)
            if act is None:
                continue
            if sub.negatives and len(act.pid):
                act = act.take(~self._blocked(sub, act))
            waited = np.ones(len(act.pid), dtype=bool)
            for rows, table in zip(act.rows, act.tables, strict=True):
                waited &= table.born[rows] < self.current
            for index in range(len(sub.actions)):
                out = self._build(sub, index, act, waited)
                parts.setdefault(sub.actions[index][0], []).append(out)
                outs[index].append(out)
        return parts

    def _new_activations(self, sub: SubRule, asserted: set[str]) -> _Binding | None:
        """The activations binding a fact the previous pass added (all on the first
        pass); None when there can be none. Pattern ``j`` binds a new fact and the
        dynamic patterns before it old ones, so each activation is found once."""
        if self.since < 0:
            return self._activations(sub, {})
        dynamic = [j for j, pat in enumerate(sub.positives) if pat.type in asserted]
        if not dynamic:
            return None
        found = [self._activations(sub, {i: i == j for i in dynamic if i <= j}) for j in dynamic]
        return _join_bindings(found)

    def _merge(self, ftype: str, outs: list[_Output]) -> _Output:
        orders: list[tuple[str, tuple[str, ...]]] = []
        templates = []
        for out in outs:
            templates.append(out.template + len(orders))
            orders.extend(out.orders)
        columns = {
            name: Column(
                np.concatenate([o.columns[name].values for o in outs]),
                np.concatenate([o.columns[name].present for o in outs]),
            )
            for name in self.rules.kinds[ftype]
        }
        return _Output(
            np.concatenate([o.pid for o in outs]),
            np.concatenate([o.rank for o in outs]),
            np.concatenate([o.waited for o in outs]),
            np.concatenate(templates),
            columns,
            orders,
        )

    def _activations(self, sub: SubRule, new: Mapping[int, bool]) -> _Binding:
        """The sub-rule's activations; a pattern ``i`` in ``new`` binds only facts the
        previous pass added (``new[i]``) or only facts added before it."""
        if not sub.positives:
            return _Binding(np.arange(self.n, dtype=np.int64), [], [])
        act: _Binding | None = None
        for i, pat in enumerate(sub.positives):
            table = self.tables.get(pat.type, self.empty)
            alpha = self._alpha(pat, table)
            if i in new:
                alpha = alpha & ((table.step >= self.since) == new[i])
            rows = np.flatnonzero(alpha)
            if act is None:
                act = _Binding(table.pid[rows], [rows], [table])
                continue
            left, right = _pairs(act.pid, rows, table)
            act = act.take(left)
            act = _Binding(act.pid, [*act.rows, right], [*act.tables, table])
            keep = self._joined(pat, table, right, act, sub)
            for j in range(i):
                if sub.positives[j].type == pat.type:
                    keep &= act.rows[j] != right
            act = act.take(keep)
        assert act is not None
        return act

    def _alpha(self, pat: Pattern, table: _Table) -> Mask:
        """The rows meeting the pattern's conditions that read no other fact.

        Tables only grow, by rows appended, so each pattern's mask is kept and only
        the rows added since it was last asked are tested (read-only: callers copy).
        """
        done, mask = self.alphas.get(id(pat), (0, _NO_ROWS))
        if done < len(table):
            rows = np.arange(done, len(table))
            more = np.ones(len(rows), dtype=bool)
            for cond in pat.conds:
                if not _has_ref(cond.value):
                    more &= self._holds(cond, pat, table, rows, None, {})
            mask = np.concatenate([mask, more]) if done else more
            self.alphas[id(pat)] = (len(table), mask)
        return mask

    def _joined(self, pat: Pattern, table: _Table, rows: Ints, act: _Binding, sub: SubRule) -> Mask:
        """The pairs meeting the pattern's conditions that read earlier patterns."""
        mask = np.ones(len(rows), dtype=bool)
        for cond in pat.conds:
            if _has_ref(cond.value):
                mask &= self._holds(cond, pat, table, rows, act, sub.aliases)
        return mask

    def _blocked(self, sub: SubRule, act: _Binding) -> Mask:
        blocked = np.zeros(len(act.pid), dtype=bool)
        for pat in sub.negatives:
            table = self.tables.get(pat.type, self.empty)
            rows = np.nonzero(self._alpha(pat, table))[0].astype(np.int64)
            left, right = _pairs(act.pid, rows, table)
            pairs = act.take(left)
            hit = self._joined(pat, table, right, pairs, sub)
            blocked[left[hit]] = True
        return blocked

    # --- actions -------------------------------------------------------------------

    def _build(self, sub: SubRule, index: int, act: _Binding, waited: Mask) -> _Output:
        """What one template asserts per activation (rows missing a required field left
        out), as the driver's ``_build`` and the engine's deficit enrichment make it."""
        ftype, fields = sub.actions[index]
        kinds = self.rules.kinds[ftype]
        n = len(act.pid)
        keep = np.ones(n, dtype=bool)
        given: dict[str, Column] = {}
        for name, mode, payload, required in fields:
            if mode == LITERAL:
                given[name] = self._literal_column(kinds.get(name, STR), payload, n)
                continue
            pos, fname = payload
            column = act.tables[pos].columns.get(fname)
            if column is None:
                given[name] = _empty_column(kinds.get(name, STR), n)
            else:
                rows = act.rows[pos]
                given[name] = column.take(rows)
            if required:
                keep &= given[name].present
        order = tuple(name for name, *_ in fields)
        if ftype == "deficit":
            given, order = self._enrich(act.pid, given), _DEFICIT_ORDER
        chosen = np.nonzero(keep)[0]
        columns = {}
        for name, kind in kinds.items():
            col = given.get(name) or _empty_column(kind, n)
            columns[name] = col.take(chosen)
        rank = self.rules.rank[sub.rule.id]
        return _Output(
            act.pid[chosen],
            np.full(len(chosen), rank, dtype=np.int64),
            waited[chosen],
            np.zeros(len(chosen), dtype=np.int64),
            columns,
            [(sub.rule.id, order)],
            [
                (pat.type, rows[chosen], table.born[rows[chosen]] == self.current)
                for pat, rows, table in zip(sub.positives, act.rows, act.tables, strict=True)
            ],
        )

    def _literal_column(self, kind: str, value: Any, n: int) -> Column:
        if kind == STR:
            values: Array = np.full(n, self.strings.code(value), dtype=np.int64)
        elif kind == NUM:
            values = np.full(n, value, dtype=np.float64)
        else:
            values = _objects([value] * n)
        return Column(values, np.ones(n, dtype=bool))

    def _enrich(self, pid: Ints, given: Mapping[str, Column]) -> dict[str, Column]:
        """Deficits as the engine completes them: the competency, its group, the
        severity, and the competency's score in the profile, when it has one."""
        n = len(pid)
        comp = given["competency"]
        groups = self.group_of_code
        known = comp.present & (comp.values < len(groups))
        group = np.where(known, groups[np.minimum(comp.values, len(groups) - 1)], -1)
        keys, pct = self.scores
        wanted = pid * _CODE_SPACE + comp.values
        pos = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        scored = comp.present & (keys[pos] == wanted) if len(keys) else np.zeros(n, dtype=bool)
        severity = given.get("severity") or Column(np.zeros(n, dtype=np.int64), np.ones(n, bool))
        return {
            "competency": comp,
            "group": Column(np.maximum(group, 0), group >= 0),
            "severity": severity,
            "score_pct": Column(pct[pos] if len(keys) else np.zeros(n), scored),
        }

    # --- the store ---------------------------------------------------------------------

    def _keys(self, ftype: str, pid: Ints, columns: Mapping[str, Column]) -> Ints:
        """Each row's identity as integers: its profile, then per field its value (a
        string's code, a number's bits, a boolean's or list's code), -1 or NaN's bits
        when absent (values are never NaN)."""
        parts = [pid]
        for name, kind in self.rules.kinds[ftype].items():
            col = columns[name]
            if kind == NUM:
                parts.append(np.where(col.present, col.values + 0.0, np.nan).view(np.int64))
            elif kind == STR:
                parts.append(np.where(col.present, col.values, -1))
            else:
                codes = [self._object_code(v) for v in col.values]
                parts.append(np.where(col.present, np.array(codes, dtype=np.int64), -1))
        return np.stack(parts, axis=1)

    def _object_code(self, value: Any) -> int:
        key = fact_key({"v": value})
        return self.objects.setdefault(key, len(self.objects))

    def _index(self, ftype: str) -> _Index:
        if ftype not in self.index:
            width = 1 + len(self.rules.kinds[ftype])
            self.index[ftype] = _Index(np.zeros((0, width), dtype=np.int64))
            assert not len(self.tables[ftype]), "derived types start without facts"
        return self.index[ftype]

    def _add(self, k: int, ftype: str, out: _Output) -> bool:
        """Add the facts not yet known; whether any was. Sets ``out.facts``."""
        if not len(out.pid):
            return False
        keys = self._keys(ftype, out.pid, out.columns)
        hashes = _hash_rows(keys)
        index = self._index(ftype)
        out.facts = index.find(keys, hashes)
        candidates = np.flatnonzero(out.facts < 0)
        if not len(candidates):
            return False
        firsts, first_of = _first_of_each(keys[candidates], hashes[candidates])
        out.facts[candidates] = len(self.tables[ftype]) + first_of
        fresh = candidates[firsts]
        np.add.at(self.new_count, out.pid[fresh], 1)
        more = _Table(
            out.pid[fresh],
            np.full(len(fresh), k, dtype=np.int64),
            {n: c.take(fresh) for n, c in out.columns.items()},
        )
        more.step = np.full(len(fresh), self.step, dtype=np.int64)
        self.tables[ftype] = _concat(self.tables[ftype], more)
        index.append(keys[fresh], hashes[fresh])
        return True

    def _attribute(self, k: int, ftype: str, out: _Output, rows_of: Ints) -> None:
        """Each fact the stratum added, with the rule that asserted it first; a profile
        where that depends on the firing sequence is left undecided."""
        if not len(self.tables[ftype]) or not len(out.pid):
            return
        sel = np.flatnonzero(self._born(ftype, rows_of) == k)
        group, rank, avail = rows_of[sel], out.rank[sel], out.avail[sel]
        order = np.lexsort((avail, rank, group))
        starts = np.flatnonzero(np.diff(group[order])) + 1
        firsts = order[np.concatenate([[0], starts])] if len(order) else order
        # the best rank of another rule asserting the same fact, per fact
        of_group = np.cumsum(np.isin(np.arange(len(order)), starts))
        rival = rank[order] != rank[firsts][of_group]
        second = np.full(len(firsts), _NEVER, dtype=np.int64)
        np.minimum.at(second, of_group[rival], rank[order][rival])
        # the best rule fires first unless its activation may still wait when a rival fires
        undecided = (second < _NEVER) & (avail[firsts] >= second)
        self.undecided[out.pid[sel[firsts[undecided]]]] = True
        winners = sel[firsts]
        if ftype == "deficit":
            winners = self._most_severe(out, winners)
        self._facts(ftype, out, winners)

    def _most_severe(self, out: _Output, rows: Ints) -> Ints:
        """Of the deficits, only each profile's most severe per competency: all the Result
        keeps. Two of equal rank (severities the scale does not know) would be told
        apart by firing order: that profile is left undecided."""
        codes = self.severity_rank(out.columns["severity"].values[rows])
        codes = np.where(out.columns["severity"].present[rows], codes, len(SEVERITIES))
        comp = out.columns["competency"].values[rows]
        pid = out.pid[rows]
        order = np.lexsort((codes, comp, pid))
        pid, comp, codes = pid[order], comp[order], codes[order]
        new_group = np.ones(len(order), dtype=bool)
        new_group[1:] = (pid[1:] != pid[:-1]) | (comp[1:] != comp[:-1])
        tie = np.zeros(len(order), dtype=bool)
        tie[1:] = ~new_group[1:] & (codes[1:] == codes[:-1])
        self.undecided[pid[tie]] = True
        kept: Ints = rows[order[new_group]]
        return kept

    def severity_rank(self, codes: Ints) -> Ints:
        """The rank (critical 0 .. low 3; unknown 4) of severity string codes."""
        table = np.full(len(self.strings.names) + 1, len(SEVERITIES), dtype=np.int64)
        for rank, name in enumerate(SEVERITIES):
            if name in self.strings.codes:
                table[self.strings.codes[name]] = rank
        ranks: Ints = table[codes]
        return ranks

    def _facts(self, ftype: str, out: _Output, rows: Ints) -> None:
        """Some output rows as derived facts: one block per asserting template (its
        field order is the order the driver would have built the fact's fields in)."""
        templates = out.template[rows]
        for t in np.unique(templates).tolist():
            chosen = rows[templates == t]
            rule, order = out.orders[t]
            columns = {name: out.columns[name].take(chosen) for name in order}
            self.blocks.append(FactBlock(ftype, rule, order, out.pid[chosen], columns))

    def outcome(self, limit: int, fallback: Sequence[SubRule]) -> DerivedColumns:
        """The derived facts as columns, with the profiles the per-profile engine decides."""
        undecided = self.undecided | (self.new_count > limit)
        for sub in fallback:
            undecided |= self._could_fire(sub)
        kinds = self.rules.kinds
        return DerivedColumns(self.n, ~undecided, self.blocks, tuple(self.strings.names), kinds)

    def _could_fire(self, sub: SubRule) -> Mask:
        """Profiles a sub-rule left to the per-profile engine could fire on: each of its
        patterns has a fact meeting the conditions this path can test without a join."""
        could = np.ones(self.n, dtype=bool)
        for pat in sub.positives:
            table = self.tables.get(pat.type, self.empty)
            mask = np.ones(len(table), dtype=bool)
            for cond in pat.conds:
                simple = not _has_ref(cond.value)
                if simple and _cond_reason(cond, pat, {}, self.rules.kinds) is None:
                    mask &= self._holds(cond, pat, table, np.arange(len(table)), None, {})
            has = np.zeros(self.n, dtype=bool)
            has[table.pid[mask]] = True
            could &= has
        return could


_NO_ROWS: Mask = np.zeros(0, dtype=bool)

#: A rank worse than every rule's: "no asserter waits from the start".
_NEVER = 1 << 40

#: Profile numbers and string codes share one int64 key: profile * space + code.
_CODE_SPACE = 1 << 31
_DEFICIT_ORDER = ("competency", "group", "severity", "score_pct")


class _Index:
    """The facts of one derived type in its table, found by their keys (``_Run._keys``).

    Each key row is hashed to 64 bits (:func:`_hash_rows`); the hashes are kept sorted,
    so finding a batch of facts is one ``searchsorted``, not a sort of every known
    fact. A hash found is checked against the stored key; if two different facts
    share a hash, the batch is matched exactly instead (:func:`_row_ids`).
    """

    def __init__(self, keys: Ints) -> None:
        self.buffer = keys  # per table row, in table order, then room to grow
        self.count = len(keys)
        self.sorted = np.zeros(0, dtype=np.uint64)  # the rows' hashes, sorted
        self.rows = np.zeros(0, dtype=np.int64)  # the table row of each sorted hash

    def find(self, keys: Ints, hashes: npt.NDArray[np.uint64]) -> Ints:
        """The table row of each key row, -1 where the fact is not in the table."""
        if not len(self.rows) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int64)
        # searched in sorted order, each search starts where the last one ended
        order = np.argsort(hashes)
        pos = np.empty(len(hashes), dtype=np.int64)
        pos[order] = np.searchsorted(self.sorted, hashes[order])
        np.minimum(pos, len(self.sorted) - 1, out=pos)
        rows = np.where(self.sorted[pos] == hashes, self.rows[pos], -1)
        hit = rows >= 0
        # the first fact stored under a hash holds another key: match exactly (one
        # stored later under the same hash may be the one sought)
        if not np.array_equal(self.keys[rows[hit]], keys[hit]):
            return self._find_exactly(keys)
        found: Ints = rows
        return found

    @property
    def keys(self) -> Ints:
        """The stored keys, one row per table row."""
        return self.buffer[: self.count]

    def _find_exactly(self, keys: Ints) -> Ints:
        ids, count = _row_ids(np.concatenate([self.keys, keys]))
        row_of = np.full(count, -1, dtype=np.int64)
        row_of[ids[: len(self.keys)]] = np.arange(len(self.keys))
        found: Ints = row_of[ids[len(self.keys) :]]
        return found

    def append(self, keys: Ints, hashes: npt.NDArray[np.uint64]) -> None:
        """New table rows' keys (the rows appended in this order)."""
        rows = np.arange(self.count, self.count + len(keys), dtype=np.int64)
        if self.count + len(keys) > len(self.buffer):  # doubling: each row copied O(1) times
            grown = np.empty((2 * (self.count + len(keys)), keys.shape[1]), dtype=np.int64)
            grown[: self.count] = self.keys
            self.buffer = grown
        self.buffer[self.count : self.count + len(keys)] = keys
        self.count += len(keys)
        order = np.argsort(hashes, kind="stable")
        at = np.searchsorted(self.sorted, hashes[order])
        self.sorted = np.insert(self.sorted, at, hashes[order])
        self.rows = np.insert(self.rows, at, rows[order])


#: An odd 64-bit multiplier (from the golden ratio), spreading each column over the hash.
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hash_rows(matrix: Ints) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each key row (equal rows, equal hashes).

    The profile (column 0) is the top bits and the other columns are mixed into the
    low 40, so sorted hashes keep a profile's facts together: rows come roughly in
    profile order, and searching and inserting them then touches memory in order.
    """
    hashed = np.zeros(len(matrix), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(1, matrix.shape[1]):
            hashed ^= matrix[:, j].view(np.uint64)
            hashed *= _MIX
            hashed ^= hashed >> np.uint64(29)
        hashed >>= np.uint64(24)
        hashed |= matrix[:, 0].view(np.uint64) << np.uint64(40)
    return hashed


def _first_of_each(keys: Ints, hashes: npt.NDArray[np.uint64]) -> tuple[Ints, Ints]:
    """The positions of the first of each distinct key row, in order, and for each row
    the number of its first among them."""
    _uniq, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if not np.array_equal(keys[first[inverse]], keys):  # two keys share a hash
        ids, _count = _row_ids(keys)
        _uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
    order = np.argsort(first)
    place = np.empty(len(first), dtype=np.int64)
    place[order] = np.arange(len(first))
    firsts: Ints = first[order]
    of_row: Ints = place[inverse]
    return firsts, of_row


def _row_ids(matrix: Ints) -> tuple[Ints, int]:
    """Dense ids of a matrix's rows (equal rows, equal ids) and how many there are.

    Each column becomes codes 0..k-1; the codes of a row are then one number in mixed
    radix, renumbered densely whenever the next column could overflow 63 bits, so every
    step sorts plain integers.
    """
    ids: Ints = np.zeros(len(matrix), dtype=np.int64)
    space = 1
    for j in range(matrix.shape[1]):
        codes, radix = _column_codes(matrix[:, j])
        if space * radix >= 1 << 62:
            ids, space = _dense(ids)
        ids = ids * radix + codes
        space *= radix
    return _dense(ids)


def _column_codes(column: Ints) -> tuple[Ints, int]:
    """A column as codes 0..radix-1: small integers (profiles, string codes, -1 for
    absent) as they are, anything else (a number's bits) renumbered by sorting."""
    if not len(column):
        return column, 1
    low, high = int(column.min()), int(column.max())
    if low >= -1 and high < 1 << 31:
        return column + 1, high + 2
    values, inverse = np.unique(column, return_inverse=True)
    return inverse.ravel().astype(np.int64), max(len(values), 1)


def _dense(ids: Ints) -> tuple[Ints, int]:
    uniq, inverse = np.unique(ids, return_inverse=True)
    dense: Ints = inverse.ravel().astype(np.int64)
    return dense, max(len(uniq), 1)


def _concat(table: _Table, more: _Table) -> _Table:
    columns = {
        name: Column(
            np.concatenate([col.values, more.columns[name].values]),
            np.concatenate([col.present, more.columns[name].present]),
        )
        for name, col in table.columns.items()
    }
    return _Table(
        np.concatenate([table.pid, more.pid]),
        np.concatenate([table.born, more.born]),
        columns,
        np.concatenate([table.step, more.step]),
    )


def _join_bindings(parts: Sequence[_Binding]) -> _Binding:
    """The activations of several bindings of one sub-rule, one after the other."""
    if len(parts) == 1:
        return parts[0]
    positions = range(len(parts[0].rows))
    rows = [np.concatenate([b.rows[i] for b in parts]) for i in positions]
    return _Binding(np.concatenate([b.pid for b in parts]), rows, parts[0].tables)


def _has_ref(value: Any) -> bool:
    if isinstance(value, Ref):
        return True
    return isinstance(value, list) and any(isinstance(v, Ref) for v in value)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}
