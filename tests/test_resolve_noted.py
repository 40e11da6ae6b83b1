"""Needs and unmet needs held in slots, each need's resolver info noted on the need.

``Need`` and ``Unmet`` keep their fields in slots (no ``__dict__``): the same
fields, equality, hash, repr and pickling as the values made by their
``__init__``. The resolver keeps each need object's ``NeedInfo`` on the object
(``Need._note``, no field) with the KB index it belongs to
(``resolve.needinfo.infos_of``), and a need's unmet values by its identity and the
reason (``resolve._unmet``). Each is held here to the plain computation: values
made afresh, a fresh KB, ``unmet_of`` called anew.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deficit_engine.resolve as resolve_module
from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.models import Need, Unmet
from deficit_engine.resolve import resolve, unmet_of
from deficit_engine.resolve.mentors import Why
from deficit_engine.resolve.needinfo import infos_of


def test_slotted_values_keep_their_fields_and_equality() -> None:
    """A Need and an Unmet made by ``of`` (slots set one by one) are the values their
    ``__init__`` makes: fields, equality, hash, repr, pickling, copies, frozen; a
    need's note is no part of its value."""
    kb = load_kb()
    made = Need.of("format", "c1", (("format", "mentoring"),), "R1")
    plain = Need("format", "c1", (("format", "mentoring"),), "R1")
    infos_of(kb.index, [made])  # noted: the note must not change the value
    assert not hasattr(made, "__dict__")
    assert [f.name for f in dataclasses.fields(Need)] == ["kind", "competency", "filters", "rule"]
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    for other in (pickle.loads(pickle.dumps(made)), copy.copy(made), copy.deepcopy(made)):
        assert other == made and getattr(other, "_note", None) is None
    assert dataclasses.replace(made, rule="R2") == Need("format", "c1", made.filters, "R2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.rule = "R3"  # type: ignore[misc]
    unmet = Unmet.of(made, "нет", "capacity", ("m1",))
    assert not hasattr(unmet, "__dict__")
    assert unmet == Unmet(plain, "нет", "capacity", ("m1",))
    assert hash(unmet) == hash(Unmet(plain, "нет", "capacity", ("m1",)))
    assert pickle.loads(pickle.dumps(unmet)) == unmet
    assert Unmet.of(made, "нет") == Unmet(plain, "нет")  # the defaults


def test_a_need_met_with_two_kbs_resolves_as_with_each_alone() -> None:
    """The same need objects resolved with one KB, another, then the first again: each
    Resolution is that of a fresh KB, and the infos are the KB's asked for."""
    first, second = load_kb(), load_kb()
    engine = Engine(first, backend="fast")
    people = [engine.diagnose(p) for p in synthetic_profiles(first, 40, 5)]
    for prof, result in people:
        fresh = resolve(load_kb(), prof, result.needs, severities=result.severities)
        for kb in (first, second, first):
            got = resolve(kb, prof, result.needs, severities=result.severities)
            assert got == fresh
            assert all(info.owner == kb.index.serial for info in infos_of(kb.index, result.needs))


_REASONS = [
    "нет программы",
    "нет формы работы",
    Why("мест нет", "capacity", ("m1",)),
    Why("мест нет", "capacity", ("m2",)),
    Why("один наставник на форму", "one_per_form"),
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, len(_REASONS) - 1)), max_size=30))
def test_unmet_values_one_per_need_and_reason(asks: list[tuple[int, int]]) -> None:
    """``_unmet`` asked for needs and reasons in any order (each reason an equal copy
    as often as the same object) gives ``unmet_of``'s value, and one object for the
    same need object and reason."""
    kb = load_kb()
    needs = [Need.of("format", f"c{k}", (("format", "f"),), f"R{k}") for k in range(3)]
    infos_of(kb.index, needs)  # noted, as resolve has them
    seen: dict[tuple[int, int], Unmet] = {}
    for n, (k, r) in enumerate(asks):
        why = _REASONS[r]
        if n % 2:  # an equal reason, not the same object
            why = why.encode().decode() if isinstance(why, str) else Why(*why)
        got = resolve_module._unmet(kb.index, needs[k], why)
        assert got == unmet_of(needs[k], why) and got.need is needs[k]
        assert seen.setdefault((k, r), got) is got


def test_resolving_leaves_no_cyclic_garbage() -> None:
    """Needs made afresh for each person (as the python backend makes them), resolved
    and dropped, leave nothing for the garbage collector: a need notes its info, so
    the info must hold nothing that holds the need (cohort workers pause the GC)."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    people = [engine.diagnose(p) for p in synthetic_profiles(kb, 60, 9)]
    resolve(kb, people[0][0], people[0][1].needs, severities=people[0][1].severities)
    gc.collect()
    gc.disable()
    try:
        for prof, result in people:
            needs = [dataclasses.replace(n) for n in result.needs]
            resolve(kb, prof, needs, severities=result.severities)
        garbage = gc.collect()
    finally:
        gc.enable()
    assert garbage < len(people), f"{garbage} objects in reference cycles"
