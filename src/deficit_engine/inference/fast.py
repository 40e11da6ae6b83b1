"""The ``fast`` backend: the reference semantics compiled, with alpha memories.

A new fact is tested once against every pattern of its type by the stratum's
generated function (:class:`~.compiled.Compiled`); it is remembered by each
pattern it passed, and joined only with the facts remembered by the sub-rule's
other patterns, testing just the conditions that read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..compiler import SubRule
from ..errors import UsageError
from ..models import Fact
from ..rules import Pattern, Ref
from .compiled import Admit, Compiled, PatternPlan, Pred
from .generated import Completion, Firings, Loop, Seed
from .semantics import MISSING
from .store import Activation, FactStore

__all__ = ["FastMatcher"]

_new = object.__new__


class FastMatcher:
    """The reference semantics, compiled: per-pattern closures, alpha memories, and
    joins over the facts that already passed each pattern's own conditions.

    Parameters
    ----------
    strata : sequence of sequences of SubRule
        The compiled sub-rules, stratum by stratum.
    enriched : frozenset of str, optional
        The fact types the run's enricher may change (None: any).
    generate : bool
        Whether the strata's loops are generated (else the driver's generic loop).
    completion : Completion, optional
        What the run's enricher does to one of the ``enriched`` types, declared: the
        ordered loops complete such facts inline, with the run's table given to
        :meth:`fresh` (see :class:`~.generated.Completion`).
    """

    exact = True

    def __init__(
        self,
        strata: Sequence[Sequence[SubRule]],
        *,
        enriched: frozenset[str] | None = None,
        generate: bool = True,
        completion: Completion | None = None,
    ) -> None:
        self.strata = strata
        # the run's table of the completion (see `fresh`): none, so every fact of the
        # completion's type goes to the enricher
        self.table: Mapping[str, Any] = {}
        self.compiled = Compiled(strata)
        self.subs: Sequence[SubRule] = ()
        self.current: list[list[PatternPlan]] = []
        self.admitters: dict[str, Admit] = {}
        self.memory: list[list[list[int]]] = []
        self.store = FactStore()
        # each `not:` pattern with its test, and the equality with a bound fact that
        # picks its candidates out of an index (see `blocked`)
        self.negatives: dict[str, tuple[_Negative, ...]] = {
            sub.key: tuple(
                (pattern.type, test, *_equality(pattern, sub.aliases))
                for pattern, (_type, test) in zip(
                    sub.negatives, self.compiled.negatives[sub.key], strict=True
                )
            )
            for subs in strata
            for sub in subs
            if sub.negatives
        }
        # per stratum and sub-rule of two patterns whose second says `field: $first.other`:
        # (field, other), so a join looks up its partners by value (see `_join`)
        self.keyed: list[list[tuple[str, str] | None]] = [
            [_join_key(sub) for sub in subs] for subs in strata
        ]
        self.keys: list[tuple[str, str] | None] = []
        # per stratum and sub-rule: the test of its second pattern's conditions that read
        # the first (two-pattern sub-rules only; None otherwise, or when there is none)
        self.second: list[list[Pred | None]] = [
            [row[1].beta if len(row) == 2 else None for row in plans]
            for plans in self.compiled.plans
        ]
        self.betas: list[Pred | None] = []
        self.indexes: dict[Any, _Index] = {}
        self.seed: Seed | None = None
        self.stratum = 0
        # whether the strata that can be fired place by place are (see `fire_ordered`);
        # false for a run made again by the agenda (`driver.run`, on Disordered)
        self.in_order = True
        # per stratum, each sub-rule's number of positive patterns: the shape of the
        # alpha memories `begin` makes for every run
        self.sizes: list[list[int]] = [[len(row) for row in plans] for plans in self.compiled.plans]
        self.makers = [_memory_maker(sizes) for sizes in self.sizes]
        # the strata's loops generated (inference.generated), unless told not to (the
        # generic path, which the tests hold them to)
        self.generated = (
            Firings(
                strata,
                self.compiled,
                [
                    [
                        (key, beta) if len(sub.positives) == 2 else None
                        for sub, key, beta in zip(subs, keys, betas, strict=True)
                    ]
                    for subs, keys, betas in zip(strata, self.keyed, self.second, strict=True)
                ],
                self.negatives,
                enriched,
                completion,
            )
            if generate
            else None
        )
        # per stratum, when every one has an ordered loop: what `fire_all` sets and runs
        self.whole: list[tuple[Any, ...]] | None = None
        generated = self.generated
        if generated is not None and all(loop is not None for loop in generated.ordered):
            self.whole = [
                (
                    strata[k],
                    self.compiled.plans[k],
                    self.makers[k],
                    self.keyed[k],
                    self.second[k],
                    generated.lists[k],
                    generated.ordered_seeds[k],
                    generated.ordered[k],
                )
                for k in range(len(strata))
            ]

    def fresh(self, table: Mapping[str, Any] | None = None) -> FastMatcher:
        """A matcher for one run: the compiled rules shared, its memories its own (what
        ``copy.copy`` gives, without its generic machinery: one per evaluation).

        Parameters
        ----------
        table : Mapping, optional
            The run's table of the matcher's completion (see
            :class:`~.generated.Completion`): the values its enricher gives the
            completed facts, by the key's value. None: no completion inline.

        Returns
        -------
        FastMatcher
        """
        run = _new(FastMatcher)
        run.__dict__.update(self.__dict__)
        if table is not None:
            run.table = table
        return run

    def loop(self, stratum: int) -> Loop | None:
        """The stratum's generated loop (see :mod:`.generated`), or None when it has
        none (the driver then fires generically).

        Parameters
        ----------
        stratum : int
            The stratum.

        Returns
        -------
        callable or None
            The loop, to be given the store and this matcher once ``begin`` has begun
            the stratum.
        """
        return None if self.generated is None else self.generated.loops[stratum]

    def ordered(self, stratum: int) -> bool:
        """Whether :meth:`fire_ordered` fires the stratum (its firings can go place by
        place, see ``generated.in_order``, and this matcher was not told otherwise).

        Parameters
        ----------
        stratum : int
            The stratum.

        Returns
        -------
        bool
        """
        generated = self.generated
        return self.in_order and generated is not None and generated.ordered[stratum] is not None

    def fire_ordered(
        self,
        enrich: Callable[[Fact], Fact],
        trace: list[Any],
        fired: int,
        limit: int,
        over: Callable[[], Exception],
    ) -> int:
        """Fire the stratum begun to a fixed point, place by place (see
        ``generated.in_order``): its lists of activations made, seeded from the store's
        facts and worked through by its generated ordered loop. The same firings, in
        the same order, as the driver's agenda gives.

        Parameters
        ----------
        enrich : callable
            The run's enricher.
        trace : list of TraceRow
            The run's trace, appended to: a ``(rule, matched, asserted)`` tuple a
            firing (see ``driver.run``).
        fired : int
            The productive firings so far.
        limit : int
            The most productive firings.
        over : callable
            Makes the error of a passed limit.

        Returns
        -------
        int
            The productive firings after the stratum.

        Raises
        ------
        UsageError
            If the stratum begun has no ordered loop (see :meth:`ordered`).
        FiringLimitError
            If more than ``limit`` firings assert a new fact.
        MatchBudgetError
            If the matching work passes the store's budget.
        generated.Disordered
            If the enricher gives a fact another type than its action's (the run must
            be made again by the agenda).
        """
        generated = self.generated
        k = self.stratum
        loop = None if generated is None else generated.ordered[k]
        seed = None if generated is None else generated.ordered_seeds[k]
        if generated is None or loop is None or seed is None:
            raise UsageError("fire_ordered: this stratum has no ordered loop")
        lists = generated.lists[k]()
        store = self.store
        seed(store.facts, [], self.memory, self._equal, store.budget, self._join, lists, None)
        return loop(store, self, enrich, lists, trace, fired, limit, over, None, None)

    def ordered_all(self) -> bool:
        """Whether :meth:`fire_all` fires a run: every stratum is fired by its ordered
        loop (see :meth:`ordered`).

        Returns
        -------
        bool
        """
        return self.in_order and self.whole is not None

    def fire_all(
        self,
        store: FactStore,
        enrich: Callable[[Fact], Fact],
        trace: list[Any],
        limit: int,
        over: Callable[[], Exception],
    ) -> None:
        """Fire every stratum to a fixed point by its ordered loop, in turn: what the
        driver does with :meth:`begin`, :meth:`fire_ordered` and :meth:`end` per stratum,
        with only what the loops, :meth:`_join` and :meth:`_equal` read set per stratum
        (a run's dozen calls and attributes, about a tenth of the inference once the
        strata are generated).

        Parameters
        ----------
        store : FactStore
            The run's store, holding its base facts.
        enrich : callable
            The run's enricher.
        trace : list of TraceRow
            The run's trace, appended to: a ``(rule, matched, asserted)`` tuple a
            firing (see ``driver.run``).
        limit : int
            The most productive firings.
        over : callable
            Makes the error of a passed limit.

        Raises
        ------
        UsageError
            If not every stratum has an ordered loop (see :meth:`ordered_all`).
        FiringLimitError
            If more than ``limit`` firings assert a new fact.
        MatchBudgetError
            If the matching work passes the store's budget.
        generated.Disordered
            If the enricher gives a fact another type than its action's.
        """
        whole = self.whole
        if whole is None:
            raise UsageError("fire_all: not every stratum has an ordered loop")
        self.store = store
        facts, budget, equal, join = store.facts, store.budget, self._equal, self._join
        fired = 0
        # every stratum's lists of activations made at once: an earlier stratum's loop
        # gives a later one's lists the facts whose admission its actions decide, and
        # notes the others, which the later stratum's seed takes (`pending`, starting
        # with the base facts; see generated._ahead_source), when there are several
        made = [lists() for _subs, _plans, _memory, _keys, _betas, lists, _seed, _loop in whole]
        based = len(facts)
        pending: list[list[int]] | None = None
        if len(whole) > 1:
            pending = [[]] + [list(range(based)) for _ in whole[1:]]
        try:
            for k, (subs, plans, memory, keys, betas, _lists, seed, loop) in enumerate(whole):
                self.stratum = k
                self.subs, self.current, self.keys, self.betas = subs, plans, keys, betas
                self.memory = memory()
                self.indexes = {}
                mine = made[k]
                left = pending[k] if k and pending is not None else None
                seed(facts, [], self.memory, equal, budget, join, mine, None, left)
                fired = loop(store, self, enrich, mine, trace, fired, limit, over, made, pending)
        finally:
            self.memory = []

    def push_all(self, agenda: list[Any], counter: Iterator[int]) -> None:
        """What :meth:`add_all` finds for every fact in the store, pushed onto the
        driver's agenda as its items, by the stratum's generated seed (see
        :mod:`.generated`): for a stratum the generated loop runs.

        Parameters
        ----------
        agenda : list
            The driver's agenda, a heap of ``(place, facts' numbers, arrival, sub-rule)``.
        counter : iterator of int
            The driver's arrival numbers.

        Raises
        ------
        UsageError
            If the matcher has no generated seed (made with ``generate=False``).
        """
        seed = self.seed
        if seed is None:
            raise UsageError("push_all: this fast matcher has no generated seed")
        facts = self.store.facts
        seed(
            facts,
            [],
            self.memory,
            self._equal,
            self.store.budget,
            self._join,
            agenda,
            counter,
        )

    def begin(self, stratum: int, store: FactStore) -> None:
        """Start a stratum (see :class:`~.driver.Matcher`): empty alpha memories."""
        self.subs = self.strata[stratum]
        self.stratum = stratum
        self.current = self.compiled.plans[stratum]
        self.admitters = self.compiled.admitters[stratum]
        # one generated list display per stratum (a comprehension over the sizes cost a
        # third more). A one-pattern sub-rule's memory is never read nor filled (its
        # pattern is an activation at once): they all share one empty placeholder
        self.memory = self.makers[stratum]()
        if self.generated is not None:
            self.seed = self.generated.seeds[stratum]
        self.keys = self.keyed[stratum]
        self.betas = self.second[stratum]
        self.store = store
        self.indexes = {}  # this run's own (the matcher is copied per run)

    def add(self, seq: int) -> list[Activation]:
        """The activations the store's fact ``seq`` completes (see :class:`~.driver.Matcher`).

        This runs for every fact in every stratum, so the stratum's generated function
        for the fact's type (``Compiled.admitters``) does the work without a call per
        pattern: a pattern of a one-pattern sub-rule (most of the shipped rules) is
        an activation at once; for a longer one the fact goes into the pattern's alpha
        memory and the pattern into ``joins``. One-pattern sub-rules never join, so
        their memories are not kept. Every memory holds the new fact before any join
        reads them. (``add_all`` of one fact, written out: the driver calls this for
        every fact a firing adds, and the call through ``add_all`` cost a tenth of it.)"""
        fact = self.store.facts[seq]
        admit = self.admitters.get(fact["type"])
        out: list[Activation] = []
        if admit is not None:
            joins: list[PatternPlan] = []
            admit(fact, seq, out, self.memory, joins)
            for plan in joins:
                self._join(plan.sub, plan.pos, seq, out)
        return out

    def add_all(self, seqs: Sequence[int]) -> list[Activation]:
        """The activations of the store's facts ``seqs``, each added in turn (see
        :class:`~.driver.Matcher`): what the driver seeds a stratum with, in one call."""
        facts, admitters, memory, join = self.store.facts, self.admitters, self.memory, self._join
        out: list[Activation] = []
        joins: list[PatternPlan] = []
        for seq in seqs:
            fact = facts[seq]
            admit = admitters.get(fact["type"])
            if admit is None:
                continue
            admit(fact, seq, out, memory, joins)
            if joins:
                for plan in joins:
                    join(plan.sub, plan.pos, seq, out)
                joins.clear()
        return out

    def _join(self, sub_index: int, pos: int, new: int, out: list[Activation]) -> None:
        """The activations of a sub-rule of two or more patterns that ``new``, passing
        pattern ``pos``, completes."""
        sub = self.subs[sub_index]
        memory = self.memory[sub_index]
        if len(memory) != 2:
            self._step(sub, self.current[sub_index], memory, pos, new, 0, [], [], out)
            return
        # most joins: two patterns, the second may read the first
        before = len(out)
        facts = self.store.facts
        beta = self.betas[sub_index]
        key = self.keys[sub_index]
        fact = facts[new]
        if pos == 0:
            first = (fact,)
            partners = memory[1]
            if key is not None and partners:  # only the facts whose field is equal
                value = fact.get(key[1], MISSING)
                partners = (
                    [] if value is MISSING else self._equal((sub_index, 1), key[0], partners, value)
                )
            for seq in partners:
                if seq != new and (beta is None or beta(facts[seq], first)):
                    out.append((sub, (new, seq)))
        else:
            partners = memory[0]
            if key is not None and partners:
                value = fact.get(key[0], MISSING)
                partners = (
                    [] if value is MISSING else self._equal((sub_index, 0), key[1], partners, value)
                )
            for seq in partners:
                if seq != new and (beta is None or beta(fact, (facts[seq],))):
                    out.append((sub, (seq, new)))
        budget = self.store.budget
        budget.spent += len(out) - before  # Budget.spend, inline
        if budget.spent > budget.limit:
            raise budget.exceeded(sub.rule.id)

    def _step(
        self,
        sub: SubRule,
        row: list[PatternPlan],
        memory: list[list[int]],
        pos: int,
        new: int,
        i: int,
        seqs: list[int],
        bound: list[Fact],
        out: list[Activation],
    ) -> None:
        """Joins of three or more patterns, pattern by pattern (a method, not a nested
        recursive closure: that made a reference cycle, left for the cyclic GC, per call)."""
        if i == len(row):
            out.append((sub, tuple(seqs)))
            return
        beta = row[i].beta
        facts = self.store.facts
        budget = self.store.budget
        for seq in (new,) if i == pos else memory[i]:
            if (i != pos and seq == new) or seq in seqs:
                continue
            fact = facts[seq]
            if beta is None or beta(fact, bound):
                budget.spent += 1  # inline: this is the innermost loop of every long join
                if budget.spent > budget.limit:
                    raise budget.exceeded(sub.rule.id)
                seqs.append(seq)
                bound.append(fact)
                self._step(sub, row, memory, pos, new, i + 1, seqs, bound, out)
                seqs.pop()
                bound.pop()

    def verify(self, sub: SubRule, binding: Sequence[Fact]) -> bool:
        """Always true: its activations match by construction."""
        return True

    def blocked(self, sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
        """Whether a ``not:`` pattern of the sub-rule matches a fact in the store.

        A ``not:`` pattern that says ``field: $alias.other`` (``not: need {competency:
        $deficit.competency}``) is tested only against the facts whose ``field`` equals
        the bound value, found in an index of the store by that field; the others
        could not match. Every candidate is still tested in full, as
        :func:`~.semantics.negation_blocks` would."""
        facts, by_type = store.facts, store.by_type
        for ftype, test, field, position, other in self.negatives[sub.key]:
            candidates = by_type.get(ftype)  # FactStore.of_type, inline
            if not candidates:
                continue  # no fact of its type: this pattern matches nothing
            if field is not None:
                value = binding[position].get(other, MISSING)
                if value is MISSING:
                    continue  # the equality cannot hold: this pattern matches nothing
                # the index by type and field: two `not:` patterns of one type may
                # name different fields (one index by type alone mixed them up)
                candidates = self._equal((ftype, field), field, candidates, value)
            for seq in candidates:
                if test(facts[seq], binding):
                    return True
        return False

    def _equal(self, name: Any, field: str, seqs: list[int], value: Any) -> list[int]:
        """Of ``seqs`` (a list that only grows: the store's facts of one type, or an alpha
        memory, as ``name`` says), those whose ``field`` may equal ``value``: the
        index's bucket, and the facts whose value cannot be hashed. ``name`` names one
        index of one list by one field: (type, field) for the store's facts of a type,
        (sub-rule, pattern) for an alpha memory, whose joins read one field."""
        index = self.indexes.get(name)
        if index is None:
            index = self.indexes[name] = [0, {}, []]
        done, buckets, unhashable = index
        if done < len(seqs):  # index the facts added since it was last asked
            facts = self.store.facts
            for seq in seqs[done:]:
                x = facts[seq].get(field, MISSING)
                if x is MISSING:
                    continue  # the equality cannot hold for it
                # (not `setdefault(x, []).append`: a list made and a call per fact)
                try:
                    bucket = buckets.get(x)
                except TypeError:
                    unhashable.append(seq)
                    continue
                if bucket is None:
                    buckets[x] = [seq]
                else:
                    bucket.append(seq)
            index[0] = len(seqs)
        # Python's == agrees with hashing on the values a fact holds (str, numbers,
        # bools, None): every fact whose value equals this one is in its bucket
        try:
            found: list[int] = buckets.get(value, [])
        except TypeError:  # a list: every fact is a candidate
            return seqs
        return found + unhashable if unhashable else found

    def end(self) -> None:
        """Forget the stratum's alpha memories."""
        self.memory = []


# The memory of every one-pattern sub-rule: never read nor filled (see `begin`).
_UNUSED: list[list[int]] = []


def _memory_maker(sizes: Sequence[int]) -> Callable[[], list[list[list[int]]]]:
    """A function that makes a stratum's empty alpha memories, one per sub-rule of
    ``sizes`` patterns (the shared placeholder for one pattern), as one list display."""
    items = ["U" if n == 1 else f"[{'[], ' * n}]" for n in sizes]
    env: dict[str, Any] = {"U": _UNUSED}
    source = f"def make():\n    return [{', '.join(items)}]"
    exec(compile(source, "<deficit_engine memory>", "exec"), env)
    return env["make"]  # type: ignore[no-any-return]


# A `not:` pattern, compiled: its fact type, the test of all its conditions, and the
# equality that picks its candidates (the field, the bound fact's position and field),
# or None three times when it has none.
_Negative = tuple[str, Pred, str | None, int, str]
# An index of the store's facts of one type by one field: how many are indexed, the
# facts by value, and those whose value cannot be hashed (a list).
_Index = list[Any]


def _join_key(sub: SubRule) -> tuple[str, str] | None:
    """For a sub-rule of two positive patterns whose second has a condition
    ``field: $first.other``: (field, other); else None."""
    if len(sub.positives) != 2:
        return None
    for cond in sub.positives[1].conds:
        value = cond.value
        if cond.op == "eq" and isinstance(value, Ref) and sub.aliases.get(value.alias) == 0:
            return cond.field, value.field
    return None


def _equality(pattern: Pattern, aliases: dict[str, int]) -> tuple[str | None, int, str]:
    """The first condition of a ``not:`` pattern that says ``field: $alias.other``: its
    field, the position of the bound fact and the field read from it."""
    for cond in pattern.conds:
        if cond.op == "eq" and isinstance(cond.value, Ref) and cond.value.alias in aliases:
            return cond.field, aliases[cond.value.alias], cond.value.field
    return None, 0, ""
