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

__all__ = ["Key", "bits", "greedy_cover"]

#: A candidate's ranking key: a tuple that ends with its id (so keys are unique).
Key = tuple[Any, ...]


def greedy_cover(
    masks: Mapping[str, int], key_of: Callable[[str, int], Key]
) -> Iterator[tuple[Key, str, list[int], tuple[Key, str] | None]]:
    """Greedy set cover of the needs in ``masks`` (candidate id -> the needs it
    can serve, as a bitmask: bit ``i`` for need ``i``).

    Each round picks the candidate with the least ``key_of(id, uncovered needs
    it covers)`` (keys are unique: they end with the id) and yields (its key,
    its id, the needs it now serves in increasing order, (key, id) of the
    runner-up: the least of the other candidates sharing one of those needs, or
    None). A key only grows as needs get covered, so instead of re-ranking every
    candidate each round a heap keeps (key, uncovered needs it covers, id) as
    they were when pushed: the least entry still up to date is the least
    candidate (lazy greedy). Sets of needs are bitmasks: a person has a few
    dozen needs, and an int's ``&`` and ``bit_count`` are much cheaper than a
    set's.

    Parameters
    ----------
    masks : Mapping
        Candidate id -> the needs it can serve (bitmask).
    key_of : callable
        ``key_of(candidate id, how many uncovered needs it covers)`` -> its key.

    Yields
    ------
    tuple
        (key, candidate id, the needs it serves, (key, id) of the runner-up or None).
    """
    uncovered = 0
    for mask in masks.values():
        uncovered |= mask
    heap = [(key_of(cid, m.bit_count()), m.bit_count(), cid) for cid, m in masks.items()]
    heapq.heapify(heap)
    while uncovered:
        key, left, cid = heapq.heappop(heap)
        served = masks[cid] & uncovered
        while served.bit_count() != left:  # out of date: push it back as it is now
            if served:  # (else all its needs are covered: out for good)
                heapq.heappush(heap, (key_of(cid, served.bit_count()), served.bit_count(), cid))
            key, left, cid = heapq.heappop(heap)
            served = masks[cid] & uncovered
        alt = None
        for other, mask in masks.items():
            if mask & served and other != cid:
                entry = (key_of(other, (mask & uncovered).bit_count()), other)
                if alt is None or entry < alt:
                    alt = entry
        uncovered &= ~served
        yield key, cid, bits(served), alt


def bits(mask: int) -> list[int]:
    """The indexes of the set bits of ``mask``, lowest first.

    Parameters
    ----------
    mask : int
        A bit set (not negative).

    Returns
    -------
    list of int
        Its members.
    """
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out
