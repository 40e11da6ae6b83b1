"""The ``fast`` backend: the reference semantics compiled, with alpha memories.

A new fact is tested once against every pattern of its type by the stratum's
generated function (:class:`~.compiled.Compiled`); it is remembered by each
pattern it passed, and joined only with the facts remembered by the sub-rule's
other patterns, testing just the conditions that read them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..compiler import SubRule
from ..models import Fact
from .compiled import Compiled, PatternPlan
from .store import Activation, FactStore

__all__ = ["FastMatcher"]


class FastMatcher:
    """The reference semantics, compiled: per-pattern closures, alpha memories, and
    joins over the facts that already passed each pattern's own conditions."""

    exact = True

    def __init__(self, strata: Sequence[Sequence[SubRule]]) -> None:
        self.strata = strata
        self.compiled = Compiled(strata)
        self.subs: Sequence[SubRule] = ()
        self.current: list[list[PatternPlan]] = []
        self.hitters: dict[str, Callable[[Fact], list[PatternPlan]]] = {}
        self.memory: list[list[list[int]]] = []
        self.store = FactStore()

    def begin(self, stratum: int, store: FactStore) -> None:
        """Start a stratum (see :class:`~.driver.Matcher`): empty alpha memories."""
        self.subs = self.strata[stratum]
        self.current = self.compiled.plans[stratum]
        self.hitters = self.compiled.hitters[stratum]
        self.memory = [[[] for _ in row] for row in self.current]
        self.store = store

    def add(self, seq: int) -> list[Activation]:
        """The activations the store's fact ``seq`` completes (see :class:`~.driver.Matcher`)."""
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
        if n == 2:
            before = len(out)  # most joins: two patterns, the second may read the first
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
            self.store.budget.spend(len(out) - before, sub.rule.id)
            return
        self._step(sub, row, memory, pos, new, 0, [], [], out)

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
        """Whether a ``not:`` pattern of the sub-rule matches a fact in the store."""
        return self.compiled.blocked(sub, binding, store)

    def end(self) -> None:
        """Forget the stratum's alpha memories."""
        self.memory = []
