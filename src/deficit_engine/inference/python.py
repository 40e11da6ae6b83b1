"""The ``python`` backend: the reference matcher, nested-loop joins over the exact semantics.

It calls :func:`~.semantics.matches` for every candidate, so it is the slowest
backend and the simplest to trust: the other two are held to its answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..compiler import SubRule
from ..models import Fact
from .semantics import matches, negation_blocks
from .store import Activation, FactStore

__all__ = ["PythonMatcher"]


class PythonMatcher:
    """The reference backend: nested-loop joins in pure Python.

    Parameters
    ----------
    strata : sequence of sequences of SubRule
        The compiled sub-rules, stratum by stratum.
    """

    exact = True  # its activations need no verification

    def __init__(self, strata: Sequence[Sequence[SubRule]]) -> None:
        self.strata = strata
        self.subs: Sequence[SubRule] = ()
        self.store = FactStore()
        self.local: dict[str, list[int]] = {}

    def begin(self, stratum: int, store: FactStore) -> None:
        """Start matching one stratum's sub-rules against the store's facts."""
        self.subs = self.strata[stratum]
        self.store = store
        self.local = {}

    def add(self, seq: int) -> list[Activation]:
        """Take the store's fact number ``seq``; return the activations it completes."""
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

    def add_all(self, seqs: Sequence[int]) -> list[Activation]:
        """The activations of the store's facts ``seqs``, added one at a time."""
        return [activation for seq in seqs for activation in self.add(seq)]

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
                self.store.budget.spend(1, sub.rule.id)
                seqs.append(seq)
                facts.append(fact)
                self._join(sub, pos, new, i + 1, seqs, facts, out)
                seqs.pop()
                facts.pop()

    def verify(self, sub: SubRule, binding: Sequence[Fact]) -> bool:
        """Always true: its activations match by construction."""
        return True  # exact: its activations match by construction

    def blocked(self, sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
        """Whether a ``not:`` pattern of the sub-rule matches a fact in the store."""
        return negation_blocks(sub, binding, store)

    def end(self) -> None:
        """Forget the stratum's facts."""
        self.local = {}
