"""A rule set compiled once into closures and generated functions: what the fast and
durable backends match with.

Each positive pattern becomes a plan: a closure for the conditions on the fact
alone (alpha) and one for the conditions that read earlier patterns (beta).
Per stratum and fact type, the patterns' alpha tests are generated as one
function that says which patterns a new fact passes (``hitters``). The ``not:``
patterns become closures too. Every closure and generated test answers exactly
as :func:`~.semantics.holds` does; shapes that are not specialised call it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from heapq import heappush
from typing import Any

from ..compiler import SubRule
from ..models import Fact
from ..rules import Cond, Pattern, Ref
from .semantics import MISSING, _ordered, holds
from .store import FactStore

__all__ = ["Admit", "AdmitJoin", "Compiled", "Joins", "PatternPlan", "Pred"]

# A compiled condition (or conjunction): the fact, and the facts bound so far.
Pred = Callable[[Fact, Sequence[Fact]], bool]


def _is_literal(value: Any) -> bool:
    return not isinstance(value, Ref) and not (
        isinstance(value, list) and any(isinstance(v, Ref) for v in value)
    )


def _compile_cond(cond: Cond, aliases: dict[str, int]) -> Pred:
    """A closure with exactly the semantics of :func:`holds` (shapes that are common get
    a specialised body; the rest call :func:`holds`)."""
    name, op, value = cond.field, cond.op, cond.value
    missing = MISSING
    if op == "eq" and _is_literal(value):

        def eq_lit(f: Fact, b: Sequence[Fact]) -> bool:
            return bool(f.get(name, missing) == value)

        return eq_lit
    if op == "ne" and _is_literal(value):

        def ne_lit(f: Fact, b: Sequence[Fact]) -> bool:
            return name in f and bool(f[name] != value)

        return ne_lit
    if op in ("lt", "le", "gt", "ge") and isinstance(value, float):
        compare = {"lt": float.__gt__, "le": float.__ge__, "gt": float.__lt__, "ge": float.__le__}[
            op
        ]

        def cmp_num(f: Fact, b: Sequence[Fact]) -> bool:
            x = f.get(name, missing)
            return type(x) in (float, int) and bool(compare(value, float(x)))

        return cmp_num
    if op in ("eq", "ne") and isinstance(value, Ref):
        index, other = aliases[value.alias], value.field
        equal = op == "eq"

        def cmp_ref(f: Fact, b: Sequence[Fact]) -> bool:
            x = f.get(name, missing)
            y = b[index].get(other, missing)
            if x is missing or y is missing:
                return False
            return bool(x == y) if equal else bool(x != y)

        return cmp_ref

    if op in ("in", "not_in") and _is_literal(value):
        items = tuple(value)
        inside = op == "in"

        def member(f: Fact, b: Sequence[Fact]) -> bool:
            x = f.get(name, missing)
            if x is missing:
                return False
            for item in items:  # any(x == item ...), without a generator per call
                if x == item:
                    return inside
            return not inside

        return member
    if op == "between" and _is_literal(value) and all(isinstance(v, float) for v in value):
        lo, hi = value

        def between(f: Fact, b: Sequence[Fact]) -> bool:
            x = f.get(name, missing)
            return type(x) in (float, int) and lo <= x <= hi

        return between
    if op == "exists":
        present = bool(value)

        def exists(f: Fact, b: Sequence[Fact]) -> bool:
            return (name in f) is present

        return exists

    def general(f: Fact, b: Sequence[Fact]) -> bool:
        return holds(cond, f, b, aliases)

    return general


def conditions_source(
    conds: Sequence[Cond],
    fact: str,
    bound: Sequence[str],
    aliases: dict[str, int],
    const: Callable[[Any], str],
) -> str:
    """An expression, true exactly when every condition holds: what
    ``_all_of([_compile_cond(c, aliases) for c in conds])`` answers (true when there is
    none), written out so that a join or a ``not:`` test costs no call per condition.

    ``fact`` is the source of the fact tested, ``bound`` the sources of the facts bound
    so far, by position. The common shapes are written in, as the closures test them
    (a walrus local, ``w`` or ``u``, holds a value read), an order with a bound fact's
    field too (``lt: $a.competency``: two strings compare at once, any other pair is
    asked of ``semantics._ordered``, as ``holds`` asks it); any other (an order with a
    literal, a range, a list operand, a reference to a position not in ``bound``) calls
    its closure, given ``bound`` as a tuple. Constants are bound by name with
    ``const``, and ``M`` must name :data:`MISSING`."""
    binding = f"({''.join(f'{b}, ' for b in bound)})"
    tests = []
    for cond in conds:
        op, value = cond.op, cond.value
        read = f"(w := {fact}.get({const(cond.field)}, M)) is not M"
        if op == "eq" and _is_literal(value) and not isinstance(value, list):
            tests.append(f"{fact}.get({const(cond.field)}, M) == {const(value)}")
        elif op == "ne" and _is_literal(value) and not isinstance(value, list):
            tests.append(f"({read} and w != {const(value)})")
        elif op in ("in", "not_in") and _is_literal(value) and isinstance(value, list):
            found = " or ".join(f"w == {const(item)}" for item in value) or "False"
            tests.append(f"({read} and {'' if op == 'in' else 'not '}({found}))")
        elif (
            op in ("eq", "ne")
            and isinstance(value, Ref)
            and value.alias in aliases
            and aliases[value.alias] < len(bound)
        ):
            other = f"(u := {bound[aliases[value.alias]]}.get({const(value.field)}, M)) is not M"
            tests.append(f"({read} and {other} and w {'==' if op == 'eq' else '!='} u)")
        elif (
            op in _ORDERS
            and isinstance(value, Ref)
            and value.alias in aliases
            and aliases[value.alias] < len(bound)
        ):
            other = f"(u := {bound[aliases[value.alias]]}.get({const(value.field)}, M)) is not M"
            ordered = f"((type(w) is str and type(u) is str) or {const(_ordered)}(w, u))"
            tests.append(f"({read} and {other} and {ordered} and w {_ORDERS[op]} u)")
        else:
            tests.append(f"{const(_compile_cond(cond, aliases))}({fact}, {binding})")
    return " and ".join(tests) or "True"


# The order operators, as Python writes them (``holds``: the fact's value on the left).
_ORDERS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _always(f: Fact, b: Sequence[Fact]) -> bool:
    return True


def _all_of(preds: Sequence[Pred]) -> Pred | None:
    """One closure for a conjunction (None when there is nothing to test)."""
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds

        def both(f: Fact, b: Sequence[Fact]) -> bool:
            return first(f, b) and second(f, b)

        return both
    chain = tuple(preds)

    def every(f: Fact, b: Sequence[Fact]) -> bool:
        return all(test(f, b) for test in chain)

    return every


@dataclass(frozen=True)
class PatternPlan:
    """One positive pattern of a sub-rule, compiled."""

    sub: int  # index of the sub-rule in its stratum
    pos: int
    alpha: Pred | None  # conditions on the fact alone
    beta: Pred | None  # conditions that read earlier patterns
    literal: tuple[Cond, ...] = ()  # the conditions `alpha` tests


# One fact type's patterns: (the discriminating field, plans by that field's required
# literal, plans that do not test it)
TypeIndex = tuple[str | None, dict[Any, tuple[PatternPlan, ...]], tuple[PatternPlan, ...]]


def _discriminate(subs: Sequence[SubRule], plans: Sequence[PatternPlan]) -> TypeIndex:
    """Index a fact type's patterns by the field most of them require to equal a
    literal (group, level, severity, kind...), so that a new fact is tested only
    against the patterns that can take it. Plan order is kept."""

    def required(plan: PatternPlan) -> dict[str, Any]:
        pattern = subs[plan.sub].positives[plan.pos]
        return {
            c.field: c.value
            for c in pattern.conds
            if c.op == "eq" and isinstance(c.value, (str, float)) and not isinstance(c.value, bool)
        }

    counts: Counter[str] = Counter(f for plan in plans for f in required(plan))
    if not counts or counts.most_common(1)[0][1] < 2:
        return (None, {}, tuple(plans))
    field = counts.most_common(1)[0][0]
    keyed: dict[Any, list[PatternPlan]] = {}
    rest: list[PatternPlan] = []
    for plan in plans:
        need = required(plan)
        if field in need:
            keyed.setdefault(need[field], []).append(plan)
        else:
            rest.append(plan)
    return (field, {k: tuple(v) for k, v in keyed.items()}, tuple(rest))


def _hits_function(index: TypeIndex) -> Callable[[Fact], list[PatternPlan]]:
    """One fact type's alpha tests as a single generated function: each field the
    patterns test is read once, the discriminating field picks the keyed patterns,
    and each test is inlined (calling a closure per condition and per conjunction
    cost a quarter of an evaluation). The source holds only local names: every
    field name and value is a constant bound by name in the function's namespace,
    so nothing from a rule file becomes code. Its answers are those of
    :meth:`Compiled.hits`; the differential tests hold them to the reference."""
    return _alpha_function(index, None)


# What the fast matcher's generated function does with a fact (see `_admit_function`):
# (the fact, its number, the activations found, the stratum's alpha memories, the
# plans whose joins are left to do) -> None.
Admit = Callable[[Fact, int, list[Any], list[list[list[int]]], list[PatternPlan]], None]


def _admit_function(index: TypeIndex, subs: Sequence[SubRule]) -> Admit:
    """One fact type's alpha tests, as :func:`_hits_function` writes them, with what the
    fast matcher does with each pattern passed written in: a pattern of a one-pattern
    sub-rule is an activation, appended as ``(sub, (seq,))``; a pattern of a longer one
    puts the fact in its alpha memory and its plan among the joins to do, unless it has
    two patterns and the other's memory is empty (the join would find nothing and
    spend nothing: the other memory can gain only this fact, which a join never pairs
    with itself). That spares the matcher a list of plans and a loop over it for every
    fact of every stratum, and four joins in five on the shipped rules."""
    return _alpha_function(index, subs)


# The joins of a stratum's two-pattern sub-rules, by sub-rule (None for the others): the
# equality that looks up a fact's partners by value (the second pattern's field, the
# first's), or None, and the test of the second pattern's conditions that read the first.
Joins = Sequence[tuple[tuple[str, str] | None, Pred | None] | None]

# What `_joining_function` generates: (the fact, its number, a list for the activations
# of longer joins (left empty), the stratum's alpha memories, the store's facts, the
# matcher's `_equal`, the budget, the matcher's `_join`, the driver's agenda, its arrival
# counter) -> None.
AdmitJoin = Callable[..., None]


def _joining_function(
    index: TypeIndex,
    subs: Sequence[SubRule],
    joins: Joins,
    ordered: bool = False,
    closed: frozenset[tuple[int, int]] = frozenset(),
) -> AdmitJoin:
    """One fact type's alpha tests, as :func:`_admit_function` writes them, with each
    two-pattern join written in where the pattern is passed: the partners' loop over
    the other pattern's memory (picked by value when the pattern has an equality with
    the other, through the matcher's index, ``FastMatcher._equal``), the test that reads
    the other fact, the budget spent, as ``FastMatcher._join`` does; a longer join calls
    ``_join`` there. Each activation is pushed onto the driver's agenda at once, as the
    item the driver makes of it (``driver._Item``), not listed for the driver to push.
    The joins run in the order :func:`_admit_function`'s caller runs them (pattern
    order), so they spend the budget in the same order; a one-pattern activation may be
    pushed between them, where that one lists it first: the agenda orders by place and
    facts, which no two activations share, so the order they arrive in (the counter)
    changes no firing.

    ``ordered``: for a stratum fired place by place (``generated``'s ordered loops),
    the ``agenda`` is instead the stratum's list of activations per sub-rule, and an
    activation is appended to its sub-rule's list as the facts' number (one pattern)
    or numbers (a tuple), with no counter and no heap.

    ``closed``: the patterns (sub-rule, position) of two-pattern sub-rules whose
    partner's memory can gain no fact while this function runs (no firing of the
    stratum makes a fact of the partner's type), so that no join will ever read
    theirs: a fact that passes one is joined with its partners but not remembered."""
    return _alpha_function(index, subs, joins, ordered, closed)


def _alpha_function(
    index: TypeIndex,
    subs: Sequence[SubRule] | None,
    joins: Joins | None = None,
    ordered: bool = False,
    closed: frozenset[tuple[int, int]] = frozenset(),
) -> Callable[..., Any]:
    """The generated function of :func:`_hits_function` (``subs`` None), of
    :func:`_admit_function` (``subs``: the stratum's sub-rules) or of
    :func:`_joining_function` (``joins`` too, ``ordered`` and ``closed``)."""
    env: dict[str, Any] = {}
    lines, body = alpha_source(index, subs, joins, env, ordered, closed)
    if subs is None:
        head, tail = ["def hits(f):", *lines, "    out = []"], "    return out"
    elif joins is not None:
        head = [
            "def hits(f, s, out, memory, facts, equal, budget, join, agenda, counter):",
        ]
        head, tail = [*head, *lines], ""
    else:
        head, tail = ["def hits(f, s, out, memory, joins):", *lines], ""
    source = "\n".join([*head, *(body or ["    pass"]), tail])
    exec(compile(source, "<deficit_engine alpha>", "exec"), env)
    return env["hits"]  # type: ignore[no-any-return]


def alpha_source(
    index: TypeIndex,
    subs: Sequence[SubRule] | None,
    joins: Joins | None,
    env: dict[str, Any],
    ordered: bool = False,
    closed: frozenset[tuple[int, int]] = frozenset(),
) -> tuple[list[str], list[str]]:
    """The source of :func:`_alpha_function`'s body, indented for a function's: the
    fields read (each by ``f.get`` called on the fact: binding the method to a local
    once per fact made a method object, which cost more than the calls it spared) and
    the tests with what is done on each pattern passed (the fact is ``f``, its number
    ``s``). Its constants are put in
    ``env``, named after its size, so that bodies for several types can share one
    namespace (``generated``'s seed functions do). ``ordered``: activations appended
    to the sub-rule's list in ``agenda``, and ``closed``: see
    :func:`_joining_function`."""
    field, keyed, rest = index
    env.setdefault("M", MISSING)
    env.setdefault("KEYS", (str, float, int, bool))
    env.setdefault("push", heappush)
    names: dict[str, str] = {}  # field -> local variable
    lines: list[str] = []

    def const(value: Any) -> str:
        name = f"c{len(env)}"
        env[name] = value
        return name

    def var(name: str) -> str:
        if name not in names:
            names[name] = f"x{len(names)}"
            lines.append(f"    {names[name]} = f.get({const(name)}, M)")
        return names[name]

    def test(cond: Cond) -> str:
        op, value = cond.op, cond.value
        x = var(cond.field)
        number = f"(type({x}) is float or type({x}) is int)"
        if op == "eq" and not isinstance(value, list):
            return f"{x} == {const(value)}"
        if op == "ne" and not isinstance(value, list):
            return f"({x} is not M and {x} != {const(value)})"
        if op in ("lt", "le", "gt", "ge") and isinstance(value, float):
            sign = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op]
            return f"({number} and {x} {sign} {const(value)})"
        if op in ("in", "not_in") and isinstance(value, list):
            found = " or ".join(f"{x} == {const(item)}" for item in value) or "False"
            return f"({x} is not M and {'' if op == 'in' else 'not '}({found}))"
        if op == "between" and all(isinstance(v, float) for v in value):
            lo, hi = value
            return f"({number} and {const(lo)} <= {x} <= {const(hi)})"
        if op == "exists":
            return f"({x} is {'not ' if value else ''}M)"
        return f"{const(_compile_cond(cond, {}))}(f, ())"  # any other shape: its closure

    body: list[str] = []

    def emit(plans: Sequence[PatternPlan], indent: str) -> None:
        for plan in plans:
            tests = " and ".join(test(c) for c in plan.literal) or "True"
            body.append(f"{indent}if {tests}:")
            if subs is None:
                body.append(f"{indent}    out.append({const(plan)})")
            elif len(subs[plan.sub].positives) == 1 and ordered:
                body.append(f"{indent}    agenda[{plan.sub}].append(s)")
            elif len(subs[plan.sub].positives) == 1 and joins is not None:
                sub = subs[plan.sub]  # an agenda item, pushed (see `_joining_function`)
                body.append(
                    f"{indent}    push(agenda, ({sub.place}, (s,), next(counter), {const(sub)}))"
                )
            elif len(subs[plan.sub].positives) == 1:
                body.append(f"{indent}    out.append(({const(subs[plan.sub])}, (s,)))")
            elif joins is not None:
                join = joins[plan.sub]
                kept = (plan.sub, plan.pos) not in closed
                _join_source(
                    plan, subs[plan.sub], join, indent + "    ", const, body, ordered, kept
                )
            else:
                body.append(f"{indent}    memory[{plan.sub}][{plan.pos}].append(s)")
                if len(subs[plan.sub].positives) == 2:
                    # no partner, no activation: most two-pattern joins are skipped here
                    body.append(f"{indent}    if memory[{plan.sub}][{1 - plan.pos}]:")
                    body.append(f"{indent}        joins.append({const(plan)})")
                else:  # longer joins spend budget on partial matches: always run
                    body.append(f"{indent}    joins.append({const(plan)})")

    if field is not None and keyed:
        d = var(field)
        body.append(f"    if type({d}) in KEYS:")
        for i, (key, plans) in enumerate(keyed.items()):
            body.append(f"        {'if' if i == 0 else 'elif'} {d} == {const(key)}:")
            emit(plans, "            ")
    emit(rest, "    ")
    return lines, body


# At most this many partners of a two-pattern join are tested one by one rather than
# looked up in the index by value (``FastMatcher._equal``): its call and upkeep cost
# more than testing a few.
_FEW = 4


def _join_source(
    plan: PatternPlan,
    sub: SubRule,
    join: tuple[tuple[str, str] | None, Pred | None] | None,
    indent: str,
    const: Callable[[Any], str],
    body: list[str],
    ordered: bool = False,
    kept: bool = True,
) -> None:
    """Append the source of what :func:`_joining_function` does with a fact ``f`` (number
    ``s``) that passed ``plan``'s pattern: into its memory (unless not ``kept``, for a
    two-pattern join: see ``closed`` there), then the join (its activations pushed onto
    the agenda, or appended to the sub-rule's list when ``ordered``)."""
    i, pos = plan.sub, plan.pos
    body.append(f"{indent}mine = memory[{i}]")
    if kept or join is None:  # remembered, unless no join will read it (`closed`)
        body.append(f"{indent}mine[{pos}].append(s)")
    if join is None:  # three patterns or more: the matcher's join, which spends as it goes
        body.append(f"{indent}join({i}, {pos}, s, out)")
        body.append(f"{indent}if out:")  # (a comprehension is a call, even over nothing)
        if ordered:  # every activation in `out` is of sub-rule i
            body.append(f"{indent}    agenda[{i}].extend([hs for _hit, hs in out])")
        else:
            body.append(f"{indent}    for hit, hs in out:")
            body.append(f"{indent}        push(agenda, (hit.place, hs, next(counter), hit))")
        body.append(f"{indent}    out.clear()")
        return
    key, beta = join
    other = 1 - pos
    body.append(f"{indent}partners = mine[{other}]")
    body.append(f"{indent}if partners:")
    at = indent + "    "
    if key is not None:  # only the facts whose field is equal (FastMatcher._join)
        # a few partners are tested in turn (the test below holds the equality too: a
        # partner the index would leave out fails it); more are looked up by value
        mine_field, their_field = (key[1], key[0]) if pos == 0 else (key[0], key[1])
        body.append(f"{at}v = f.get({const(mine_field)}, M)")
        body.append(f"{at}if v is M:")
        body.append(f"{at}    partners = ()")
        body.append(f"{at}elif len(partners) > {_FEW}:")
        body.append(
            f"{at}    partners = equal({const((i, other))}, {const(their_field)}, partners, v)"
        )
    sub_name = const(sub)
    pair = "(s, t)" if pos == 0 else "(t, s)"
    body.append(f"{at}n = 0")
    body.append(f"{at}for t in partners:")
    body.append(f"{at}    if t != s:")
    inner = at + "        "
    if beta is not None:  # the second pattern's conditions that read the first (its beta)
        reading = [c for c in sub.positives[1].conds if not _is_literal(c.value)]
        if pos == 0:  # the partner ``g`` is the second pattern's fact, this one the first
            test = conditions_source(reading, "g", ["f"], sub.aliases, const)
        else:
            test = conditions_source(reading, "f", ["g"], sub.aliases, const)
        body.append(f"{inner}g = facts[t]")
        body.append(f"{inner}if {test}:")
        inner += "    "
    if ordered:
        body.append(f"{inner}agenda[{i}].append({pair})")
    else:
        body.append(f"{inner}push(agenda, ({sub.place}, {pair}, next(counter), {sub_name}))")
    body.append(f"{inner}n += 1")
    body.append(f"{at}if n:")  # Budget.spend, inline (nothing spent: nothing passed)
    body.append(f"{at}    budget.spent += n")
    body.append(f"{at}    if budget.spent > budget.limit:")
    body.append(f"{at}        raise budget.exceeded({const(sub.rule.id)})")


def _plan(sub_index: int, pos: int, pattern: Pattern, aliases: dict[str, int]) -> PatternPlan:
    """A positive pattern compiled: the test of its conditions on the fact alone (alpha)
    and the test of those that read earlier patterns (beta)."""
    own = [c for c in pattern.conds if _is_literal(c.value)]
    reading = [c for c in pattern.conds if not _is_literal(c.value)]
    alpha = _all_of([_compile_cond(c, aliases) for c in own])
    beta = _all_of([_compile_cond(c, aliases) for c in reading])
    return PatternPlan(sub_index, pos, alpha, beta, tuple(own))


def _negative_tests(sub: SubRule) -> tuple[tuple[str, Pred], ...]:
    """A sub-rule's ``not:`` patterns compiled: each one's fact type and one test of all
    its conditions."""
    return tuple(
        (pattern.type, _all_of([_compile_cond(c, sub.aliases) for c in pattern.conds]) or _always)
        for pattern in sub.negatives
    )


class Compiled:
    """A rule set's patterns compiled once: per-pattern closures (conditions on the fact
    alone, and conditions that read earlier patterns), indexed per stratum and fact
    type, and the ``not:`` patterns. The fast matcher joins with them; the durable
    matcher pre-filters the facts it sends with them and verifies its activations."""

    def __init__(self, strata: Sequence[Sequence[SubRule]]) -> None:
        self.plans: list[list[list[PatternPlan]]] = []
        self.index: list[dict[str, TypeIndex]] = []
        self.rows: dict[str, tuple[tuple[str, PatternPlan], ...]] = {}
        # per stratum and fact type: the fact -> patterns it passes, as one generated function
        self.hitters: list[dict[str, Callable[[Fact], list[PatternPlan]]]] = []
        # the same tests, with what the fast matcher does with a pattern passed written in
        self.admitters: list[dict[str, Admit]] = []
        for subs in strata:
            self._add_stratum(subs)
        self.negatives: dict[str, tuple[tuple[str, Pred], ...]] = {
            sub.key: _negative_tests(sub) for subs in strata for sub in subs if sub.negatives
        }

    def _add_stratum(self, subs: Sequence[SubRule]) -> None:
        """Plan a stratum's positive patterns, index them by fact type and generate
        each type's alpha function."""
        plans = [
            [_plan(i, pos, pattern, sub.aliases) for pos, pattern in enumerate(sub.positives)]
            for i, sub in enumerate(subs)
        ]
        by_type: dict[str, list[PatternPlan]] = {}
        for sub, row in zip(subs, plans, strict=True):
            types = [pattern.type for pattern in sub.positives]
            for ftype, plan in zip(types, row, strict=True):
                by_type.setdefault(ftype, []).append(plan)
            self.rows[sub.key] = tuple(zip(types, row, strict=True))
        self.plans.append(plans)
        index = {t: _discriminate(subs, ps) for t, ps in by_type.items()}
        self.index.append(index)
        self.hitters.append({t: _hits_function(ix) for t, ix in index.items()})
        self.admitters.append({t: _admit_function(ix, subs) for t, ix in index.items()})

    @staticmethod
    def hits(types: dict[str, TypeIndex], fact: Fact) -> list[PatternPlan]:
        """The patterns (of one stratum's index) whose own conditions the fact meets:
        what the generated functions in ``hitters`` compute, by closures."""
        index = types.get(fact["type"])
        if index is None:
            return []
        field, keyed, rest = index
        plans = rest
        if field is not None:
            value = fact.get(field, MISSING)
            if isinstance(value, (str, float, int)):
                plans = keyed.get(value, ()) + rest if keyed.get(value) else rest
        return [p for p in plans if p.alpha is None or p.alpha(fact, ())]

    def verify(self, sub: SubRule, binding: Sequence[Fact]) -> bool:
        """Whether the bound facts match the sub-rule's positive patterns, exactly."""
        for fact, (ftype, plan) in zip(binding, self.rows[sub.key], strict=True):
            if fact["type"] != ftype:
                return False
            if plan.alpha is not None and not plan.alpha(fact, binding):
                return False
            if plan.beta is not None and not plan.beta(fact, binding):
                return False
        return True

    def blocked(self, sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
        """:func:`negation_blocks` with compiled conditions."""
        facts = store.facts
        for ftype, test in self.negatives[sub.key]:
            for seq in store.of_type(ftype):
                if test(facts[seq], binding):
                    return True
        return False
