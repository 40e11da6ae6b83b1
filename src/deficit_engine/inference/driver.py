"""The driver: forward chaining to a fixed point, the same for every backend.

The backends (``python``, ``fast``, ``durable``) only *match*: they report
activations (a sub-rule and the facts bound to its positive patterns) for each
fact added. The driver owns everything else: the fact set, the agenda
(priority, then rule order, then fact order), ``not:`` checks, firing, the
trace and the firing limit. That is what makes the backends give identical
results. Strata run in order, so a ``not:`` is checked against a complete set
of the facts it negates (see docs/rules.md).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from ..compiler import FIELD, LITERAL, SubRule
from ..errors import FiringLimitError
from ..models import Fact, TraceEntry
from ..models.diagnosis import TraceRow
from .generated import Disordered
from .semantics import MISSING, operand_value
from .store import Activation, Budget, FactStore

__all__ = ["BUDGET_PER_FIRING", "DEFAULT_FIRING_LIMIT", "Matcher", "run"]

DEFAULT_FIRING_LIMIT = 10_000

#: Units of matching work (partial matches, activations, facts) allowed per firing of
#: the limit: 20 x 10 000 = 200 000 by default, which bounds an evaluation to
#: tens of megabytes of agenda and seconds at worst. The shipped KB spends under 1 %
#: of it on its largest profile (docs/rules.md, "Budget").
BUDGET_PER_FIRING = 20


class Matcher(Protocol):
    """What the driver needs of a backend (PythonMatcher, FastMatcher, DurableMatcher).

    A matcher is begun on a stratum, given the store's facts one number at a time,
    and reports the activations each completes; it never fires anything. One matcher
    serves one run at a time; ``end`` leaves it ready for the next.
    """

    @property
    def exact(self) -> bool:
        """Whether its activations match by construction (else each is verified). An
        exact matcher reports each activation once (the driver does not check it)."""

    def begin(self, stratum: int, store: FactStore) -> None:
        """Start a stratum: its sub-rules will be matched against the store's facts.

        Parameters
        ----------
        stratum : int
            The stratum's position in the strata the matcher was built for.
        store : FactStore
            The run's facts; ``add`` names them by number.
        """

    def add(self, seq: int) -> list[Activation]:
        """Take the store's fact number ``seq``; report the activations it completes.

        The driver gives only the facts whose type some positive pattern of the
        stratum uses: no other fact can complete an activation.

        Parameters
        ----------
        seq : int
            The fact's number in the store given to ``begin``.

        Returns
        -------
        list of Activation
            Each sub-rule of the stratum the fact completes, with the numbers of the
            facts bound to its positive patterns (the new fact among them).
        """

    def add_all(self, seqs: Sequence[int]) -> list[Activation]:
        """Take the store's facts ``seqs``, in order, as ``add`` one at a time would.

        Parameters
        ----------
        seqs : sequence of int
            Facts' numbers in the store given to ``begin``, in increasing order.

        Returns
        -------
        list of Activation
            What ``add`` reports for each, one after the other.
        """

    def verify(self, sub: SubRule, binding: Sequence[Fact]) -> bool:
        """Whether the bound facts match the sub-rule's positive patterns exactly.

        Parameters
        ----------
        sub : SubRule
            The activation's sub-rule.
        binding : sequence of Fact
            The facts bound to its positive patterns, in pattern order.

        Returns
        -------
        bool
            Always true for an exact matcher.
        """

    def blocked(self, sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
        """Whether a ``not:`` pattern of the sub-rule matches a fact in the store.

        Parameters
        ----------
        sub : SubRule
            The activation's sub-rule.
        binding : sequence of Fact
            The facts bound to its positive patterns, in pattern order.
        store : FactStore
            The facts so far.

        Returns
        -------
        bool
        """

    def end(self) -> None:
        """End the stratum (or the run, after an error): drop what it holds of the run."""


def _value(value: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> Any:
    if isinstance(value, list):
        items = [_value(v, binding, aliases) for v in value]
        return [v for v in items if v is not MISSING]
    return operand_value(value, binding, aliases)


def _build(sub: SubRule, binding: Sequence[Fact], enrich: Callable[[Fact], Fact]) -> list[Fact]:
    """The facts a firing asserts, from the sub-rule's precompiled action templates: the
    reading of them that ``SubRule.build``, generated from them, is held to (it is used
    for the templates it cannot write: list values)."""
    out = []
    for ftype, fields in sub.actions:
        fact: Fact = {"type": ftype}
        complete = True
        for name, mode, payload, required in fields:
            if mode == LITERAL:
                fact[name] = payload
                continue
            if mode == FIELD:
                value = binding[payload[0]].get(payload[1], MISSING)
            else:
                value = _value(payload, binding, sub.aliases)
            if value is MISSING:
                if required:
                    complete = False
                continue
            fact[name] = value
        if complete:
            out.append(enrich(fact))
    return out


# An agenda entry: (sub.place, the bound facts' numbers, arrival, sub). The agenda is
# a heap in that order: priority (higher first), rule order, alternative (the order of
# sub.rank, as one int: cheaper to compare), fact order.
_Item = tuple[int, tuple[int, ...], int, SubRule]


class _Chaining:
    """One run's state across its strata: the store, the trace, the productive firings
    (counted for the limit; the trace says which rules made them, when the limit is
    passed), and the counter that keeps agenda entries in arrival order."""

    def __init__(self, store: FactStore, matcher: Matcher, enrich: Callable[[Fact], Fact]):
        self.store = store
        self.matcher = matcher
        self.enrich = enrich
        self.trace: list[TraceRow] = []  # see `run`
        self.fired = 0
        self.counter = itertools.count()

    def seed(self, subs: Sequence[SubRule], types: frozenset[str]) -> list[_Item]:
        """A stratum's first agenda: the activations the facts so far complete (only a
        fact of a type in ``types``, those the stratum's positive patterns use, can)."""
        counter = self.counter
        # a rule made only of `not:` patterns has one activation, with nothing bound
        agenda: list[_Item] = [
            (sub.place, (), next(counter), sub) for sub in subs if not sub.positives
        ]
        # one call for them all: the fast matcher's per-fact call was a fifth of its time.
        # The facts of those types, in insertion order: the store's lists of each type
        # merged (cheaper than testing every fact's type in a comprehension)
        by_type = self.store.by_type
        seqs = sorted(itertools.chain.from_iterable([by_type[t] for t in types if t in by_type]))
        for sub, bound in self.matcher.add_all(seqs):
            agenda.append((sub.place, bound, next(counter), sub))
        # one heapify, not a push per activation: the items are totally ordered (the
        # counter is unique), so the firing order is the same either way
        heapq.heapify(agenda)
        return agenda

    def stratum(self, subs: Sequence[SubRule], limit: int, stratum: int = 0) -> None:
        """Fire a stratum's activations to a fixed point, best first. An activation fires
        once (once per outer binding for a rule's alternatives), and only if it is
        verified (for an inexact matcher) and no ``not:`` pattern blocks it; the facts
        it asserts that are new go to the matcher, and their activations onto the agenda.

        This loop runs once per activation, so what it uses is bound to locals and the
        firing is written inline: as two methods (fire, count) it cost the fast backend
        5 % of its inference time. A fact goes to the matcher only if the stratum's
        positive patterns use its type (a third of the shipped KB's facts do not: the
        needs stratum 0 derives, for one). ``stratum`` is the stratum's number, which
        picks the fast matcher's generated loop for it."""
        # the fast matcher's ordered loop (inference.generated), when the stratum's
        # firings can go place by place: no agenda at all
        ordered = getattr(self.matcher, "ordered", None)
        if ordered is not None and ordered(stratum):
            trace = self.trace

            def past() -> FiringLimitError:
                return FiringLimitError(limit, _most_productive(trace))

            ordering: Any = self.matcher  # a FastMatcher: the one matcher with `ordered`
            self.fired = ordering.fire_ordered(self.enrich, trace, self.fired, limit, past)
            return
        types = _stratum_types(subs)
        # the fast matcher's generated loop (inference.generated), when it has one for
        # this stratum: this loop with the firings written in, no call a firing; its
        # seed pushes the activations onto the agenda as it finds them
        generated = getattr(self.matcher, "loop", None)
        loop = generated(stratum) if generated is not None else None
        if loop is not None:
            counter = self.counter
            heap: list[_Item] = [
                (sub.place, (), next(counter), sub) for sub in subs if not sub.positives
            ]
            heapq.heapify(heap)
            fast: Any = self.matcher  # a FastMatcher: the one matcher with a `loop`
            fast.push_all(heap, counter)
            trace = self.trace

            def over() -> FiringLimitError:
                return FiringLimitError(limit, _most_productive(trace))

            self.fired = loop(
                self.store, self.matcher, self.enrich, heap, self.counter, trace,
                self.fired, limit, over,
            )  # fmt: skip
            return
        agenda = self.seed(subs, types)
        done: set[tuple[str, tuple[int, ...]]] = set()
        store, trace, enrich, counter = self.store, self.trace, self.enrich, self.counter
        pop, push, facts, add = heapq.heappop, heapq.heappush, store.facts, store.add
        budget = store.budget
        matcher = self.matcher
        exact, verify, blocked, match = matcher.exact, matcher.verify, matcher.blocked, matcher.add
        fired = self.fired
        while agenda:
            _place, seqs, _n, sub = pop(agenda)
            # an exact matcher reports each activation once: only a rule's alternatives
            # (one firing per outer binding) and an inexact matcher's need the check
            key = None
            if sub.alt or not exact:
                key = (sub.key, seqs[: sub.n_outer] if sub.alt else seqs)
                if key in done:
                    continue
            # most activations bind one fact: no comprehension (a call, before 3.12) for it
            binding = (facts[seqs[0]],) if len(seqs) == 1 else tuple([facts[s] for s in seqs])
            if not exact and not verify(sub, binding):
                continue
            if sub.negatives and blocked(sub, binding, store):
                continue
            if key is not None:
                done.add(key)
            new: list[Fact] = []
            build = sub.build
            made = build(binding, enrich) if build is not None else _build(sub, binding, enrich)
            for fact in made:
                added = add(fact)
                if added is not None:
                    budget.spent += 1  # Budget.spend, inline
                    if budget.spent > budget.limit:
                        raise budget.exceeded(sub.rule.id)
                    new.append(fact)
                    if fact["type"] in types:
                        for hit, hit_seqs in match(added):
                            push(agenda, (hit.place, hit_seqs, next(counter), hit))
            trace.append((sub.rule.id, binding, tuple(new)))
            if new:
                fired += 1
                if fired > limit:
                    raise FiringLimitError(limit, _most_productive(trace))
        self.fired = fired


#: Each stratum's fact types (see `_stratum_types`), by the identity of its list of
#: sub-rules, with the list itself (kept alive, so that its id is not another's).
_TYPES: dict[int, tuple[Sequence[SubRule], frozenset[str]]] = {}
_TYPES_KEPT = 256


def _stratum_types(subs: Sequence[SubRule]) -> frozenset[str]:
    """The fact types a stratum's positive patterns use: worked out once per stratum,
    not once per run (a union over its forty sub-rules, for every evaluation)."""
    kept = _TYPES.get(id(subs))
    if kept is not None and kept[0] is subs:
        return kept[1]
    types: frozenset[str] = frozenset().union(*[sub.types for sub in subs])
    if len(_TYPES) >= _TYPES_KEPT:
        _TYPES.clear()
    _TYPES[id(subs)] = (subs, types)
    return types


def _most_productive(trace: list[TraceRow]) -> list[str]:
    """The five rules with the most firings that asserted a new fact, the most first (a
    tie in the order they first did): counted from the trace only when the limit is
    passed, rather than per firing in every run."""
    counts = Counter(rule for rule, _matched, asserted in trace if asserted)
    return [rid for rid, _ in counts.most_common(5)]


def run(
    strata: Sequence[Sequence[SubRule]],
    base: Iterable[Fact],
    matcher: Matcher,
    enrich: Callable[[Fact], Fact],
    limit: int = DEFAULT_FIRING_LIMIT,
    budget: int | None = None,
    distinct: bool = False,
    rows: bool = False,
) -> tuple[FactStore, list[Any]]:
    """Run the rules to a fixed point, stratum by stratum.

    Parameters
    ----------
    strata : sequence of sequences of SubRule
        The compiled sub-rules, stratum by stratum (``compiler.compile_rules``).
    base : iterable of Fact
        The facts to start from (a profile's base facts).
    matcher : Matcher
        The backend, built for the same strata; ``end`` is called after each
        stratum and after an error, so it can be reused for the next run.
    enrich : callable
        Completes each fact a rule asserts (labels, scores) before it is added.
    limit : int
        The most firings that may assert a new fact.
    budget : int, optional
        The most units of matching work (partial matches, activations, facts added);
        by default ``limit * BUDGET_PER_FIRING``.
    distinct : bool
        Whether the base facts are known to be distinct (a profile's are, by
        construction): then they are added with :meth:`FactStore.add_distinct_all`, which
        keys them only if a rule asserts a fact of their type.
    rows : bool
        Whether the trace is given as the firings were recorded, each a
        :data:`~deficit_engine.models.diagnosis.TraceRow` ``(rule, matched, asserted)``
        (the engine's, which makes TraceEntries of them only when a Result's trace is
        read), rather than as TraceEntries.

    Returns
    -------
    store : FactStore
        Every fact, base and derived, in insertion order.
    trace : list of TraceEntry, or of TraceRow with ``rows``
        Every firing in order: the rule, the facts bound, the new facts asserted.

    Raises
    ------
    FiringLimitError
        If more than ``limit`` firings assert a new fact (rules that never settle).
    MatchBudgetError
        If the matching work passes ``budget`` (a join over many facts, say).
    """
    store = FactStore(Budget(limit * BUDGET_PER_FIRING if budget is None else budget))
    if distinct:
        store.add_distinct_all(base)
    else:
        add = store.add
        for fact in base:
            add(fact)
    based = len(store.facts)
    whole: Any = matcher  # a FastMatcher, when it has `ordered_all`
    try:
        if getattr(matcher, "ordered_all", None) is not None and whole.ordered_all():
            # every stratum fired by its ordered loop, in one call (FastMatcher.fire_all)
            trace: list[TraceRow] = []

            def past() -> FiringLimitError:
                return FiringLimitError(limit, _most_productive(trace))

            whole.fire_all(store, enrich, trace, limit, past)
            return store, trace if rows else _entries(trace)
        chaining = _Chaining(store, matcher, enrich)
        for k, subs in enumerate(strata):
            matcher.begin(k, store)
            chaining.stratum(subs, limit, k)
            matcher.end()
    except Disordered:
        # an ordered loop's enricher changed a fact's type: the firings so far were the
        # agenda's, the rest might not be. The run again from its base facts (the
        # store's first ones), by the agenda
        matcher.end()
        again: Any = matcher  # a FastMatcher: the one matcher whose loops raise it
        again.in_order = False
        try:
            return run(strata, store.facts[:based], again, enrich, limit, budget, distinct, rows)
        finally:
            again.in_order = True
    except BaseException:
        matcher.end()
        raise
    return store, chaining.trace if rows else _entries(chaining.trace)


def _entries(trace: list[TraceRow]) -> list[TraceEntry]:
    """The trace's rows as TraceEntries (see ``run``'s ``rows``)."""
    of = TraceEntry.of
    return [of(rule, matched, asserted) for rule, matched, asserted in trace]
