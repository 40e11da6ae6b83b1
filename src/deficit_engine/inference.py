"""Forward chaining: the agenda, the reference matcher, and the hardened durable_rules matcher.

This is the only module that imports durable_rules. The backends only *match*:
they report activations (a sub-rule and the facts bound to its positive
patterns) for each fact added. The driver here owns everything else, the same
for every backend: the fact set, the agenda (priority, then rule order, then
fact order), ``not:`` checks, firing, the trace and the firing limit. That is
what makes the backends (durable, the reference ``python`` matcher, and the
compiled ``fast`` matcher) give identical results.

durable_rules pitfalls and how they are met (DESIGN.md section 7):

* global registry in ``durable.lang``: not used; each matcher owns a private
  ``durable.engine.Host`` fed JSON definitions, with its timer threads disabled;
* not thread-safe: the engine serialises calls into one matcher with a lock;
* swallowed action errors, facts lost when asserted inside actions: no Python
  action runs at all; activations are drained with durable's own C functions
  (``start_action_for_state`` / ``complete_and_start_action``) on the private
  Host's ruleset handles, and nothing is asserted while draining;
* ``MessageNotHandledException`` for a fact no pattern needs: facts go in one
  at a time, and such a fact is simply not needed by this stratum;
* fact identity is a 32-bit hash of the id: a fresh fact refused as "already
  observed" gets a new id and is asserted again, so no fact is lost;
* ``delete_state`` on a session where no action ran can abort the process, and
  sessions are capped: one session id per matcher, reused; a guard rule fires
  on a guard fact first thing in each evaluation, and ``delete_state`` clears
  the session at its end (retracting facts one by one was seen to crash);
* ``pri`` ordering and ``not`` timing: not used; the agenda orders activations
  and negations are checked against the complete, stratified fact set.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .compiler import FIELD, LITERAL, SubRule, durable_definition, durable_message
from .errors import EvaluationError, FiringLimitError
from .models import Fact, TraceEntry
from .rules import Cond, Pattern, Ref, Rule, field_kinds

__all__ = [
    "DEFAULT_FIRING_LIMIT",
    "Compiled",
    "DurableMatcher",
    "FactStore",
    "FastMatcher",
    "PythonMatcher",
    "durable_available",
    "durable_import_error",
    "run",
]

DEFAULT_FIRING_LIMIT = 10_000

try:  # durable_rules does not import on Python 3.13+
    import durable_rules_engine as _dre
    from durable import engine as _durable_engine

    _DURABLE_ERROR: str | None = None
except Exception as exc:  # pragma: no cover - depends on the interpreter
    _durable_engine = None
    _dre = None
    _DURABLE_ERROR = f"{type(exc).__name__}: {exc}"


def durable_available() -> bool:
    return _durable_engine is not None


def durable_import_error() -> str | None:
    return _DURABLE_ERROR


Activation = tuple[SubRule, tuple[int, ...]]

_MISSING = object()


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return (type(value) is bool, value)  # True and 1.0 are different values in a fact


_PLAIN_EXCEPT = frozenset((list, bool))


def fact_key(fact: Fact) -> tuple[Any, ...]:
    """Identity of a fact: its type and fields (facts are a set)."""
    if _PLAIN_EXCEPT.isdisjoint(map(type, fact.values())):
        return tuple(sorted(fact.items()))  # strings and numbers: they are their own keys
    return tuple(sorted((k, _frozen(v)) for k, v in fact.items()))


class FactStore:
    """The working memory: a set of facts, each with its insertion number."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.keys: dict[tuple[Any, ...], int] = {}
        self.by_type: dict[str, list[int]] = {}

    def add(self, fact: Fact) -> int | None:
        """Add a fact; return its number, or None if an identical fact is present."""
        key = fact_key(fact)
        if key in self.keys:
            return None
        seq = len(self.facts)
        self.facts.append(fact)
        self.keys[key] = seq
        self.by_type.setdefault(fact["type"], []).append(seq)
        return seq

    def of_type(self, ftype: str) -> list[int]:
        return self.by_type.get(ftype, [])


# --- condition semantics (the reference; durable is compiled to match) -------


def _resolve(value: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> Any:
    if isinstance(value, Ref):
        return binding[aliases[value.alias]].get(value.field, _MISSING)
    return value


def _ordered(a: Any, b: Any) -> bool:
    """Whether a and b can be compared with < (numbers with numbers, strings with strings)."""
    if isinstance(a, str) and isinstance(b, str):
        return True
    num = (int, float)
    return (
        isinstance(a, num)
        and isinstance(b, num)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )


def holds(cond: Cond, fact: Fact, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    op = cond.op
    if cond.field not in fact:
        return op == "exists" and cond.value is False
    x = fact[cond.field]
    if op == "exists":
        return bool(cond.value)
    if op == "contains":
        return isinstance(x, list) and cond.value in x
    if op in ("in", "not_in"):
        items = [_resolve(v, binding, aliases) for v in cond.value]
        found = any(item is not _MISSING and x == item for item in items)
        return found if op == "in" else not found
    if op == "between":
        lo, hi = (_resolve(v, binding, aliases) for v in cond.value)
        if lo is _MISSING or hi is _MISSING or not (_ordered(x, lo) and _ordered(x, hi)):
            return False
        return bool(lo <= x <= hi)
    v = _resolve(cond.value, binding, aliases)
    if v is _MISSING:
        return False
    if op == "eq":
        return bool(x == v)
    if op == "ne":
        return bool(x != v)
    if not _ordered(x, v):
        return False
    if op == "lt":
        return bool(x < v)
    if op == "le":
        return bool(x <= v)
    if op == "gt":
        return bool(x > v)
    return bool(x >= v)  # ge


def matches(pattern: Pattern, fact: Fact, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    return fact["type"] == pattern.type and all(
        holds(c, fact, binding, aliases) for c in pattern.conds
    )


def negation_blocks(sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
    """True if some ``not:`` pattern of the sub-rule matches a fact in the store."""
    for pat in sub.negatives:
        for seq in store.of_type(pat.type):
            if matches(pat, store.facts[seq], binding, sub.aliases):
                return True
    return False


# --- matchers -------------------------------------------------------------------


class PythonMatcher:
    """The reference backend: nested-loop joins in pure Python."""

    exact = True  # its activations need no verification

    def __init__(self, strata: Sequence[Sequence[SubRule]]) -> None:
        self.strata = strata
        self.subs: Sequence[SubRule] = ()
        self.store = FactStore()
        self.local: dict[str, list[int]] = {}

    def begin(self, stratum: int, store: FactStore) -> None:
        self.subs = self.strata[stratum]
        self.store = store
        self.local = {}

    def add(self, seq: int) -> list[Activation]:
        fact = self.store.facts[seq]
        ftype = fact["type"]
        out: list[Activation] = []
        for sub in self.subs:
            if ftype not in sub.types:
                continue
            for pos, pat in enumerate(sub.positives):
                if pat.type == ftype:
                    self._join(sub, pos, seq, 0, [], [], out)
        self.local.setdefault(ftype, []).append(seq)
        return out

    def _join(
        self,
        sub: SubRule,
        pos: int,
        new: int,
        i: int,
        seqs: list[int],
        facts: list[Fact],
        out: list[Activation],
    ) -> None:
        if i == len(sub.positives):
            out.append((sub, tuple(seqs)))
            return
        pat = sub.positives[i]
        candidates = [new] if i == pos else self.local.get(pat.type, ())
        for seq in candidates:
            if seq in seqs or (i != pos and seq == new):
                continue
            fact = self.store.facts[seq]
            if matches(pat, fact, facts, sub.aliases):
                seqs.append(seq)
                facts.append(fact)
                self._join(sub, pos, new, i + 1, seqs, facts, out)
                seqs.pop()
                facts.pop()

    def verify(self, sub: SubRule, binding: Sequence[Fact]) -> bool:
        return True  # exact: its activations match by construction

    def blocked(self, sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
        return negation_blocks(sub, binding, store)

    def end(self) -> None:
        self.local = {}


# --- the fast matcher: rules compiled to closures, alpha memories ---------------

Pred = Callable[[Fact, Sequence[Fact]], bool]


def _is_literal(value: Any) -> bool:
    return not isinstance(value, Ref) and not (
        isinstance(value, list) and any(isinstance(v, Ref) for v in value)
    )


def _compile_cond(cond: Cond, aliases: dict[str, int]) -> Pred:
    """A closure with exactly the semantics of :func:`holds` (shapes that are common get
    a specialised body; the rest call :func:`holds`)."""
    name, op, value = cond.field, cond.op, cond.value
    missing = _MISSING
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
            return any(x == item for item in items) is inside

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
class _PatternPlan:
    sub: int  # index of the sub-rule in its stratum
    pos: int
    alpha: Pred | None  # conditions on the fact alone
    beta: Pred | None  # conditions that read earlier patterns
    literal: tuple[Cond, ...] = ()  # the conditions `alpha` tests


# (field, plans by that field's required literal, plans that do not test it)
_Index = tuple[str | None, dict[Any, tuple[_PatternPlan, ...]], tuple[_PatternPlan, ...]]


def _discriminate(subs: Sequence[SubRule], plans: Sequence[_PatternPlan]) -> _Index:
    """Index a fact type's patterns by the field most of them require to equal a
    literal (group, level, severity, kind...), so that a new fact is tested only
    against the patterns that can take it. Plan order is kept."""

    def required(plan: _PatternPlan) -> dict[str, Any]:
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
    keyed: dict[Any, list[_PatternPlan]] = {}
    rest: list[_PatternPlan] = []
    for plan in plans:
        need = required(plan)
        if field in need:
            keyed.setdefault(need[field], []).append(plan)
        else:
            rest.append(plan)
    return (field, {k: tuple(v) for k, v in keyed.items()}, tuple(rest))


def _hits_function(index: _Index) -> Callable[[Fact], list[_PatternPlan]]:
    """One fact type's alpha tests as a single generated function: each field the
    patterns test is read once, the discriminating field picks the keyed patterns,
    and each test is inlined (calling a closure per condition and per conjunction
    cost a quarter of an evaluation). The source holds only local names: every
    field name and value is a constant bound by name in the function's namespace,
    so nothing from a rule file becomes code. Its answers are those of
    :meth:`Compiled.hits`; the differential tests hold them to the reference."""
    field, keyed, rest = index
    env: dict[str, Any] = {"M": _MISSING, "KEYS": (str, float, int, bool)}
    names: dict[str, str] = {}  # field -> local variable
    lines: list[str] = []

    def const(value: Any) -> str:
        name = f"c{len(env)}"
        env[name] = value
        return name

    def var(name: str) -> str:
        if name not in names:
            names[name] = f"x{len(names)}"
            lines.append(f"    {names[name]} = get({const(name)}, M)")
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

    def emit(plans: Sequence[_PatternPlan], indent: str) -> None:
        for plan in plans:
            tests = " and ".join(test(c) for c in plan.literal) or "True"
            body.append(f"{indent}if {tests}:")
            body.append(f"{indent}    out.append({const(plan)})")

    if field is not None and keyed:
        d = var(field)
        body.append(f"    if type({d}) in KEYS:")
        for i, (key, plans) in enumerate(keyed.items()):
            body.append(f"        {'if' if i == 0 else 'elif'} {d} == {const(key)}:")
            emit(plans, "            ")
    emit(rest, "    ")
    source = "\n".join(
        ["def hits(f):", "    get = f.get", *lines, "    out = []", *body, "    return out"]
    )
    exec(compile(source, "<deficit_engine alpha>", "exec"), env)
    return env["hits"]  # type: ignore[no-any-return]


class Compiled:
    """A rule set's patterns compiled once: per-pattern closures (conditions on the fact
    alone, and conditions that read earlier patterns), indexed per stratum and fact
    type, and the ``not:`` patterns. The fast matcher joins with them; the durable
    matcher pre-filters the facts it sends with them and verifies its activations."""

    def __init__(self, strata: Sequence[Sequence[SubRule]]) -> None:
        self.plans: list[list[list[_PatternPlan]]] = []
        self.index: list[dict[str, _Index]] = []
        self.rows: dict[str, tuple[tuple[str, _PatternPlan], ...]] = {}
        # per stratum and fact type: the fact -> patterns it passes, as one generated function
        self.hitters: list[dict[str, Callable[[Fact], list[_PatternPlan]]]] = []
        for subs in strata:
            plans: list[list[_PatternPlan]] = []
            by_type: dict[str, list[_PatternPlan]] = {}
            for i, sub in enumerate(subs):
                row = []
                for pos, pat in enumerate(sub.positives):
                    conds = [(c, _compile_cond(c, sub.aliases)) for c in pat.conds]
                    alpha = _all_of([f for c, f in conds if _is_literal(c.value)])
                    beta = _all_of([f for c, f in conds if not _is_literal(c.value)])
                    own = tuple(c for c in pat.conds if _is_literal(c.value))
                    plan = _PatternPlan(i, pos, alpha, beta, own)
                    row.append(plan)
                    by_type.setdefault(pat.type, []).append(plan)
                plans.append(row)
                self.rows[sub.key] = tuple(zip((p.type for p in sub.positives), row, strict=True))
            self.plans.append(plans)
            index = {t: _discriminate(subs, ps) for t, ps in by_type.items()}
            self.index.append(index)
            self.hitters.append({t: _hits_function(ix) for t, ix in index.items()})
        self.negatives: dict[str, tuple[tuple[str, Pred], ...]] = {
            sub.key: tuple(
                (pat.type, _all_of([_compile_cond(c, sub.aliases) for c in pat.conds]) or _always)
                for pat in sub.negatives
            )
            for subs in strata
            for sub in subs
            if sub.negatives
        }

    @staticmethod
    def hits(types: dict[str, _Index], fact: Fact) -> list[_PatternPlan]:
        """The patterns (of one stratum's index) whose own conditions the fact meets:
        what the generated functions in ``hitters`` compute, by closures."""
        index = types.get(fact["type"])
        if index is None:
            return []
        field, keyed, rest = index
        plans = rest
        if field is not None:
            value = fact.get(field, _MISSING)
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


class FastMatcher:
    """The reference semantics, compiled: per-pattern closures, alpha memories, and
    joins over the facts that already passed each pattern's own conditions."""

    exact = True

    def __init__(self, strata: Sequence[Sequence[SubRule]]) -> None:
        self.strata = strata
        self.compiled = Compiled(strata)
        self.subs: Sequence[SubRule] = ()
        self.current: list[list[_PatternPlan]] = []
        self.hitters: dict[str, Callable[[Fact], list[_PatternPlan]]] = {}
        self.memory: list[list[list[int]]] = []
        self.store = FactStore()

    def begin(self, stratum: int, store: FactStore) -> None:
        self.subs = self.strata[stratum]
        self.current = self.compiled.plans[stratum]
        self.hitters = self.compiled.hitters[stratum]
        self.memory = [[[] for _ in row] for row in self.current]
        self.store = store

    def add(self, seq: int) -> list[Activation]:
        fact = self.store.facts[seq]
        hitter = self.hitters.get(fact["type"])
        if hitter is None:
            return []
        hits = hitter(fact)
        if not hits:
            return []
        for plan in hits:
            self.memory[plan.sub][plan.pos].append(seq)
        out: list[Activation] = []
        for plan in hits:
            self._join(plan.sub, plan.pos, seq, out)
        return out

    def _join(self, sub_index: int, pos: int, new: int, out: list[Activation]) -> None:
        sub = self.subs[sub_index]
        row = self.current[sub_index]
        n = len(row)
        if n == 1:  # the new fact passed the pattern's own conditions: that is the match
            out.append((sub, (new,)))
            return
        memory = self.memory[sub_index]
        facts = self.store.facts
        if n == 2:  # most joins: two patterns, the second may read the first
            beta = row[1].beta
            if pos == 0:
                first = (facts[new],)
                for seq in memory[1]:
                    if seq != new and (beta is None or beta(facts[seq], first)):
                        out.append((sub, (new, seq)))
            else:
                fact = facts[new]
                for seq in memory[0]:
                    if seq != new and (beta is None or beta(fact, (facts[seq],))):
                        out.append((sub, (seq, new)))
            return
        self._step(sub, row, memory, pos, new, 0, [], [], out)

    def _step(
        self,
        sub: SubRule,
        row: list[_PatternPlan],
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
        for seq in (new,) if i == pos else memory[i]:
            if (i != pos and seq == new) or seq in seqs:
                continue
            fact = facts[seq]
            if beta is None or beta(fact, bound):
                seqs.append(seq)
                bound.append(fact)
                self._step(sub, row, memory, pos, new, i + 1, seqs, bound, out)
                seqs.pop()
                bound.pop()

    def verify(self, sub: SubRule, binding: Sequence[Fact]) -> bool:
        return True  # exact: its activations match by construction

    def blocked(self, sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
        return self.compiled.blocked(sub, binding, store)

    def end(self) -> None:
        self.memory = []


_ruleset_names = itertools.count()
_encode = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps without its per-call setup
_decode = json.JSONDecoder().decode


def _noop(c: Any) -> None:
    return None


class DurableMatcher:
    """durable_rules' Rete network as the matcher, hardened (see the module doc).

    A private ``durable.engine.Host`` (its timer threads disabled) builds the
    rulesets from the JSON definitions. Facts are then asserted and activations
    drained through the C functions the Host itself calls, on the Host's own
    ruleset handles: the same engine without the Host's per-activation Python
    work (a closure, state JSON written back), which cost two thirds of the time.
    """

    SID = "1"
    GUARD = "__alive"
    exact = False  # its activations are verified by the driver (see compiler.py)

    def __init__(self, strata: Sequence[Sequence[SubRule]], rules: Sequence[Rule]) -> None:
        if _durable_engine is None or _dre is None:
            raise EvaluationError(f"durable_rules cannot be imported here: {_DURABLE_ERROR}")

        class _QuietHost(_durable_engine.Host):  # type: ignore[misc]
            def _run(self) -> None:  # the timer threads are not needed and race with calls
                pass

        self.strata = strata
        self.compiled = Compiled(strata)  # pre-filters facts, verifies activations exactly
        self.kinds = field_kinds(rules)
        self.host = _QuietHost()
        self.names: list[str] = []
        self.types: list[frozenset[str]] = []
        self.subs: dict[str, SubRule] = {}
        self.slots: dict[str, tuple[str, ...]] = {}  # sub-rule key -> its patterns' names
        serial = next(_ruleset_names)
        definitions: dict[str, Any] = {}
        for k, subs in enumerate(strata):
            name = f"deficit_engine_{serial}_{k}"
            defs: dict[str, Any] = {}
            for sub in subs:
                definition = durable_definition(sub)
                if definition is None:  # a condition that never holds, or nothing to match
                    continue
                definition["run"] = _noop  # activations are drained, never dispatched
                defs[sub.key] = definition
                self.subs[sub.key] = sub
                self.slots[sub.key] = tuple(f"p{i}" for i in range(len(sub.positives)))
            self.names.append(name)
            self.types.append(frozenset(t for sub in subs for t in sub.types if sub.key in defs))
            if defs:
                # the guard: an action must have run on a session before delete_state is safe
                defs[self.GUARD] = {"all": [{"p0": {"type": self.GUARD}}], "run": _noop}
                definitions[name] = defs
        if definitions:
            self.host.register_rulesets(definitions)
        self.handles: dict[str, Any] = {
            name: self.host.get_ruleset(name)._handle for name in definitions
        }
        self.stratum = 0
        self.collisions = 0  # facts re-asserted under a new id after a hash collision
        self.store = FactStore()
        self.ids: dict[str, int] = {}
        self.live: list[str] = []  # rulesets holding this evaluation's session
        self.pending: list[Activation] = []

    def begin(self, stratum: int, store: FactStore) -> None:
        self.stratum = stratum
        self.store = store

    @staticmethod
    def fact_id(seq: int, attempt: int) -> str:
        """The id durable hashes to identify a fact; a retry after a collision changes it."""
        return str(seq) if attempt == 0 else f"{seq}~{attempt}"

    def _assert(self, handle: Any, message: dict[str, Any]) -> int:
        """Assert one fact and drain the actions it completes; durable's result code."""
        assert _dre is not None
        try:
            code, offset = _dre.assert_fact(handle, _encode(message))
        except _dre.error as exc:
            raise EvaluationError(
                f"durable_rules refused fact {message.get('type')!r}: {exc}"
            ) from None
        if code in (0, 3):  # handled (3: deferred, drained all the same)
            result = _dre.start_action_for_state(handle, offset)
            while result:
                for key, bound in _decode(result[1]).items():
                    sub = self.subs.get(key)
                    if sub is not None:
                        ids = self.ids
                        seqs = tuple([ids[str(bound[slot]["id"])] for slot in self.slots[key]])
                        self.pending.append((sub, seqs))
                following = _dre.complete_and_start_action(handle, offset)
                result = (None, following) if following else None
        return int(code)

    def add(self, seq: int) -> list[Activation]:
        fact = self.store.facts[seq]
        if fact["type"] not in self.types[self.stratum]:
            return []
        if not self.compiled.hitters[self.stratum][fact["type"]](fact):
            # no pattern's own conditions hold: no verified activation can bind the fact
            return []
        name = self.names[self.stratum]
        handle = self.handles[name]
        if name not in self.live:
            self.live.append(name)
            self._assert(handle, {"type": self.GUARD, "sid": self.SID, "id": self.GUARD})
        message = durable_message(fact, self.kinds)
        message["sid"] = self.SID
        for attempt in range(16):
            fid = message["id"] = self.fact_id(seq, attempt)
            self.ids[fid] = seq
            code = self._assert(handle, message)
            if code == 1:
                # no pattern of this stratum can use the fact: durable does not keep it
                self.ids.pop(fid)
                break
            if code == 2:
                # a new fact refused as "already observed": its id collides (32-bit hash)
                self.ids.pop(fid)
                self.collisions += 1
                continue
            break
        else:
            raise EvaluationError(f"durable_rules refused fact {json.dumps(fact)} under 16 ids")
        found, self.pending = self.pending, []
        return found

    def verify(self, sub: SubRule, binding: Sequence[Fact]) -> bool:
        return self.compiled.verify(sub, binding)

    def blocked(self, sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
        return self.compiled.blocked(sub, binding, store)

    def end(self) -> None:
        """Delete the session's state (its guard action has run, so this is safe)."""
        assert _dre is not None
        live, self.live = self.live, []
        self.ids.clear()
        self.pending.clear()
        for name in live:
            _dre.delete_state(self.handles[name], self.SID)


# --- the driver ------------------------------------------------------------------


def _value(value: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> Any:
    if isinstance(value, list):
        items = [_value(v, binding, aliases) for v in value]
        return [v for v in items if v is not _MISSING]
    return _resolve(value, binding, aliases)


def _build(sub: SubRule, binding: Sequence[Fact], enrich: Callable[[Fact], Fact]) -> list[Fact]:
    """The facts a firing asserts, from the sub-rule's precompiled action templates."""
    out = []
    for ftype, fields in sub.actions:
        fact: Fact = {"type": ftype}
        complete = True
        for name, mode, payload, required in fields:
            if mode == LITERAL:
                fact[name] = payload
                continue
            if mode == FIELD:
                value = binding[payload[0]].get(payload[1], _MISSING)
            else:
                value = _value(payload, binding, sub.aliases)
            if value is _MISSING:
                if required:
                    complete = False
                continue
            fact[name] = value
        if complete:
            out.append(enrich(fact))
    return out


_Item = tuple[tuple[int, int, tuple[int, ...]], tuple[int, ...], int, SubRule]


def _push(agenda: list[_Item], acts: Iterable[Activation], counter: Iterator[int]) -> None:
    """Agenda order: priority (higher first), rule order, alternative, fact order."""
    for sub, seqs in acts:
        heapq.heappush(agenda, (sub.rank, seqs, next(counter), sub))


def run(
    strata: Sequence[Sequence[SubRule]],
    base: Iterable[Fact],
    matcher: PythonMatcher | FastMatcher | DurableMatcher,
    enrich: Callable[[Fact], Fact],
    limit: int = DEFAULT_FIRING_LIMIT,
) -> tuple[FactStore, list[TraceEntry]]:
    """Run the rules to a fixed point, stratum by stratum."""
    store = FactStore()
    for fact in base:
        store.add(fact)
    trace: list[TraceEntry] = []
    productive: Counter[str] = Counter()
    fired_total = 0
    counter = itertools.count()
    try:
        for k in range(len(strata)):
            matcher.begin(k, store)
            agenda: list[_Item] = []
            done: set[tuple[str, tuple[int, ...]]] = set()

            # a rule made only of `not:` patterns has one activation, with nothing bound
            _push(agenda, ((sub, ()) for sub in strata[k] if not sub.positives), counter)
            for seq in range(len(store.facts)):
                _push(agenda, matcher.add(seq), counter)
            pop, facts, add = heapq.heappop, store.facts, store.add
            exact, verify, blocked = matcher.exact, matcher.verify, matcher.blocked
            while agenda:
                _rank, seqs, _n, sub = pop(agenda)
                key = (sub.key, seqs[: sub.n_outer] if sub.alt else seqs)
                if key in done:
                    continue
                binding = tuple([facts[s] for s in seqs])
                if not exact and not verify(sub, binding):
                    continue
                if sub.negatives and blocked(sub, binding, store):
                    continue
                done.add(key)
                new: list[Fact] = []
                for fact in _build(sub, binding, enrich):
                    added = add(fact)
                    if added is not None:
                        new.append(fact)
                        _push(agenda, matcher.add(added), counter)
                trace.append(TraceEntry(sub.rule.id, binding, tuple(new)))
                if new:
                    fired_total += 1
                    productive[sub.rule.id] += 1
                    if fired_total > limit:
                        raise FiringLimitError(limit, [rid for rid, _ in productive.most_common(5)])
            matcher.end()
    except BaseException:
        matcher.end()
        raise
    return store, trace
