"""The fast backend's strata as Python source generated per rule set: each stratum's
seed and the driver's loop with every sub-rule's firing written in.

The driver's generic loop (``driver._Chaining.stratum``) makes, for each firing, the
facts of the sub-rule's ``then`` (``SubRule.build``), enriches each, adds it to the
store (``FactStore.add``: the fact's field names looked up to find its key), gives
each new fact to the matcher (``FastMatcher.add``: its type looked up to find its
alpha function, then a call per join), pushes the activations found and appends the
trace entry: a call and a look-up per step, of what is known when the rules are
compiled. Here, per stratum, one loop is generated with that knowledge written in:
the sub-rule picked by its place, its ``not:`` patterns tested inline, its facts
built as ``SubRule.build`` builds them, the enricher called only for the fact types
the caller says it changes, a fact of fixed field names keyed from the locals it was
made of, the alpha function of its type called by name (with the two-pattern joins
written in, each activation pushed onto the agenda as found), the trace's row (a
tuple, see ``driver.run``) made inline. The stratum's seed is generated the same way:
one loop over the store's facts with each type's alpha function written in.

The answers are the generic path's: the same facts (the same dicts, in the same
order, keyed alike in the store), the same firings in the same order, the same trace,
budget spent in the same order, the same errors. Only the arrival numbers of the
agenda's items differ, which decide no order: no two activations share a place and
facts. ``tests/test_generated_firing.py`` holds the two paths to each other.

Which runs use it: the fast backend's (its matcher is exact and has alpha functions
per type), stratum by stratum, when every sub-rule of the stratum has a generated
``build`` (no list value among its actions); any other stratum takes the generic loop.

A stratum whose sub-rules feed only later places (:func:`in_order`) has no agenda
at all: its **ordered loop** fires each sub-rule's activations in turn, in place
order, from a list per sub-rule that the alpha functions and the seed append to.
When every stratum is so, a fact a firing makes goes straight to a later stratum's
lists when its action's constants decide where (:func:`_ahead_source`), and that
stratum's seed takes only the facts left. ``tests/test_generated_firing.py`` holds
the ordered loops, the agenda's loops and the generic path to each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from heapq import heappop, heappush
from typing import Any

from ..compiler import Making, SubRule, _action_source
from ..errors import UsageError
from ..models import Fact
from .compiled import (
    AdmitJoin,
    Compiled,
    Joins,
    PatternPlan,
    TypeIndex,
    _joining_function,
    alpha_source,
    conditions_source,
)
from .semantics import MISSING, holds
from .store import _SHAPES, _same_bools, _shape, fact_key

__all__ = ["Completion", "Disordered", "Firings", "Loop", "Seed"]

# A stratum's generated loop: (the store, the fast matcher begun on the stratum, the
# enricher, the agenda (a heap, seeded), the arrival counter, the trace, the productive
# firings so far, the firing limit, a function of nothing that makes the error of a
# passed limit) -> the productive firings after the stratum.
Loop = Callable[..., int]
# A stratum's generated seed: (the store's facts; a list for the activations of longer
# joins; the stratum's alpha memories; the matcher's `_equal`; the budget; the
# matcher's `_join`; the agenda (a heap); the arrival counter) -> None: each
# activation ``FastMatcher.add_all`` would find, pushed as an item.
Seed = Callable[..., None]
# A stratum's ordered loop (see `Firings.ordered`): (the store, the fast matcher begun
# on the stratum, the enricher, the stratum's activations per sub-rule (seeded), the
# trace, the productive firings so far, the firing limit, a function of nothing that
# makes the error of a passed limit) -> the productive firings after the stratum.
OrderedLoop = Callable[..., int]
# What a stratum's ordered loop knows of the strata after it, when every stratum is in
# order (`Firings.forward`): per later stratum, its number, its patterns by fact type,
# its sub-rules and its ordered alpha functions by fact type.
Ahead = Sequence[tuple[int, Mapping[str, TypeIndex], Sequence[SubRule], Mapping[str, Any]]]


@dataclass(frozen=True)
class Completion:
    """What a run's enricher does to the facts of one type, declared, so that the
    ordered loops complete such a fact inline (a copy of a template made once per key
    value, and the fact's key worked out from it) instead of calling the enricher and
    looking the shape of what it gave up.

    The declaration is a promise about the enricher the run is given: for a fact ``f``
    of type ``type`` whose ``key`` value ``k`` is a ``str`` in ``known`` and in the run's
    table (``FastMatcher.fresh``) with a value that is not None, ``enrich(f)`` is the
    dict of ``fields``, in that order: ``type``, ``key`` as ``k``, each of ``kept`` as
    ``f.get(name)`` (None when ``f`` lacks it), ``run`` as the table's value for ``k``,
    and every other field as ``known[k]`` gives it. Any other fact of the type is
    given to the enricher (:meth:`complete` is the promise written out, which the
    tests hold the engine's enricher to).

    Parameters
    ----------
    type : str
        The fact type.
    key : str
        The field whose value picks the fact's completion.
    fields : tuple of str
        The completed fact's field names, in order (``type`` and ``key`` among them).
    kept : tuple of str
        The fields taken from the fact made.
    run : str
        The field taken from the run's table, by the key's value.
    known : Mapping
        Per key value, the other fields' values (those neither ``type``, ``key``,
        ``kept`` nor ``run``), fixed for the knowledge base.

    Raises
    ------
    UsageError
        If a field is named twice, if ``type``, ``key``, ``run`` or a ``kept`` field is
        not among ``fields``, or if a ``known`` entry does not give exactly the other
        fields.
    """

    type: str
    key: str
    fields: tuple[str, ...]
    kept: tuple[str, ...]
    run: str
    known: Mapping[str, Mapping[str, Any]]

    def __post_init__(self) -> None:
        rest = set(self.others())
        named = ["type", self.key, self.run, *self.kept]
        if len(set(self.fields)) != len(self.fields) or len(set(named)) != len(named):
            raise UsageError("Completion: a field named twice")
        if not set(named) <= set(self.fields):
            raise UsageError("Completion: type, key, run and kept must be among fields")
        for value, given in self.known.items():
            if set(given) != rest:
                raise UsageError(f"Completion: known[{value!r}] must give exactly {sorted(rest)}")

    def others(self) -> tuple[str, ...]:
        """The fields ``known`` gives (neither ``type``, ``key``, ``run`` nor ``kept``),
        sorted: the order the generated loops read a template's known values in."""
        return tuple(sorted(set(self.fields) - {"type", self.key, self.run, *self.kept}))

    def complete(self, fact: Fact, table: Mapping[str, Any]) -> Fact | None:
        """The completed fact the declaration promises for ``fact``, or None when it
        promises nothing (the enricher decides).

        Parameters
        ----------
        fact : Fact
            A fact of the declared type.
        table : Mapping
            The run's table.

        Returns
        -------
        dict or None
        """
        k = fact.get(self.key)
        if type(k) is not str or k not in self.known or table.get(k) is None:
            return None
        known = self.known[k]
        out: Fact = {}
        for name in self.fields:
            if name == "type":
                out[name] = self.type
            elif name == self.key:
                out[name] = k
            elif name == self.run:
                out[name] = table[k]
            elif name in self.kept:
                out[name] = fact.get(name)
            else:
                out[name] = known[name]
        return out

    def templates(self) -> dict[str, tuple[Fact, tuple[Any, ...]]]:
        """Per key value: the completed fact's template (its fields in order, the known
        values set, the others None) and the known values in sorted field order (what
        the generated loops build the fact's store key from)."""
        rest = self.others()
        out = {}
        for k, given in self.known.items():
            template: Fact = {}
            for name in self.fields:
                template[name] = self.type if name == "type" else given.get(name)
            out[k] = (template, tuple(given[name] for name in rest))
        return out


class Disordered(Exception):
    """An ordered loop met a fact its enricher gave another type than its action's:
    its activations could come before the place being fired, so the run must be made
    again by the agenda (``driver.run`` does; the firings so far were the agenda's)."""


class Firings:
    """A rule set's strata as generated loops, once (per fast matcher): per stratum, the
    driver's loop over its agenda with each sub-rule's firing written in, or None for a
    stratum left to the generic loop.

    Parameters
    ----------
    strata : sequence of sequences of SubRule
        The compiled sub-rules, stratum by stratum.
    compiled : Compiled
        The same strata's patterns, indexed by fact type (``Compiled.index``).
    joins : sequence of Joins
        Per stratum, its two-pattern sub-rules' joins (see ``compiled.Joins``).
    negatives : dict
        The fast matcher's compiled ``not:`` patterns, by sub-rule key
        (``FastMatcher.negatives``).
    enriched : frozenset of str, optional
        The fact types the caller's enricher may change: a firing calls it only for
        those (every other fact is its own enrichment). None: for every type.
    completion : Completion, optional
        What the enricher does to one of those types, declared: the ordered loops
        complete its facts inline (see :class:`Completion`).
    """

    def __init__(
        self,
        strata: Sequence[Sequence[SubRule]],
        compiled: Compiled,
        joins: Sequence[Joins],
        negatives: Mapping[str, Sequence[Any]],
        enriched: frozenset[str] | None,
        completion: Completion | None = None,
    ) -> None:
        self.enriched = enriched
        # per stratum and fact type: its alpha tests with the two-pattern joins written in
        self.admitters: list[dict[str, AdmitJoin]] = [
            {t: _joining_function(ix, subs, joins[k]) for t, ix in compiled.index[k].items()}
            for k, subs in enumerate(strata)
        ]
        # per stratum: its seed, the same functions written into one loop over the facts
        self.seeds: list[Seed] = [
            _seed(compiled.index[k], subs, joins[k]) for k, subs in enumerate(strata)
        ]
        self.loops: list[Loop | None] = [
            _loop(subs, self.admitters[k], negatives, enriched)
            if subs and all(sub.build is not None for sub in subs)
            else None
            for k, subs in enumerate(strata)
        ]
        # per stratum whose firings can go place by place (`in_order`): its loop so,
        # with its own alpha functions, seed and maker of the activations' lists
        ordered = [in_order(subs) for subs in strata]
        # every stratum in order: a fact a firing makes is given to the later strata's
        # lists at once when what their alpha functions would do with it is known from
        # its action alone (see `_ahead_source`); their seeds skip it
        self.forward = len(strata) > 1 and all(ordered)
        self.ordered_admitters: list[dict[str, AdmitJoin]] = [
            {
                t: _joining_function(ix, subs, joins[k], True, closed(subs))
                for t, ix in compiled.index[k].items()
            }
            if ordered[k]
            else {}
            for k, subs in enumerate(strata)
        ]
        self.ordered_seeds: list[Seed | None] = [
            _seed(compiled.index[k], subs, joins[k], True, self.forward and k > 0)
            if ordered[k]
            else None
            for k, subs in enumerate(strata)
        ]
        self.ordered: list[OrderedLoop | None] = [
            _ordered_loop(
                subs,
                self.ordered_admitters[k],
                negatives,
                enriched,
                [
                    (j, compiled.index[j], strata[j], self.ordered_admitters[j])
                    for j in range(k + 1, len(strata))
                ]
                if self.forward
                else (),
                self.forward and k > 0,
                compiled.index[k],
                completion,
                _Admissions(compiled.index[k], subs, joins[k]),
            )
            if ordered[k]
            else None
            for k, subs in enumerate(strata)
        ]
        self.lists: list[Callable[[], list[list[Any]]]] = [_lists_maker(subs) for subs in strata]


def in_order(subs: Sequence[SubRule]) -> bool:
    """Whether a stratum's agenda can be worked through place by place: every sub-rule
    has a generated ``build``, and each feeds (asserts a fact of a type a positive
    pattern uses) only sub-rules of later places, or itself when it has one pattern.

    Then, once the places before a sub-rule's have been fired, nothing can give it
    another activation but its own firings; so the agenda's order (place, then the
    facts' numbers) is: each sub-rule's activations in turn, in place order, those of
    a sub-rule sorted by the facts' numbers. A one-pattern sub-rule's activations
    come in increasing number (facts are admitted as they are numbered), even those
    its own firings add, so they need no sorting. The enricher is taken to keep a
    fact's type (the ordered loop checks it, see :class:`Disordered`)."""
    if not subs or any(sub.build is None for sub in subs):
        return False
    for a in subs:
        made = {ftype for ftype, _fields in a.actions}
        for b in subs:
            if made.isdisjoint(b.types) or b.place > a.place:
                continue
            if b is a and len(a.positives) == 1:
                continue
            return False
    return True


def closed(subs: Sequence[SubRule]) -> frozenset[tuple[int, int]]:
    """The patterns (sub-rule, position) of a stratum in order whose facts an ordered
    loop's alpha functions need not remember: those of two-pattern sub-rules whose
    other pattern's type no sub-rule of the stratum asserts. Once the seed is done,
    the other pattern's memory gains no fact (an ordered loop keeps each fact's type,
    see :class:`Disordered`), so no join reads this one's again (on the shipped rules,
    a deficit passes a dozen such patterns, each joined with the profile's person)."""
    made = {ftype for sub in subs for ftype, _fields in sub.actions}
    return frozenset(
        (i, pos)
        for i, sub in enumerate(subs)
        if len(sub.positives) == 2
        for pos in (0, 1)
        if sub.positives[1 - pos].type not in made
    )


def _lists_maker(subs: Sequence[SubRule]) -> Callable[[], list[list[Any]]]:
    """A function that makes a stratum's empty lists of activations, one per sub-rule,
    as one list display: a sub-rule with no positive pattern has its one activation,
    binding nothing, from the start (the driver's agenda does too)."""
    items = ["[()]" if not sub.positives else "[]" for sub in subs]
    env: dict[str, Any] = {}
    source = f"def make():\n    return [{', '.join(items)}]"
    exec(compile(source, "<deficit_engine lists>", "exec"), env)
    return env["make"]  # type: ignore[no-any-return]


def _seed(
    types: Mapping[str, TypeIndex],
    subs: Sequence[SubRule],
    joins: Joins,
    ordered: bool = False,
    pending: bool = False,
) -> Seed:
    """The source of one stratum's seed, compiled (see :data:`Seed`): the store's facts
    taken in turn, each type's function of :attr:`Firings.admitters` written in, picked
    by the fact's type (a call a fact spared: a profile's hundred facts, two strata); a
    fact of a type no pattern of the stratum uses passes every branch by (cheaper than
    merging the store's lists of the types used, when they hold most facts, as they do
    for the shipped rules). ``ordered``: the activations appended to the sub-rules'
    lists given as the agenda (see ``compiled._joining_function``). ``pending``: only
    the facts whose numbers are in the list ``pending`` are taken (those the earlier
    strata's ordered loops did not give the stratum's lists, see `_ahead_source`)."""
    env: dict[str, Any] = {}
    lines = [
        "def seed(facts, out, memory, equal, budget, join, agenda, counter, pending=None):",
        *(["    for s in pending:", "        f = facts[s]"] if pending else []),
        *([] if pending else ["    for s, f in enumerate(facts):"]),
        "        ty = f['type']",
    ]
    for i, (ftype, index) in enumerate(types.items()):
        reads, body = alpha_source(index, subs, joins, env, ordered)
        env[f"t{i}"] = ftype
        lines.append(f"        {'if' if i == 0 else 'elif'} ty == t{i}:")
        lines.extend("        " + line for line in [*reads, *body])
        if not reads and not body:
            lines.append("            pass")
    exec(compile("\n".join(lines), "<deficit_engine seed>", "exec"), env)
    return env["seed"]  # type: ignore[no-any-return]


# The loops' first lines: the store's and the matcher's parts bound to locals.
_BEGIN = (
    "    facts, keys, exact, by_type = store.facts, store.keys, store.exact, store.by_type",
    "    unkeyed, add, budget = store.unkeyed, store.add, store.budget",
    "    memory, join, equal = matcher.memory, matcher._join, matcher._equal",
    "    out, done = [], set()",
)


def _namespace(**extra: Any) -> tuple[dict[str, Any], Callable[[Any], str]]:
    """A loop's namespace (what its source names, and ``extra``) and the function that
    binds a constant in it under a fresh name, returned."""
    env: dict[str, Any] = {
        "M": object(),
        "fact_key": fact_key,
        "same_bools": _same_bools,
        "SHAPES": _SHAPES,
        "new_shape": _shape,
        **extra,
    }

    def const(value: Any) -> str:
        name = f"c{len(env)}"
        env[name] = value
        return name

    return env, const


def _loop(
    subs: Sequence[SubRule],
    admitters: dict[str, Any],
    negatives: Mapping[str, Sequence[Any]],
    enriched: frozenset[str] | None,
) -> Loop:
    """The source of one stratum's loop, compiled (see :data:`Loop`): the driver's loop
    for an exact matcher (``driver._Chaining.stratum``), its firing picked by the
    sub-rule's place (a binary search of ``if``s) and written in. Every field name,
    value, rule id and function is a constant bound by name in the namespace, so
    nothing from a rule file becomes code."""
    env, const = _namespace(push=heappush, pop=heappop)
    lines = [
        "def loop(store, matcher, enrich, agenda, counter, trace, fired, limit, over):",
        *_BEGIN,
    ]
    begun = len(lines)
    lines += ["    while agenda:", "        place, seqs, _n, sub = pop(agenda)"]
    by_place = {sub.place: sub for sub in subs}
    kept: dict[str, tuple[str, int]] = {}  # see `_kept_source`
    indexes: dict[tuple[str, str], str] = {}  # see `_indexes_source`

    def dispatch(places: list[int], indent: str) -> None:
        if len(places) == 1:
            sub = by_place[places[0]]
            negs = negatives.get(sub.key, ())
            _fire_source(
                sub,
                negs,
                indent,
                enriched,
                admitters,
                const,
                lines,
                env,
                kept=kept,
                indexes=indexes,
            )
            return
        mid = len(places) // 2
        lines.append(f"{indent}if place < {places[mid]}:")
        dispatch(places[:mid], indent + "    ")
        lines.append(f"{indent}else:")
        dispatch(places[mid:], indent + "    ")

    dispatch(sorted(by_place), "        ")
    lines[begun:begun] = [*_kept_source(kept), *_indexes_source(indexes, const)]
    lines.append("    return fired")
    exec(compile("\n".join(lines), "<deficit_engine stratum>", "exec"), env)
    return env["loop"]  # type: ignore[no-any-return]


def _ordered_loop(
    subs: Sequence[SubRule],
    admitters: dict[str, Any],
    negatives: Mapping[str, Sequence[Any]],
    enriched: frozenset[str] | None,
    ahead: Ahead = (),
    given: bool = False,
    own: Mapping[str, TypeIndex] | None = None,
    completion: Completion | None = None,
    admissions: _Admissions | None = None,
) -> OrderedLoop:
    """The source of one stratum's ordered loop, compiled (see :data:`OrderedLoop` and
    :func:`in_order`): per sub-rule in place order, a loop over its activations (its
    list sorted first when it has two patterns or more), each firing written in as
    :func:`_loop` writes it. No heap, no arrival counter, no dispatch by place: the
    firings come in the agenda's order by construction.

    ``ahead``: the later strata, whose lists (``lists``) and facts left to seed
    (``pending``) each new fact goes to (see :func:`_ahead_source`). ``given``: this
    stratum's one-pattern lists may have been given facts so by earlier strata, before
    its seed gave them the others: they are sorted too. ``own``: the stratum's patterns
    by fact type, when a new fact's admission to the stratum's own lists may be decided
    from its action's constants (see :func:`_add_source`). ``completion``: what the
    enricher does to one type, declared (see :func:`_completed_source`); the run's table
    is the matcher's ``table``; ``admissions``, the stratum's alpha functions made for
    the patterns a completed fact is known to pass (see :class:`_Admissions`)."""
    env, const = _namespace(DISORDERED=Disordered)
    lines = [
        "def loop(store, matcher, enrich, agenda, trace, fired, limit, over, lists, pending):",
        *_BEGIN,
        "    counter = None",  # the alpha functions' argument, unused when ordered
        *(["    RT = matcher.table"] if completion is not None else []),
        *(f"    L{j}, P{j} = lists[{j}], pending[{j}]" for j, *_later in ahead),
    ]
    begun = len(lines)
    kept: dict[str, tuple[str, int]] = {}  # see `_kept_source`
    indexes: dict[tuple[str, str], str] = {}  # see `_indexes_source`
    mine = None if own is None else (own, subs)
    for i, sub in sorted(enumerate(subs), key=lambda item: item[1].place):
        if len(sub.positives) == 1 and not given:  # its facts' numbers, in increasing order
            lines.append(f"    for s0 in agenda[{i}]:")
        elif len(sub.positives) == 1:
            lines += [
                f"    q = agenda[{i}]",
                "    if len(q) > 1:",
                "        q.sort()",
                "    for s0 in q:",
            ]
        else:
            lines += [
                f"    q = agenda[{i}]",
                "    if len(q) > 1:",
                "        q.sort()",
                "    for seqs in q:",
            ]
        negs = negatives.get(sub.key, ())
        _fire_source(
            sub,
            negs,
            "        ",
            enriched,
            admitters,
            const,
            lines,
            env,
            True,
            ahead,
            kept,
            mine,
            indexes,
            completion,
            admissions,
        )
    lines[begun:begun] = [*_kept_source(kept), *_indexes_source(indexes, const)]
    lines.append("    return fired")
    exec(compile("\n".join(lines), "<deficit_engine ordered>", "exec"), env)
    return env["loop"]  # type: ignore[no-any-return]


def _fire_source(
    sub: SubRule,
    negatives: Sequence[Any],
    indent: str,
    enriched: frozenset[str] | None,
    admitters: dict[str, Any],
    const: Callable[[Any], str],
    lines: list[str],
    env: Mapping[str, Any],
    ordered: bool = False,
    ahead: Ahead = (),
    kept: dict[str, tuple[str, int]] | None = None,
    mine: tuple[Mapping[str, TypeIndex], Sequence[SubRule]] | None = None,
    indexes: dict[tuple[str, str], str] | None = None,
    completion: Completion | None = None,
    admissions: _Admissions | None = None,
) -> None:
    """Append the source of one sub-rule's turn in the loop, its activation's facts'
    numbers in ``seqs``: what the generic loop does for an exact matcher, with what is
    known of the sub-rule written in. An alternative of a rule fires once per outer
    binding (``done``); the bound facts ``b``; the ``not:`` patterns tested as
    ``FastMatcher.blocked`` tests them (``negatives``: its compiled ones); its facts made
    as ``SubRule.build`` makes them, each added as :func:`_add_source` says; the trace's
    row (``(rule, matched, asserted)``, see ``driver.run``); the firing counted against
    the limit.
    ``ordered``: in an ordered loop, where a one-pattern sub-rule's activation is its
    fact's number ``s0`` (else the numbers ``seqs``); ``ahead``, the later strata
    each new fact goes to (:func:`_ahead_source`); ``kept`` and ``mine``, as
    :func:`_add_source` takes them; ``indexes``, the ``not:`` patterns' indexes the
    loop binds to locals (see :func:`_candidates_source`), by type and field;
    ``completion`` and ``admissions``, as :func:`_add_source` takes them.

    A sub-rule of one action asserts at most one fact: its new facts are a tuple made
    where the fact is found new (``made``), not a list turned into one."""
    rid = const(sub.rule.id)
    single = len(sub.actions) == 1
    n = len(sub.positives)
    one = ordered and n == 1
    if sub.alt:
        outer = ("(s0,)" if sub.n_outer else "()") if one else f"seqs[:{sub.n_outer}]"
        lines += [
            f"{indent}key = ({const(sub.key)}, {outer})",
            f"{indent}if key in done:",
            f"{indent}    continue",
        ]
    if one:
        lines.append(f"{indent}b = (facts[s0],)")
    else:
        lines.append(f"{indent}b = ({''.join(f'facts[seqs[{i}]], ' for i in range(n))})")
    if negatives:
        bound = [f"b[{i}]" for i in range(n)]
        lines.append(f"{indent}x = False")
        for i, (ftype, _test, field, position, other) in enumerate(negatives):
            at = indent
            if i:
                lines.append(f"{indent}if not x:")
                at += "    "
            lines.append(f"{at}cands = by_type.get({const(ftype)})")
            lines.append(f"{at}if cands:")
            at += "    "
            if field is not None:
                lines.append(f"{at}v = b[{position}].get({const(other)}, M)")
                lines.append(f"{at}if v is not M:")
                at += "    "
                name = (ftype, field)  # FastMatcher.blocked's index, kept in a local
                if indexes is None:
                    lines.append(f"{at}cands = equal({const(name)}, {const(field)}, cands, v)")
                else:
                    ix = indexes.setdefault(name, f"I{len(indexes)}")
                    lines += _candidates_source(at, ix, const(name), const(field))
            lines.append(f"{at}for t in cands:")
            # the pattern's conditions written in (`compiled.conditions_source`), as
            # its compiled test (`FastMatcher.negatives`) tests them
            conds = sub.negatives[i].conds
            test = conditions_source(conds, "g", bound, sub.aliases, const)
            lines += [
                f"{at}    g = facts[t]",
                f"{at}    if {test}:",
                f"{at}        x = True",
                f"{at}        break",
            ]
        lines += [f"{indent}if x:", f"{indent}    continue"]
    if sub.alt:
        lines.append(f"{indent}done.add(key)")
    made = "made" if single else "tuple(new)"  # the firing's new facts
    lines.append(f"{indent}made = ()" if single else f"{indent}new = []")
    body: list[str] = []
    for ftype, fields in sub.actions:

        def finish(
            at: str,
            names: tuple[str, ...] | None,
            known: dict[str, str],
            making: Making | None,
            ftype: str = ftype,
        ) -> None:
            decided = _add_source(
                at,
                ftype,
                names,
                known,
                enriched,
                admitters,
                rid,
                const,
                body,
                env,
                ordered,
                "made = (f,)" if single else "new.append(f)",
                kept,
                mine,
                making,
                completion,
                admissions,
                ahead,
            )
            fixed = None if enriched is None or ftype in enriched else names
            _ahead_source(at + "    ", ftype, fixed, known, env, ahead, body, const, decided)

        _action_source(ftype, fields, const, body, finish)
    # the builder's source is indented for a function's body (four spaces)
    lines.extend(indent + line[4:] for line in body)
    lines += [
        # the firing's row (models.diagnosis.TraceRow): a TraceEntry's fields, made into
        # one only when a Result's trace is read (a fifth of the entry's cost)
        f"{indent}trace.append(({rid}, b, {made}))",
        f"{indent}if {'made' if single else 'new'}:",
        f"{indent}    fired += 1",
        f"{indent}    if fired > limit:",
        f"{indent}        raise over()",
    ]


def _add_source(
    indent: str,
    ftype: str,
    names: tuple[str, ...] | None,
    known: dict[str, str],
    enriched: frozenset[str] | None,
    admitters: dict[str, Any],
    rid: str,
    const: Callable[[Any], str],
    lines: list[str],
    env: Mapping[str, Any],
    ordered: bool = False,
    note: str = "new.append(f)",
    kept: dict[str, tuple[str, int]] | None = None,
    mine: tuple[Mapping[str, TypeIndex], Sequence[SubRule]] | None = None,
    making: Making | None = None,
    completion: Completion | None = None,
    admissions: _Admissions | None = None,
    ahead: Ahead = (),
) -> dict[int, int]:
    """Append the source of what the driver does with a fact ``f`` a firing makes:
    enrich it (if its type may change), add it to the store, and, when it is new,
    count it against the budget, note it as new and give it to the matcher.
    ``ordered``: an enriched fact whose type is not its action's stops the ordered
    loop (:class:`Disordered`); so its type's function is known here.

    The fact is keyed as :meth:`FactStore.add` keys it, written out: when its field
    names are fixed (no optional field, not enriched), by the set of them and its values
    in sorted-name order (the store's ``_shape``) read from the locals it was made of;
    else by its shape looked up. Facts of a type still unkeyed go to ``add`` (which
    keys them first).

    A fact found already under its key is the same fact unless one of the two holds a
    bool (``_same_bools``); when every value of the fixed-shape fact is a string (a
    string constant, or a value read and found to be a ``str``), the one found has
    string values too (only a string equals a string), so that test is skipped.

    ``note``: the statement that notes ``f`` among the firing's new facts. ``kept``:
    the fact types whose facts the loop files in the store's per-type list and checks
    against ``unkeyed`` through locals bound once (see :func:`_kept_source`), for a
    type known here (fixed, or kept by the enricher in an ordered loop). ``mine``: in
    an ordered loop, the stratum's own patterns by type and its sub-rules: a fact whose
    admission they decide from its action's constants (:func:`_admitted`) is appended
    to those lists here, without a call to its type's alpha function. ``making``: how
    to make ``f`` when it is not made yet (a fixed-shape fact, see
    ``compiler.Making``): it is made only where it is used, so a fact the store holds
    already (a tenth of the shipped rules' firings) is never made. ``completion``: what
    the enricher does to one type, declared; a fact of that type made in an ordered loop
    is completed inline when it can be (see :func:`_completed_source`), and given to
    the function ``admissions`` makes for the patterns it is known to pass, when its
    key's value decides them. Returns, per later stratum of ``ahead`` whose lists such a
    fact's entry decides, where in the entry (see :func:`_ahead_source`)."""
    fixed = names
    if (
        ordered
        and completion is not None
        and completion.type == ftype
        and (enriched is None or ftype in enriched)
        and making is not None
        and names is not None
        and completion.key in names
    ):
        decided, later = _completed_source(
            indent,
            ftype,
            names,
            known,
            making,
            completion,
            const,
            lines,
            kept,
            env,
            admissions,
            ahead,
        )
        names = None  # the store's part below: keyed as _completed_source says
        local = None if kept is None else kept[ftype][1]
        key, same, t = "kk", "same_bools(facts[found], f)", const(ftype)
        display = None
    else:
        decided, later = False, {}
        names, display, local, key, same, t = _store_head(
            indent, ftype, names, known, enriched, const, lines, env, ordered, kept, making
        )
    _store_tail(indent, ftype, names, key, same, t, local, display, making, const, lines)
    _noted_source(
        indent,
        ftype,
        names,
        fixed,
        known,
        admitters,
        rid,
        const,
        lines,
        env,
        ordered,
        note,
        mine,
        decided,
    )
    return later


def _completed_source(
    indent: str,
    ftype: str,
    names: tuple[str, ...],
    known: dict[str, str],
    making: Making,
    completion: Completion,
    const: Callable[[Any], str],
    lines: list[str],
    kept: dict[str, tuple[str, int]] | None,
    env: Mapping[str, Any],
    admissions: _Admissions | None,
    ahead: Ahead = (),
) -> tuple[bool, dict[int, int]]:
    """Append the source that makes and keys a fact ``f`` of the completion's type in an
    ordered loop (``names`` fixed, the completion's key among them, ``RT`` the run's
    table): when the key's value is a ``str`` with a template and a value in the table,
    ``f`` is a copy of the template with the key, the kept fields and the table's value
    set (what the enricher would give, :class:`Completion`), and its store key ``kk``
    is written out from the same values; else ``f`` is made, enriched and keyed as any
    enriched fact is (its type checked, its shape looked up). Then the store's part:
    a type still unkeyed goes to ``add`` (``U<i>``), else ``s`` is the next number.

    Given ``admissions``, each key value's entry ends with the stratum's alpha function
    for the patterns a fact so completed passes (``ct[-1]``), where the key's value and
    the action's constants decide them (else the type's alpha function): returns
    whether it does (see :func:`_noted_source`). And per later stratum of ``ahead`` whose
    patterns of the type are all one-pattern: the sub-rules whose lists the fact goes to,
    decided as much (None where a pattern reads the run's value); returned as their
    places in the entry, by stratum (see :func:`_ahead_source`)."""
    k = known[completion.key]
    made = completion.templates()
    templates: dict[str, tuple[Any, ...]] = {
        value: (tpl, *given) for value, (tpl, given) in made.items()
    }
    values = {
        value: _completed_values(names, known, env, completion, value, tpl)
        for value, (tpl, _given) in made.items()
    }
    later: dict[int, int] = {}
    for j, index, subs, admitters in ahead:
        if admitters.get(ftype) is None or not _one_pattern(index[ftype], subs):
            continue
        later[j] = len(next(iter(templates.values()), ()))
        templates = {
            value: (*entry, _taken(index[ftype], values[value]))
            for value, entry in templates.items()
        }
    if admissions is not None:
        templates = {
            value: (*entry, admissions.of(ftype, values[value]))
            for value, entry in templates.items()
        }
    local = None
    if kept is not None:
        local = kept.setdefault(ftype, (const(ftype), len(kept)))[1]
    # the completed fact's values, by field: a source in the loop
    rest = completion.others()
    source = {"type": const(ftype), completion.key: k, completion.run: "sc"}
    source.update({n: known.get(n) or const(None) for n in completion.kept if n not in source})
    source.update({n: f"ct[{1 + i}]" for i, n in enumerate(rest)})
    by_name = sorted(completion.fields)
    shape = _SHAPES.get(completion.fields) or _shape(completion.fields)
    read = ", ".join(source[n] for n in by_name)
    key = f"({const(shape[0])}, {read if len(by_name) == 1 else f'({read},)'})"
    sets = [f"f[{const(n)}] = {source[n]}" for n in (completion.key, *completion.kept)]
    lines += [
        f"{indent}ct = {const(templates)}.get({k}) if type({k}) is str else None",
        f"{indent}sc = None if ct is None else RT.get({k})",
        f"{indent}if sc is None:",
        *(f"{indent}    {line}" for line in making[1]),
        f"{indent}    f = enrich(f)",
        f"{indent}    if f['type'] != {const(ftype)}:",
        f"{indent}        raise DISORDERED",
        f"{indent}else:",
        f"{indent}    f = ct[0].copy()",
        *(f"{indent}    {line}" for line in sets),
        f"{indent}    f[{const(completion.run)}] = sc",
        f"{indent}if {f'U{local}' if local is not None else f'{const(ftype)} in unkeyed'}:",
        f"{indent}    s = add(f)",
        *([f"{indent}    U{local} = False"] if local is not None else []),
        f"{indent}else:",
        f"{indent}    s = len(facts)",
        f"{indent}    if sc is None:",
        f"{indent}        names = tuple(f)",
        f"{indent}        shape = SHAPES.get(names)",
        f"{indent}        if shape is None:",
        f"{indent}            shape = new_shape(names)",
        f"{indent}        kk = (shape[0], shape[1](f))",
        f"{indent}    else:",
        f"{indent}        kk = {key}",
    ]
    return admissions is not None, later


def _completed_values(
    names: tuple[str, ...],
    known: dict[str, str],
    env: Mapping[str, Any],
    completion: Completion,
    value: str,
    template: Fact,
) -> _Values:
    """A fact completed for the key's ``value`` (from its ``template``) by an action of
    field names ``names`` (values from ``known``, constants in ``env``): its values
    known when the loop is made, and the fields read only as it runs (the run's, and
    kept fields the action reads from bound facts)."""
    fact = dict(template)
    fact[completion.key] = value
    read = {completion.run}
    for name in completion.kept:
        src = known.get(name) if name in names else None
        if name in names and (src is None or src not in env):
            read.add(name)
        else:
            fact[name] = None if src is None else env[src]
    return fact, read


# A fact's values known when a loop is made, and the fields known only as it runs.
_Values = tuple[dict[str, Any], set[str]]


def _taken(index: TypeIndex, values: _Values) -> tuple[int, ...] | None:
    """The one-pattern sub-rules (by index) of a later stratum whose lists a completed
    fact of ``values`` goes to, decided as :func:`_passed` decides; None when a pattern
    reads a value known only as the loop runs."""
    passed = _passed(index, values)
    return None if passed is None else tuple(plan.sub for plan in passed)


def _store_head(
    indent: str,
    ftype: str,
    names: tuple[str, ...] | None,
    known: dict[str, str],
    enriched: frozenset[str] | None,
    const: Callable[[Any], str],
    lines: list[str],
    env: Mapping[str, Any],
    ordered: bool,
    kept: dict[str, tuple[str, int]] | None,
    making: Making | None,
) -> tuple[tuple[str, ...] | None, str | None, int | None, str, str, str]:
    """The first half of :func:`_add_source`'s store part: the fact made (when it must be
    before it is keyed) and enriched, its key's source. Returns the fact's field names
    (None when the enricher decides them), its display when it is made only where it is
    used, the type's local number, the key's source, the source of "the fact found is
    this one" and the type's source."""
    display = None if making is None else making[0]
    make = [] if making is None else list(making[1])
    if making is not None and (
        enriched is None or ftype in enriched or any(n not in known for n in names or ())
    ):
        lines.extend(f"{indent}{line}" for line in make)  # the enricher or the key reads it
        display, make = None, []
    if enriched is None or ftype in enriched:
        lines.append(f"{indent}f = enrich(f)")
        if ordered:
            lines += [f"{indent}if f['type'] != {const(ftype)}:", f"{indent}    raise DISORDERED"]
        names = None  # its shape is the enricher's
    # the source of "the fact found under its key is this one" (see above)
    same = "same_bools(facts[found], f)"
    # the type's locals (see `_kept_source`), when its type is known here
    local = None
    if kept is not None and (names is not None or ordered):
        local = kept.setdefault(ftype, (const(ftype), len(kept)))[1]
    if names is None:  # FactStore.add, inline: the shape looked up by the names
        t = "t"
        key = "(shape[0], shape[1](f))"
        unkeyed = f"U{local}" if local is not None else "t in unkeyed"
        lines += [
            *([f"{indent}t = f['type']"] if local is None else []),  # else known: ftype
            f"{indent}if {unkeyed}:",
            f"{indent}    s = add(f)",
            *([f"{indent}    U{local} = False"] if local is not None else []),
            f"{indent}else:",
            f"{indent}    s = len(facts)",
            f"{indent}    names = tuple(f)",
            f"{indent}    shape = SHAPES.get(names)",
            f"{indent}    if shape is None:",
            f"{indent}        shape = new_shape(names)",
        ]
    else:
        shape = _SHAPES.get(names) or _shape(names)
        by_name = sorted(names)
        values = ", ".join(known.get(n) or f"f[{const(n)}]" for n in by_name)
        key = f"({const(shape[0])}, {values if len(by_name) == 1 else f'({values},)'})"
        sources = [known.get(n) for n in names]
        read = [src for src in sources if src is not None and src not in env]
        constants = [env[src] for src in sources if src is not None and src in env]
        if display is not None:  # the fact made only if the bools' test needs it
            same = same.replace("facts[found], f)", f"facts[found], (f := {display}))")
        if None not in sources and all(type(c) is str for c in constants):
            strings = " and ".join(f"type({src}) is str" for src in read) or "True"
            same = f"({strings} or {same})" if read else "True"
        t = const(ftype)
        lines += [
            f"{indent}if {f'U{local}' if local is not None else f'{t} in unkeyed'}:",
            *(f"{indent}    {line}" for line in make),
            f"{indent}    s = add(f)",
            *([f"{indent}    U{local} = False"] if local is not None else []),
            f"{indent}else:",
            f"{indent}    s = len(facts)",
        ]
    return names, display, local, key, same, t


def _store_tail(
    indent: str,
    ftype: str,
    names: tuple[str, ...] | None,
    key: str,
    same: str,
    t: str,
    local: int | None,
    display: str | None,
    making: Making | None,
    const: Callable[[Any], str],
    lines: list[str],
) -> None:
    """The second half of :func:`_add_source`'s store part: the fact looked up under its
    key, appended to the store and its type's list when new, ``s`` None when not."""
    make = [] if making is None or display is None else list(making[1])
    if display is None:
        lines += [
            f"{indent}    try:",
            f"{indent}        found = keys.setdefault({key}, s)",
            f"{indent}    except TypeError:",  # a list among its values
            f"{indent}        found = exact.setdefault(fact_key(f), s)",
            f"{indent}    else:",
            f"{indent}        if found != s and not {same}:",
            f"{indent}            found = exact.setdefault(fact_key(f), s)",
        ]
    else:  # the fact made where it is used: new, or compared by `fact_key`
        lines += [
            f"{indent}    try:",
            f"{indent}        found = keys.setdefault({key}, s)",
            f"{indent}    except TypeError:",
            *(f"{indent}        {line}" for line in make),
            f"{indent}        found = exact.setdefault(fact_key(f), s)",
            f"{indent}    else:",
            f"{indent}        if found == s:",
            *(f"{indent}            {line}" for line in make),
            f"{indent}        elif not {same}:",
            f"{indent}            found = exact.setdefault(fact_key(f), s)",
        ]
    lines += [
        f"{indent}    if found == s:",
        f"{indent}        facts.append(f)",
    ]
    if local is not None:  # the list bound once it exists (never replaced after)
        lines += [
            f"{indent}        if B{local} is None:",
            f"{indent}            B{local} = by_type.setdefault({const(ftype)}, [])",
            f"{indent}        B{local}.append(s)",
        ]
    else:
        lines += [
            f"{indent}        of = by_type.get({t})",
            f"{indent}        if of is None:",
            f"{indent}            by_type[{t}] = [s]",
            f"{indent}        else:",
            f"{indent}            of.append(s)",
        ]
    lines += [
        f"{indent}    else:",
        f"{indent}        s = None",
    ]


def _noted_source(
    indent: str,
    ftype: str,
    names: tuple[str, ...] | None,
    fixed: tuple[str, ...] | None,
    known: dict[str, str],
    admitters: dict[str, Any],
    rid: str,
    const: Callable[[Any], str],
    lines: list[str],
    env: Mapping[str, Any],
    ordered: bool,
    note: str,
    mine: tuple[Mapping[str, TypeIndex], Sequence[SubRule]] | None,
    decided: bool = False,
) -> None:
    """The last part of :func:`_add_source`: a new fact's budget spent, the fact noted
    and given to the stratum's lists or its type's alpha function; ``decided``: a
    completed fact's to the alpha function of the patterns it passes, ``ct[-1]`` (see
    :func:`_completed_source`), when it was completed inline (``sc`` not None)."""
    lines += [
        f"{indent}if s is not None:",
        f"{indent}    budget.spent += 1",
        f"{indent}    if budget.spent > budget.limit:",
        f"{indent}        raise budget.exceeded({rid})",
        f"{indent}    {note}",
    ]
    inner = indent + "    "
    call = "(f, s, out, memory, facts, equal, budget, join, agenda, counter)"
    if names is None and not ordered:
        # the type is known only now (the enricher's): looked up as the matcher does
        lines += [
            f"{inner}a = {const(admitters)}.get(t)",
            f"{inner}if a is not None:",
            f"{inner}    a{call}",
        ]
        return
    if mine is not None and fixed is not None and names is not None:
        taken = _admitted(ftype, names, known, env, *mine)
        if taken is not None:  # one-pattern activations, decided here
            lines.extend(f"{inner}agenda[{i}].append(s)" for i in taken)
            return
    admit = admitters.get(ftype)  # in an ordered loop, the enricher kept the type
    if admit is None:
        return  # no positive pattern of the stratum takes this type
    if decided:
        lines.append(f"{inner}({const(admit)} if sc is None else ct[-1]){call}")
        return
    lines.append(f"{inner}{const(admit)}{call}")


def _candidates_source(at: str, ix: str, name: str, field: str) -> list[str]:
    """The source that narrows ``cands`` (the store's facts of a ``not:`` pattern's type)
    to those whose ``field`` may equal ``v``, as ``FastMatcher._equal`` does, from its
    index (``name``), which the loop binds to the local ``ix`` once (``_indexes_source``):
    read in place when it is up to date, else by ``_equal``, which brings it up to date."""
    return [
        f"{at}if {ix}[0] != len(cands):",
        f"{at}    cands = equal({name}, {field}, cands, v)",
        f"{at}else:",
        f"{at}    try:",
        f"{at}        cands = {ix}[1].get(v, ())",
        f"{at}    except TypeError:",  # a list: every fact is a candidate
        f"{at}        pass",
        f"{at}    else:",
        f"{at}        if {ix}[2]:",
        f"{at}            cands = [*cands, *{ix}[2]]",
    ]


def _indexes_source(
    indexes: Mapping[tuple[str, str], str], const: Callable[[Any], str]
) -> list[str]:
    """The loop's first lines that bind each ``not:`` pattern's index of the store's facts
    (``FastMatcher.indexes``, by type and field) to a local: the matcher's own, made
    empty here when it has none yet (``_equal`` fills it)."""
    lines = []
    for name, ix in indexes.items():
        key = const(name)
        lines += [
            f"    {ix} = matcher.indexes.get({key})",
            f"    if {ix} is None:",
            f"        {ix} = matcher.indexes[{key}] = [0, {{}}, []]",
        ]
    return lines


def _kept_source(kept: Mapping[str, tuple[str, int]]) -> list[str]:
    """The loop's first lines for the fact types it files through locals: ``U<i>``,
    whether the type is still unkeyed (it only stops being so, by ``add``, which the
    loop does then sets it false), and ``B<i>``, the store's list of the type's facts
    or None until there is one (a list there is never replaced). A set and a dict
    looked up once per run, not once per fact."""
    return [f"    U{i}, B{i} = {name} in unkeyed, by_type.get({name})" for name, i in kept.values()]


def _ahead_source(
    indent: str,
    ftype: str,
    names: tuple[str, ...] | None,
    known: dict[str, str],
    env: Mapping[str, Any],
    ahead: Ahead,
    lines: list[str],
    const: Callable[[Any], str] | None = None,
    decided: Mapping[int, int] | None = None,
) -> None:
    """Append the source of what an ordered loop does, in a stratum before others all in
    order, with a new fact ``f`` (number ``s``), for each later stratum: give it to the
    one-pattern sub-rules' lists its alpha function would give it to, when that is
    known from the action alone (:func:`_admitted`); else, when every pattern of its
    type in the later stratum is a one-pattern sub-rule's, give it to that stratum's
    alpha function now (it appends to those lists and does nothing else: the
    enriched deficits of the shipped rules, whose later patterns read the group the
    enricher adds), given ``const``; else note it among the facts the stratum's seed
    takes (``P``). A one-pattern activation spends no budget and its list is sorted
    before it is fired; the facts left go to the seed in their order, so the joins and
    the budget see what they saw, in the same order. ``decided``: for a fact completed
    inline (``sc`` not None), where its entry ``ct`` holds a later stratum's sub-rules
    whose lists it goes to, by stratum (see :func:`_completed_source`)."""
    for j, index, subs, admitters in ahead:
        taken = None if names is None else _admitted(ftype, names, known, env, index, subs)
        admit = admitters.get(ftype)
        call = f"(f, s, None, None, facts, None, None, None, L{j}, None)"
        if decided and j in decided and const is not None and admit is not None:
            lines += [
                f"{indent}taken = None if sc is None else ct[{decided[j]}]",
                f"{indent}if taken is None:",
                f"{indent}    {const(admit)}{call}",
                f"{indent}else:",
                f"{indent}    for each in taken:",
                f"{indent}        L{j}[each].append(s)",
            ]
        elif taken is not None:
            lines.extend(f"{indent}L{j}[{i}].append(s)" for i in taken)
        elif const is not None and admit is not None and _one_pattern(index[ftype], subs):
            lines.append(f"{indent}{const(admit)}{call}")
        else:
            lines.append(f"{indent}P{j}.append(s)")


def _one_pattern(index: TypeIndex, subs: Sequence[SubRule]) -> bool:
    """Whether every pattern of a type's index is a one-pattern sub-rule's (its ordered
    alpha function then only appends the fact's number to those sub-rules' lists)."""
    _field, keyed, rest = index
    plans = [*(p for group in keyed.values() for p in group), *rest]
    return all(len(subs[plan.sub].positives) == 1 for plan in plans)


class _Admissions:
    """A stratum's alpha functions (ordered, as its ordered loop's) made for the patterns
    a completed fact is known to pass: for a fact whose values are known but for the
    run's (a completed fact of a key value, see :class:`Completion`), the patterns its
    type's alpha function would pass it on, in the order it would, decided by
    :func:`~.semantics.holds` as :func:`_admitted` decides them; then a function that
    does what that alpha function does on those patterns alone (the memories, joins,
    lists and budget, in the same order), made once per set of patterns."""

    def __init__(
        self, index: Mapping[str, TypeIndex], subs: Sequence[SubRule], joins: Joins
    ) -> None:
        self.index = index
        self.subs = subs
        self.joins = joins
        self.closed = closed(subs)
        self.made: dict[tuple[str, tuple[tuple[int, int], ...] | None], AdmitJoin] = {}

    def of(self, ftype: str, values: _Values) -> AdmitJoin | None:
        """The function for a completed fact of type ``ftype`` and ``values`` (see
        :func:`_completed_values`), or None when no pattern of the stratum takes it."""
        index = self.index.get(ftype)
        if index is None:
            return None
        passed = _passed(index, values)
        # a pattern reads a value known only as the loop runs: the type's whole function
        key = (ftype, None if passed is None else tuple((p.sub, p.pos) for p in passed))
        admit = self.made.get(key)
        if admit is None:
            only = index if passed is None else (None, {}, tuple(_untested(passed)))
            admit = self.made[key] = _joining_function(
                only, self.subs, self.joins, True, self.closed
            )
        return admit


def _untested(plans: Sequence[PatternPlan]) -> list[PatternPlan]:
    """The plans with no condition left to test (their facts are known to pass them)."""
    return [replace(plan, literal=()) for plan in plans]


def _passed(index: TypeIndex, values: tuple[dict[str, Any], set[str]]) -> list[PatternPlan] | None:
    """The plans of a type's index an alpha function passes a fact of known ``values``
    on, in the order it tests them (the discriminating field's group, then the rest), or
    None when a plan's conditions read a field known only as the loop runs."""
    fact, read = values
    field, keyed, rest = index
    group: tuple[PatternPlan, ...] = ()
    if field is not None and keyed:
        if field in read:
            return None
        x = fact.get(field, MISSING)
        if type(x) in (str, float, int, bool):  # as the alpha function's `KEYS` test
            group = next((plans for k, plans in keyed.items() if x == k), ())
    passed = []
    for plan in (*group, *rest):
        verdicts = [
            None if cond.field in read else holds(cond, fact, (), {}) for cond in plan.literal
        ]
        if False in verdicts:
            continue
        if None in verdicts:
            return None
        passed.append(plan)
    return passed


def _admitted(
    ftype: str,
    names: tuple[str, ...],
    known: dict[str, str],
    env: Mapping[str, Any],
    index: Mapping[str, TypeIndex],
    subs: Sequence[SubRule],
) -> list[int] | None:
    """The sub-rules (by index) of a stratum whose lists its alpha function would give a
    fact of fixed field names ``names`` (each made of ``known``: a constant's name in
    ``env``, or a local read from a bound fact), when that is known from its constants
    alone and they all have one pattern; else None. A pattern's own conditions are
    decided by :func:`~.semantics.holds`, as the alpha functions decide them; one on a
    value read from a bound fact leaves the pattern undecided, unless another is false."""
    own = index.get(ftype)
    if own is None:
        return []  # no pattern of the stratum takes the type
    fact: dict[str, Any] = {}
    read: set[str] = set()
    for name in names:
        src = known.get(name)
        if src is None:
            return None
        if src in env:
            fact[name] = env[src]
        else:
            read.add(name)
    _field, keyed, rest = own
    taken = []
    for plan in [*(p for plans in keyed.values() for p in plans), *rest]:
        verdicts = [
            None if cond.field in read else holds(cond, fact, (), {}) for cond in plan.literal
        ]
        if False in verdicts:
            continue
        if None in verdicts or len(subs[plan.sub].positives) != 1:
            return None
        taken.append(plan.sub)
    return taken
