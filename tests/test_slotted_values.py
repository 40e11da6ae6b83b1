"""``Need``, ``Unmet`` and ``Recommendation`` keep their fields in slots (no ``__dict__``).

Their ``of`` constructors set the slots one by one (a Recommendation's as a writable
twin whose class is then set), and a Result rebuilt from its
pickle makes its needs by ``Need.of``: held here to the values their ``__init__``
makes (fields, equality, hash, repr, pickling, copies, frozen), and the resolver,
which keeps per need object what it reads of it, to resolve needs made afresh as
the shared ones and to leave no cyclic garbage behind.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle

import pytest

from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.models import Need, Recommendation, Unmet
from deficit_engine.resolve import resolve


def test_slotted_values_keep_their_fields_and_equality() -> None:
    """A Need and an Unmet made by ``of`` are the values their ``__init__`` makes."""
    made = Need.of("format", "c1", (("format", "mentoring"),), "R1")
    plain = Need("format", "c1", (("format", "mentoring"),), "R1")
    assert not hasattr(made, "__dict__") and not hasattr(plain, "__dict__")
    assert [f.name for f in dataclasses.fields(Need)] == ["kind", "competency", "filters", "rule"]
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    for other in (pickle.loads(pickle.dumps(made)), copy.copy(made), copy.deepcopy(made)):
        assert other == made and type(other) is Need
    assert dataclasses.replace(made, rule="R2") == Need("format", "c1", made.filters, "R2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.rule = "R3"  # type: ignore[misc]
    unmet = Unmet.of(made, "нет", "capacity", ("m1",))
    assert not hasattr(unmet, "__dict__")
    assert [f.name for f in dataclasses.fields(Unmet)] == ["need", "reason", "cause", "exhausted"]
    assert unmet == Unmet(plain, "нет", "capacity", ("m1",))
    assert hash(unmet) == hash(Unmet(plain, "нет", "capacity", ("m1",)))
    assert pickle.loads(pickle.dumps(unmet)) == unmet
    assert Unmet.of(made, "нет") == Unmet(plain, "нет")  # the defaults
    with pytest.raises(dataclasses.FrozenInstanceError):
        unmet.reason = "да"  # type: ignore[misc]


def test_a_recommendation_made_by_of_is_the_value_init_makes() -> None:
    """``Recommendation.of`` fills a writable twin and sets its class: the value that
    ``__init__`` makes (fields, equality, hash, repr, pickling, copies, replace,
    frozen), its ``rules`` made on first use from the needs and kept out of all of
    those."""
    one = Need.of("program", "c1", (), "R1")
    two = Need.of("format", "c2", (("format", "mentoring"),), "R2")
    args = (
        "program",
        "p1",
        "Программа",
        ("c1", "c2"),
        (one, two, one),
        "потому",
        (("hours", 36.0),),
    )
    made = Recommendation.of(*args)
    plain = Recommendation(*args)
    assert type(made) is Recommendation and not hasattr(made, "__dict__")
    assert [f.name for f in dataclasses.fields(Recommendation)] == [
        "kind", "id", "title", "competencies", "needs", "reason", "attrs"
    ]  # fmt: skip
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert made.rules == plain.rules == ("R1", "R2") and made.rules is made.rules
    assert made.to_dict() == plain.to_dict()
    for other in (pickle.loads(pickle.dumps(made)), copy.copy(made), copy.deepcopy(made)):
        assert other == made and type(other) is Recommendation and other.rules == ("R1", "R2")
    fresh = pickle.loads(pickle.dumps(Recommendation.of(*args)))  # rules not made yet
    assert fresh.rules == ("R1", "R2")
    other = dataclasses.replace(made, needs=(two,))
    assert other.rules == ("R2",) and other == Recommendation(*args[:4], (two,), *args[5:])
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.id = "p2"  # type: ignore[misc]
    assert Recommendation.of(*args[:6], ()) == Recommendation(*args[:6])  # attrs' default


def test_a_result_rebuilt_from_its_pickle_has_its_needs() -> None:
    """A Result crosses processes pickled (its needs rebuilt by ``Need.of``): the same
    value and JSON, its recommendations' and unmet entries' needs its own."""
    engine = Engine(load_kb(), backend="fast")
    for profile in synthetic_profiles(engine.kb, 20, 3):
        result = engine.evaluate(profile)
        again = pickle.loads(pickle.dumps(result))
        assert again == result and again.to_json() == result.to_json()
        own = {id(n) for n in again.needs}
        assert all(id(n) in own for r in again.recommendations for n in r.needs)
        assert all(id(u.need) in own for u in again.unmet if isinstance(u, Unmet))


def test_needs_made_afresh_resolve_alike_and_leave_no_cyclic_garbage() -> None:
    """Needs made afresh for each person (new objects, equal values, as the python
    backend makes them) resolve as the shared ones, and once dropped leave nothing
    for the garbage collector (cohort workers pause it)."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    people = [engine.diagnose(p) for p in synthetic_profiles(kb, 60, 9)]
    shared = [resolve(kb, p, r.needs, severities=r.severities) for p, r in people]
    gc.collect()
    gc.disable()
    try:
        for (prof, result), before in zip(people, shared, strict=True):
            needs = [dataclasses.replace(n) for n in result.needs]
            assert resolve(kb, prof, needs, severities=result.severities) == before
        garbage = gc.collect()
    finally:
        gc.enable()
    assert garbage < len(people), f"{garbage} objects in reference cycles"
