"""The lexicographic greedy set cover the resolver chooses programmes and mentors by.

A person's needs of one kind are the elements; each candidate (a programme, a
mentor) covers the needs it can serve. Each round the candidate with the least
ranking key wins, the key depending on how many still-uncovered needs it covers
(docs/route.md, section 1, "The resolver").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

__all__ = ["Key", "bits", "greedy_cover", "ranked_cover"]

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
    uncovered, serving = _serving(masks)
    heap = [(key_of(cid, mask.bit_count()), mask.bit_count(), cid) for cid, mask in masks.items()]
    heapq.heapify(heap)
    while uncovered:
        key, left, cid = heapq.heappop(heap)
        served = masks[cid] & uncovered
        while served.bit_count() != left:  # out of date: push it back as it is now
            if served:  # (else all its needs are covered: out for good)
                heapq.heappush(heap, (key_of(cid, served.bit_count()), served.bit_count(), cid))
            key, left, cid = heapq.heappop(heap)
            served = masks[cid] & uncovered
        needs = bits(served)
        alt = None
        # the least of the others sharing a need (keys are unique: the order in
        # which they are met does not matter)
        for other in _sharing(serving, needs, cid):
            entry = (key_of(other, (masks[other] & uncovered).bit_count()), other)
            if alt is None or entry < alt:
                alt = entry
        uncovered &= ~served
        yield key, cid, needs, alt


def ranked_cover(
    masks: Mapping[str, int],
    first: Mapping[str, int],
    second: Mapping[str, int],
    names: Sequence[str],
) -> Iterator[tuple[str, list[int], tuple[str, int] | None]]:
    """:func:`greedy_cover` with the key ``(first[id], -left, second[id])``, int-coded.

    The programmes' key is a tuple of six (built for every candidate and every
    push, and compared field by field in the heap); here the key is one int,
    ``(first * (width + 1) + width - left) * len(names) + second`` with ``width``
    the needs in play, which orders as the tuple does. The heap holds those ints
    alone: the candidate is ``names[key % len(names)]`` and the needs it covered
    when pushed are read from the key. A person has about a dozen candidates:
    the runner-up is looked for among them all, with no table of which can
    serve each need.

    Parameters
    ----------
    masks : Mapping
        Candidate id -> the needs it can serve (bitmask).
    first : Mapping
        Candidate id -> the key's first part (an int >= 0).
    second : Mapping
        Candidate id -> the key's last part: its position in ``names``.
    names : sequence of str
        The ids by ``second`` (``names[second[id]] == id``; others may be there).

    Yields
    ------
    tuple
        (candidate id, the needs it serves, (id, uncovered needs it covered then)
        of the runner-up or None), as :func:`greedy_cover` picks them.
    """
    uncovered = 0
    for mask in masks.values():
        uncovered |= mask
    if not uncovered:
        return
    width = uncovered.bit_count()
    rows, stride = width + 1, len(names)
    heap = [
        (first[cid] * rows + width - mask.bit_count()) * stride + second[cid]
        for cid, mask in masks.items()
    ]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while uncovered:
        key = pop(heap)
        cid = names[key % stride]
        served = masks[cid] & uncovered
        while served.bit_count() != width - key // stride % rows:  # out of date
            if served:
                push(heap, (first[cid] * rows + width - served.bit_count()) * stride + second[cid])
            key = pop(heap)
            cid = names[key % stride]
            served = masks[cid] & uncovered
        alt = None
        least = 0
        for other, mask in masks.items():
            if mask & served and other != cid:
                left = (mask & uncovered).bit_count()
                k = (first[other] * rows + width - left) * stride + second[other]
                if alt is None or k < least:
                    alt, least = (other, left), k
        uncovered &= ~served
        yield cid, bits(served), alt


def _serving(masks: Mapping[str, int]) -> tuple[int, dict[int, list[str]]]:
    """Every need in play (a bitmask), and need -> the candidates that can serve it,
    in the order met: the runner-up is looked for among the candidates of the
    needs just served, not among all of them."""
    uncovered = 0
    serving: dict[int, list[str]] = {}
    for cid, mask in masks.items():
        uncovered |= mask
        for i in bits(mask):
            if i in serving:
                serving[i].append(cid)
            else:
                serving[i] = [cid]
    return uncovered, serving


def _sharing(serving: Mapping[int, list[str]], needs: list[int], cid: str) -> Collection[str]:
    """The candidates other than ``cid`` that can serve one of ``needs``."""
    if len(needs) == 1:
        found = serving[needs[0]]
        return [c for c in found if c != cid] if len(found) > 1 else ()
    others = {c for i in needs for c in serving[i]}
    others.discard(cid)
    return others


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
