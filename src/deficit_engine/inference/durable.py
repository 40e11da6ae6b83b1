"""The ``durable`` backend: durable_rules' Rete network as the matcher, hardened.

This is the only module that imports durable_rules. Like every backend it only
*matches*: the driver owns the fact set, the agenda, ``not:`` checks, firing and
the trace, which is what makes durable give the results of the reference
matcher. Its patterns are compiled to durable's JSON by ``compiler.py``, as a
filter that may let too much through; each activation is verified with the
exact semantics (:class:`~.compiled.Compiled`) before it fires.

durable_rules pitfalls and how they are met (docs/rules.md, "Backends"):

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

Whether durable_rules imports here is found once, at import:
:func:`durable_available` and :func:`durable_import_error` report it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from ..compiler import SubRule, durable_definition, durable_message
from ..errors import BackendLimitError, EvaluationError
from ..models import Fact
from ..rules import Rule, field_kinds
from .compiled import Compiled
from .store import Activation, FactStore

__all__ = ["DurableMatcher", "durable_available", "durable_import_error"]

try:  # durable_rules does not import on Python 3.13+
    import durable_rules_engine as _dre
    from durable import engine as _durable_engine

    _DURABLE_ERROR: str | None = None
except Exception as exc:  # pragma: no cover - depends on the interpreter
    _durable_engine = None
    _dre = None
    _DURABLE_ERROR = f"{type(exc).__name__}: {exc}"


def durable_available() -> bool:
    """Whether durable_rules imports under this interpreter (it does not on 3.13+).

    Returns
    -------
    bool
    """
    return _durable_engine is not None


def durable_import_error() -> str | None:
    """Why durable_rules does not import here.

    Returns
    -------
    str or None
        The import error as ``"Type: message"``, or None when it imports.
    """
    return _DURABLE_ERROR


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

    Parameters
    ----------
    strata : sequence of sequences of SubRule
        The compiled sub-rules, stratum by stratum.
    rules : sequence of Rule
        The rules they come from (the kind of each fact field is read from them).

    Raises
    ------
    EvaluationError
        If durable_rules cannot be imported here.
    BackendLimitError
        If durable_rules refuses to build the rule set (too large for it).
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
            self._register(definitions)
        self.handles: dict[str, Any] = {
            name: self.host.get_ruleset(name)._handle for name in definitions
        }
        self.stratum = 0
        self.collisions = 0  # facts re-asserted under a new id after a hash collision
        self.store = FactStore()
        self.ids: dict[str, int] = {}
        self.live: list[str] = []  # rulesets holding this evaluation's session
        self.pending: list[Activation] = []

    def _register(self, definitions: dict[str, Any]) -> None:
        """Build the rulesets in durable; its refusal (a rule set past its size limits,
        ``Could not create ruleset, error code: 106``) is a BackendLimitError."""
        assert _dre is not None
        try:
            self.host.register_rulesets(definitions)
        except _dre.error as exc:
            raise BackendLimitError("durable", str(exc)) from None

    def begin(self, stratum: int, store: FactStore) -> None:
        """Start a stratum (see :class:`~.driver.Matcher`): its ruleset takes the facts."""
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
                        # durable joins inside its C engine: its activations are what we see
                        self.store.budget.spend(1, sub.rule.id)
                        ids = self.ids
                        seqs = tuple([ids[str(bound[slot]["id"])] for slot in self.slots[key]])
                        self.pending.append((sub, seqs))
                following = _dre.complete_and_start_action(handle, offset)
                result = (None, following) if following else None
        return int(code)

    def add(self, seq: int) -> list[Activation]:
        """Assert the store's fact ``seq`` to durable; the activations it completes.

        A fact no pattern's own conditions accept is not sent. Activations may bind
        facts the exact semantics reject: ``verify`` decides (see the module doc).
        """
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

    def add_all(self, seqs: Sequence[int]) -> list[Activation]:
        """The activations of the store's facts ``seqs``, added one at a time."""
        return [activation for seq in seqs for activation in self.add(seq)]

    def verify(self, sub: SubRule, binding: Sequence[Fact]) -> bool:
        """Whether the bound facts match the sub-rule's positive patterns, exactly."""
        return self.compiled.verify(sub, binding)

    def blocked(self, sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
        """Whether a ``not:`` pattern of the sub-rule matches a fact in the store."""
        return self.compiled.blocked(sub, binding, store)

    def end(self) -> None:
        """Delete the session's state (its guard action has run, so this is safe)."""
        assert _dre is not None
        live, self.live = self.live, []
        self.ids.clear()
        self.pending.clear()
        for name in live:
            _dre.delete_state(self.handles[name], self.SID)
