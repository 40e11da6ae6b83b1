"""The route's fast paths give what the plain ones give.

``route.drafts.format_groups`` takes a shortcut when each of a format's needs has
its own competency (the common case); ``route.layout`` finds a step's ``after``
from its direct predecessors' positions. ``tests/test_route_reference.py``
compares whole routes with digests recorded before; this pins the grouping,
shortcut or not, against a plain one on inputs the shipped KB rarely produces
(needs without a competency, several needs of one competency, repeated rules).
"""

from __future__ import annotations

import random

import pytest

from deficit_engine.models import Need
from deficit_engine.route.drafts import format_groups

COMPS = ("c.1", "c.2", "c.3", "c.4", "c.5", "c.6")
ORDER = {c: (len(COMPS) - i, c) for i, c in enumerate(COMPS)}  # not in id order


def plain_groups(needs: list[Need]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The needs without a competency first, then one step per competency in the
    ontology's order; each step's rules once each, in need order."""
    out: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    general = [n.rule for n in needs if n.competency is None]
    if general:
        out.append(((), tuple(dict.fromkeys(general))))
    comps = {n.competency for n in needs if n.competency is not None}
    for c in sorted(comps, key=ORDER.__getitem__):
        out.append(((c,), tuple(dict.fromkeys(n.rule for n in needs if n.competency == c))))
    return out


@pytest.mark.parametrize("seed", range(300))
def test_format_groups_are_the_plain_grouping(seed: int) -> None:
    rnd = random.Random(seed)
    distinct = rnd.random() < 0.5  # half the cases: each need its own competency
    count = rnd.randint(1, len(COMPS))
    comps: list[str | None] = (
        list(rnd.sample(COMPS, count))
        if distinct
        else [rnd.choice((None, *COMPS[:3])) for _ in range(count)]
    )
    needs = [Need("format", c, (("format", "seminar"),), f"r{rnd.randint(1, 3)}") for c in comps]
    assert format_groups(needs, ORDER.__getitem__) == plain_groups(needs)
