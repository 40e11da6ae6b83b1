"""The lexicographic greedy set cover the resolver chooses programmes and mentors by.

A person's needs of one kind are the elements; each candidate (a programme, a
mentor) covers the needs it can serve. Each round the candidate with the least
ranking key wins, the key depending on how many still-uncovered needs it covers
(docs/route.md, section 1, "The resolver").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterator, Mapping
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
    masks: Mapping[str, int], first: Mapping[str, int], second: Mapping[str, int]
) -> Iterator[tuple[str, list[int], tuple[str, int] | None]]:
    """:func:`greedy_cover` with the key ``(first[id], -left, second[id])``, int-coded.

    The programmes' key is a tuple of six (built for every candidate and every
    push, and compared field by field in the heap); here the key is one int,
    ``((first * (width + 1)) + width - left) * stride + second`` with ``width``
    the needs in play and ``stride`` past every ``second``, which orders as the
    tuple does. The heap holds those ints alone: a candidate is found again from
    its ``second`` (unique, as the tuple's id made keys unique) and the needs it
    covered when pushed from the key.

    Parameters
    ----------
    masks : Mapping
        Candidate id -> the needs it can serve (bitmask).
    first : Mapping
        Candidate id -> the key's first part (an int >= 0).
    second : Mapping
        Candidate id -> the key's last part: ints >= 0, one per candidate.

    Yields
    ------
    tuple
        (candidate id, the needs it serves, (id, uncovered needs it covered then)
        of the runner-up or None), as :func:`greedy_cover` picks them.

    Raises
    ------
    ValueError
        If two candidates share a ``second``.
    """
    uncovered, serving = _serving(masks)
    if not uncovered:
        return
    width = uncovered.bit_count()
    rows = width + 1
    stride = 1 + max(second[cid] for cid in masks)
    owner = {second[cid]: cid for cid in masks}
    if len(owner) != len(masks):
        raise ValueError("ranked_cover: two candidates share a key")
    # a candidate's key less ``left * stride``
    base = {cid: (first[cid] * rows + width) * stride + second[cid] for cid in masks}
    heap = [base[cid] - mask.bit_count() * stride for cid, mask in masks.items()]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while uncovered:
        key = pop(heap)
        cid = owner[key % stride]
        served = masks[cid] & uncovered
        while served.bit_count() != width - key // stride % rows:  # out of date
            if served:
                push(heap, base[cid] - served.bit_count() * stride)
            key = pop(heap)
            cid = owner[key % stride]
            served = masks[cid] & uncovered
        needs = bits(served)
        alt = None
        least = 0
        for other in _sharing(serving, needs, cid):
            left = (masks[other] & uncovered).bit_count()
            k = base[other] - left * stride
            if alt is None or k < least:
                alt, least = (other, left), k
        uncovered &= ~served
        yield cid, needs, alt


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
