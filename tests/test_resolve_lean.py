"""One person's resolve, its per-person work made leaner, gives what the plain
computation gives.

A format recommendation's competencies are found from their needs' bits in ontology
order (``CatalogueIndex.comps_of``, each need's ``NeedInfo.bit``) instead of sorting
their ids (``CatalogueIndex.sort``): compared with the sort, and the format
recommendations with those of a KB whose needs carry no bits (the sorting path).
A mentor unit's candidates are read from one table per seeker's subjects and levels
(``mentors._qualified_table``) and made in one pass (``mentors._candidates``):
compared with a plain reading of every mentor against every need of the unit, with
random seekers and free places. A programme recommendation's reason is found in the
KB's memo by its pick, the ranking keys made only when it is not there
(``programme_recommendations``): compared with the reasons made afresh.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.catalogue import mismatch
from deficit_engine.labels import DELIVERY_RU
from deficit_engine.models import Need, Recommendation
from deficit_engine.resolve import mentors as mentors_module
from deficit_engine.resolve import seeker_of
from deficit_engine.resolve.formats import resolve_formats
from deficit_engine.resolve.mentors import (
    SEVERITY_WEIGHT,
    Candidate,
    Seeker,
    locality,
    mentor_units,
    unit_arcs,
)
from deficit_engine.resolve.needinfo import infos_of, split_by_kind
from deficit_engine.resolve.programmes import programme_cover, programme_recommendations

KB = load_kb()
COMPETENCIES = sorted(KB.ontology.competencies)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(COMPETENCIES), max_size=12))
def test_competencies_by_bits_are_sorted(comps: list[str]) -> None:
    """``comps_of`` of the competencies' bits is ``sort`` of their ids (duplicates
    dropped, prerequisites first), asked twice (the second from its memo)."""
    index = KB.index
    bits = 0
    for c in comps:
        bits |= index.comp_bits[c]
    for _ in range(2):
        assert index.comps_of(bits) == index.sort(comps)


def _printed(recs: list[Recommendation]) -> list[Any]:
    return [(r.to_dict(), [id(n) for n in r.needs]) for r in recs]


@pytest.mark.parametrize("seed", range(3))
def test_format_competencies_by_bits_as_sorted(seed: int) -> None:
    """The format recommendations with their needs' bits are those made by sorting
    ids (a KB whose ``comp_bits`` is empty: every need's bit is 0), with needs naming
    no competency, an empty one, or one the ontology does not know mixed in."""
    kb = load_kb()
    plain = load_kb()
    plain.index.comp_bits.clear()
    engine = Engine(kb, backend="fast")
    rng = random.Random(seed)
    phases = sorted({f.phase for f in kb.formats.values()})
    named = sorted(kb.formats)
    odd = [None, "", "no.such_competency", *COMPETENCIES[:4]]
    extra = [
        *[Need("format", c, (("phase", p),), "R-ODD") for c in odd for p in phases],
        *[Need("format", c, (("format", f),), "R-ODD") for c in odd for f in named[:3]],
    ]
    people = [engine.diagnose(p)[1] for p in synthetic_profiles(kb, 100, seed)]
    bits_path = 0
    for result in people * 2:  # the second time from the memos
        needs = [*result.needs, *rng.sample(extra, rng.randint(0, 6))]
        rng.shuffle(needs)
        idx = [i for i, n in enumerate(needs) if n.kind == "format"]
        got, unmet = resolve_formats(kb.index, needs, idx)
        want, want_unmet = resolve_formats(plain.index, needs, idx)
        assert _printed(got) == _printed(want)
        assert unmet == want_unmet
        infos = infos_of(kb.index, needs)
        bits_path += sum(all(infos[needs.index(n)].bit for n in r.needs) for r in got)
    assert bits_path  # the bits served most


def _plain_arcs(
    kb: Any,
    seeker: Seeker,
    needs: list[Need],
    unit: Any,
    free: dict[str, int],
    severities: dict[str, str],
) -> list[Candidate]:
    """A unit's candidates read plainly: each mentor in id order, against each need."""
    index = kb.index
    out = []
    for m in index.mentors:
        if free.get(m.id, 0) <= 0 or not mentors_module._eligible(m, seeker, unit.form):
            continue
        served = tuple(
            i
            for i in unit.needs
            if needs[i].competency in m.strengths
            and mismatch(index.mentor_attrs[m.id], needs[i]) is None
        )
        if not served:
            continue
        prio = sum(
            SEVERITY_WEIGHT.get(severities.get(needs[i].competency or "", "low"), 1) for i in served
        )
        nosubj = 0 if not seeker.subjects or seeker.subjects & set(m.subjects) else 1
        out.append(Candidate(m, served, prio, locality(m, seeker), nosubj))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_unit_candidates_are_the_plain_ones(seed: int) -> None:
    """``unit_arcs`` finds the candidates a plain reading finds: people with their
    subjects, levels and organisation changed at random (some a mentor's own, some
    a school), with mentors' places partly taken."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    rng = random.Random(seed)
    mentors = kb.index.mentors
    subjects = sorted({s for m in mentors for s in m.subjects} | {"math"})
    levels = sorted({v for m in mentors for v in m.levels} | {"basic"})
    orgs = [*sorted({m.organization for m in mentors if m.organization}), None, "ORG-X"]
    munis = [*sorted({m.municipality for m in mentors if m.municipality}), None]
    checked = 0
    for profile in synthetic_profiles(kb, 120, seed):
        prof, result = engine.diagnose(profile)
        needs = list(result.needs)
        seeker = seeker_of(kb, prof.person)
        if rng.random() < 0.7:
            seeker = Seeker(
                rng.choice(orgs),
                rng.choice(munis),
                frozenset(rng.sample(subjects, rng.randint(0, 2))),
                frozenset(rng.sample(levels, rng.randint(0, 2))),
                rng.random() < 0.2,
            )
        free = {m.id: rng.randint(0, m.capacity) for m in mentors}
        infos = infos_of(kb.index, needs)
        idx = split_by_kind(infos)[0]["mentor"]
        for unit in mentor_units(needs, idx, infos):
            for _ in range(2):  # the second time from the tables
                got = unit_arcs(kb.index, seeker, needs, unit, free, result.severities, infos)
                assert got == _plain_arcs(kb, seeker, needs, unit, free, result.severities)
            checked += len(got)
    assert checked


@pytest.mark.parametrize("seed", range(3))
def test_programme_reasons_found_by_pick_are_made_afresh(seed: int) -> None:
    """A programme recommendation's reason, found in the KB's memo by its pick (the
    ranking keys made only when it is not there), is the one made afresh: people with
    random deliveries asked and periods, their picks' recommendations made with the
    memo filled by everyone before them and again with it emptied."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    rng = random.Random(seed)
    deliveries = sorted(DELIVERY_RU)
    memo = kb.index.memo("programme reasons")
    found = 0
    for profile in synthetic_profiles(kb, 150, seed):
        prof, result = engine.diagnose(profile)
        needs = list(result.needs)
        idx = split_by_kind(infos_of(kb.index, needs))[0]["program"]
        seeker = seeker_of(kb, prof.person)
        prefs = rng.sample(deliveries, rng.randint(0, 2))
        hours = rng.choice([None, 16.0, 24.0, 36.0, 72.0, 144.0, 0.0, -0.0])
        admits = (seeker.subjects, seeker.levels)
        picks, _unmet = programme_cover(
            kb.index, prof.person.role, prefs, needs, idx, None, hours, admits
        )
        before = len(memo)
        got = programme_recommendations(kb.index, prefs, needs, picks, hours)
        found += len(picks) - (len(memo) - before)
        kept = dict(memo)
        memo.clear()
        want = programme_recommendations(kb.index, prefs, needs, picks, hours)
        memo.update(kept)
        assert _printed(got) == _printed(want)
    assert found  # the memo answered
