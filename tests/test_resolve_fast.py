"""The resolver's fast paths give what the plain ones give.

resolve/ was made faster (issue 16) by memos on the catalogue index, a set
cover over bitmasks, an allocation without the flow solver for one person when
its optimum is plain, and values made without their dataclass ``__init__``.
tests/test_resolve_reference.py compares the whole output with digests recorded
before; these tests pin each fast path against its plain counterpart, on inputs
the shipped KB does not produce (typed filter values, ties, full mentors).
"""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.catalogue import exact_key
from deficit_engine.models import Need, Recommendation, Unmet
from deficit_engine.resolve import resolve
from deficit_engine.resolve.allocate import Arc, _one_owner, allocate, solve
from deficit_engine.resolve.cover import Key, greedy_cover, ranked_cover

# --- exact_key --------------------------------------------------------------------


def test_exact_key_tells_apart_values_that_compare_equal_but_print_apart() -> None:
    variants = [1, True, 1.0, 0.0, -0.0, "1", None]
    keys = [exact_key((("education", v),)) for v in variants]
    # 1 == True == 1.0 and 0.0 == -0.0, yet each prints differently: distinct keys
    assert len({repr(k) for k in keys}) == len(variants)
    assert keys[0] != keys[1] and keys[1] != keys[2] and keys[3] != keys[4]


def test_exact_key_of_string_filters_is_the_filters_and_unhashable_is_none() -> None:
    filters = (("format", "seminar"), ("phase", "learn"))
    assert exact_key(filters) is filters
    assert exact_key((("form", ["a", "b"]),)) is None
    assert exact_key((("form", ("a",)),)) is None


def test_typed_filters_get_their_own_reasons() -> None:
    """A reason printing a filter value says the need's own value, whatever an equal
    value of another type was memoised under before."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    profile, _result = engine.diagnose(next(iter(synthetic_profiles(kb, 1, 3))))
    comp = sorted(kb.ontology.competencies)[0]

    def needs(value: Any) -> list[Need]:
        return [
            Need("format", comp, (("education", value),), "r1"),
            Need("program", comp, (("delivery", value),), "r2"),
            Need("mentor", comp, (("education", value),), "r3"),
        ]

    seen = load_kb()  # one KB, its memos filled by each value in turn
    for value in (1, True, 1.0, -0.0, 0.0, 0, False):
        fresh = resolve(load_kb(), profile, needs(value))
        again = resolve(seen, profile, needs(value))
        assert again == fresh
        assert [u.reason for u in again.unmet] == [u.reason for u in fresh.unmet]
        assert any(repr(value) in u.reason or str(value) in u.reason for u in again.unmet)


# --- the set cover over bitmasks ----------------------------------------------------


def plain_cover(
    fits: Mapping[str, set[int]], key_of: Callable[[str, int], Key]
) -> list[tuple[Key, str, list[int], tuple[Key, str] | None]]:
    """The greedy cover without a heap or bitmasks: every round ranks every candidate."""
    uncovered = set().union(*fits.values()) if fits else set()
    out = []
    while uncovered:
        ranked = [(key_of(c, len(n & uncovered)), c) for c, n in fits.items() if n & uncovered]
        key, cid = min(ranked)
        served = fits[cid] & uncovered
        others = [(k, c) for k, c in ranked if c != cid and fits[c] & served]
        out.append((key, cid, sorted(served), min(others) if others else None))
        uncovered -= served
    return out


@pytest.mark.parametrize("seed", range(40))
def test_bitmask_cover_is_the_plain_greedy_cover(seed: int) -> None:
    rnd = random.Random(seed)
    n_needs = rnd.randint(1, 70)  # past 64: bitmasks wider than a machine word
    fits = {
        f"P-{c}": set(rnd.sample(range(n_needs), rnd.randint(1, min(6, n_needs))))
        for c in range(rnd.randint(1, 12))
    }
    rank = {c: (rnd.randint(0, 1), rnd.randint(0, 2)) for c in fits}

    def key_of(cid: str, left: int) -> Key:
        return (rank[cid][0], -left, rank[cid][1], cid)

    masks = {c: sum(1 << i for i in needs) for c, needs in fits.items()}
    assert list(greedy_cover(masks, key_of)) == plain_cover(fits, key_of)


@pytest.mark.parametrize("seed", range(60))
def test_int_keyed_cover_is_the_tuple_keyed_cover(seed: int) -> None:
    """ranked_cover's one-int key orders as (first, -left, second, id): the same
    picks, needs served and runners-up (with what they covered) as greedy_cover."""
    rnd = random.Random(seed)
    n_needs = rnd.randint(1, 70)
    masks = {
        f"P-{c}": sum(1 << i for i in rnd.sample(range(n_needs), rnd.randint(1, min(6, n_needs))))
        for c in range(rnd.randint(1, 14))
    }
    first = {c: rnd.randint(0, 1) for c in masks}
    second = dict(zip(masks, rnd.sample(range(40), len(masks)), strict=True))
    names = ["unused"] * 40
    for cid, at in second.items():
        names[at] = cid

    def key_of(cid: str, left: int) -> Key:
        return (first[cid], -left, second[cid], cid)

    tupled = [
        (cid, needs, None if alt is None else (alt[1], -alt[0][1]))
        for _key, cid, needs, alt in greedy_cover(masks, key_of)
    ]
    assert list(ranked_cover(masks, first, second, names)) == tupled


# --- one person's allocation without the solver --------------------------------------


@pytest.mark.parametrize("seed", range(600))
def test_one_owner_allocation_is_the_solvers(seed: int) -> None:
    """Ties, full mentors and mentors wanted by two units included: when the fast path
    answers it answers as the solver, else it leaves the problem to the solver."""
    rnd = random.Random(seed)
    n_units, n_mentors = rnd.randint(1, 5), rnd.randint(1, 6)
    arcs = [
        Arc(u, m, (u,), rnd.choice([1, 2, 4, 8]), rnd.randint(0, 2), rnd.randint(0, 1))
        for u in range(n_units)
        for m in rnd.sample(range(n_mentors), rnd.randint(0, n_mentors))
    ]
    capacity = [rnd.randint(0, 2) for _ in range(n_mentors)]
    owners = [0] * n_units
    assert allocate(owners, arcs, capacity) == solve(owners, arcs, capacity)


def test_one_owner_search_answers_when_two_units_want_one_place() -> None:
    """Both units' best mentor (0) has one place: the search, not the solver, finds
    that unit 0 keeps it (more severe) and unit 1 takes mentor 1, as the solver does."""
    arcs = [Arc(0, 0, (0,), 4, 0, 0), Arc(1, 0, (1,), 2, 0, 0), Arc(1, 1, (1,), 2, 2, 1)]
    found = _one_owner(2, arcs, [1, 1])
    assert found is not None
    assert found.chosen == (0, 2)
    assert found == solve([0, 0], arcs, [1, 1])


# --- values made without their __init__ ------------------------------------------------


def test_made_values_are_the_constructors() -> None:
    need = Need("format", "c.1", (("format", "seminar"),), "r")
    args = ("format", "seminar", "Семинар", ("c.1",), (need,), "Форма работы.", (("hours", 6.0),))
    made, built = Recommendation.of(*args), Recommendation(*args)
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert made.to_dict() == built.to_dict()
    assert pickle.loads(pickle.dumps(made)) == built
    for unmet_args in [(need, "нет"), (need, "нет мест", "capacity", ("M-1",))]:
        made_u, built_u = Unmet.of(*unmet_args), Unmet(*unmet_args)
        assert made_u == built_u and repr(made_u) == repr(built_u)
        assert made_u.to_dict() == built_u.to_dict()
