"""What the resolver reads of one need, found once per distinct need of a KB.

A person's needs come from the KB's rules, so a cohort asks for a few hundred
distinct needs, and the engine hands out one shared object for each
(``engine._NEEDS``). The resolver used to look every need up in its memos by its
filters: hashing a tuple of pairs, for each of a person's ~50 needs, in each
memo. Here each distinct need gets a :class:`NeedInfo` once: its kind, its
competency, its mentoring form, a ``token`` (an int standing for its competency
and filters in the per-person memos) and, filled on first use, what is a
function of the need alone (a format need's plan, why no programme for a role
serves it). A need is found by identity (``id``): the memo keeps the need alive,
so no other object can take its id while its entry is there.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from ..catalogue import CatalogueIndex, exact_key
from ..errors import WrongTypeError
from ..models import Need

__all__ = ["KINDS", "NeedInfo", "form_of", "infos_of", "split_by_kind"]

#: The kinds of need the resolver serves, in the order it serves them.
KINDS = ("program", "mentor", "format")
#: How many needs the identity memo keeps before it starts afresh.
IDENTITY_LIMIT = 1 << 16
#: Tokens are never reused, even when a memo is emptied, so a token in a
#: per-person memo always stands for the same competency and filters.
_tokens = itertools.count()


class NeedInfo:
    """One distinct need as the resolver reads it (shared by equal needs).

    Attributes
    ----------
    kind : str
        The need's kind.
    competency : str or None
        Its competency.
    form : str or None
        The mentoring form it names (the last ``form`` filter), if any.
    token : int or None
        Stands for (competency, filters) in memos, None when the filters cannot
        key a memo (an unhashable or unusual value).
    bit : int
        Its competency's bit in the index's ``comp_bits`` (0: no competency, or
        one the ontology does not know).
    format_plan : Any
        A format need's plan (``resolve.formats``), filled on first use.
    named_format : str or None
        Then, the format it names when that format passes its filters.
    lazy : dict
        Other values that are a function of the need alone, by name (filled by
        their users).
    """

    __slots__ = (
        "bit",
        "competency",
        "form",
        "format_plan",
        "kind",
        "lazy",
        "named_format",
        "token",
    )

    def __init__(self, need: Need, token: int | None, bit: int = 0) -> None:
        self.kind = need.kind
        self.competency = need.competency
        self.bit = bit
        self.form = form_of(need)
        self.token = token
        self.format_plan: Any = None
        self.named_format: str | None = None
        self.lazy: dict[Any, Any] = {}


def form_of(need: Need) -> str | None:
    """The mentoring form a need names, as ``need.get("form")`` (the last one), if any.

    Parameters
    ----------
    need : Need
        The need.

    Returns
    -------
    str or None
        The form.
    """
    form = None
    for name, value in need.filters:  # as need.get("form"): the last one named so
        if name == "form":
            form = value
    return None if form is None else str(form)


def infos_of(index: CatalogueIndex, needs: Iterable[Need]) -> list[NeedInfo]:
    """Each need's :class:`NeedInfo`, in order.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index (its memos hold the infos).
    needs : iterable of Need
        A person's needs.

    Returns
    -------
    list of NeedInfo
        One per need.

    Raises
    ------
    WrongTypeError
        If an item is not a Need.
    """
    by_id = index.memo("need info by identity")
    get = by_id.get
    out = []
    for need in needs:
        hit = get(id(need))
        if hit is None:
            hit = _remember(index, by_id, need)
        out.append(hit[1])
    return out


def _remember(index: CatalogueIndex, by_id: dict[int, Any], need: Need) -> tuple[Need, NeedInfo]:
    """A need met for the first time (as this object): its info, by its signature."""
    if type(need) is not Need and not isinstance(need, Need):
        raise WrongTypeError(f"resolve() needs Need objects, not {type(need).__name__}")
    # exact_key: equal filters that print apart (1 and True) are different needs here
    exact = exact_key(need.filters)
    info: NeedInfo | None = None
    competency = need.competency
    bit = index.comp_bits.get(competency, 0) if type(competency) is str else 0
    if exact is not None:
        sig = (need.kind, need.competency, exact)
        try:
            signatures = index.memo("need info by signature")
            info = signatures.get(sig)
            if info is None:
                info = index.remember(signatures, sig, NeedInfo(need, next(_tokens), bit))
        except TypeError:  # an unhashable value inside a filter
            info = None
    if info is None:
        info = NeedInfo(need, None, bit)
    if len(by_id) >= IDENTITY_LIMIT:  # needs made afresh per Result would fill it
        by_id.clear()
    entry = by_id[id(need)] = (need, info)
    return entry


def split_by_kind(
    infos: Sequence[NeedInfo | Need],
) -> tuple[dict[str, list[int]], dict[int, str]]:
    """The needs' indexes by kind, and why a need of an unknown kind is unmet.

    Parameters
    ----------
    infos : sequence of NeedInfo or Need
        A person's needs, or their infos (anything with the need's ``kind``).

    Returns
    -------
    by_kind : dict
        ``program``, ``mentor``, ``format`` -> the indexes of the needs of that kind.
    unknown : dict
        Index -> the reason, for each need of another kind.
    """
    by_kind: dict[str, list[int]] = {kind: [] for kind in KINDS}
    unknown: dict[int, str] = {}
    get = by_kind.get
    for i, info in enumerate(infos):
        found = get(info.kind)
        if found is not None:
            found.append(i)
        else:
            unknown[i] = f"неизвестный вид потребности «{info.kind}»"
    return by_kind, unknown
