"""The lexicographic greedy set cover the resolver chooses programmes and mentors by.

A person's needs of one kind are the elements; each candidate (a programme, a
mentor) covers the needs it can serve. Each round the candidate with the least
ranking key wins, the key depending on how many still-uncovered needs it covers
(docs/route.md, section 1, "The resolver").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["Key", "greedy_cover"]

#: A candidate's ranking key: a tuple that ends with its id (so keys are unique).
Key = tuple[Any, ...]


def greedy_cover(
    fits: Mapping[str, set[int]], key_of: Callable[[str, int], Key]
) -> Iterator[tuple[Key, str, set[int], tuple[Key, str] | None]]:
    """Greedy set cover of the needs in ``fits`` (candidate id -> need indexes).

    Each round picks the candidate with the least ``key_of(id, uncovered needs
    it covers)`` (keys are unique: they end with the id) and yields (its key,
    its id, the needs it now serves, (key, id) of the runner-up: the least of
    the other candidates sharing one of those needs, or None). A key only grows
    as needs get covered, so instead of re-ranking every candidate each round
    a heap keeps (key, uncovered needs it covers, id) as they were when pushed:
    the least entry still up to date is the least candidate (lazy greedy).

    Parameters
    ----------
    fits : Mapping
        Candidate id -> the indexes of the needs it can serve.
    key_of : callable
        ``key_of(candidate id, how many uncovered needs it covers)`` -> its key.

    Yields
    ------
    tuple
        (key, candidate id, the needs it serves, (key, id) of the runner-up or None).
    """
    uncovered: set[int] = set().union(*fits.values()) if fits else set()
    sharing: dict[int, list[str]] = {}  # need -> the candidates covering it
    for cid, needs in fits.items():
        for i in needs:
            sharing.setdefault(i, []).append(cid)
    heap = [(key_of(cid, len(needs)), len(needs), cid) for cid, needs in fits.items()]
    heapq.heapify(heap)
    while uncovered:
        key, left, cid = heapq.heappop(heap)
        served = fits[cid] & uncovered
        while len(served) != left:  # out of date: push it back as it is now
            if served:  # (else all its needs are covered: out for good)
                heapq.heappush(heap, (key_of(cid, len(served)), len(served), cid))
            key, left, cid = heapq.heappop(heap)
            served = fits[cid] & uncovered
        others = {a for i in served for a in sharing[i] if a != cid}
        alt = min([(key_of(a, len(fits[a] & uncovered)), a) for a in others]) if others else None
        uncovered -= served
        yield key, cid, served, alt
