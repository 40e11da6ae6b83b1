"""What the resolver reads of one need, found once per need object of a KB.

A person's needs come from the KB's rules, so a cohort asks for a few hundred
distinct needs, and the engine hands out one shared object for each
(``engine._NEEDS``). The resolver used to look every need up in its memos by its
filters: hashing a tuple of pairs, for each of a person's ~50 needs, in each
memo. Here each need object gets a :class:`NeedInfo` once: its kind, its
competency, its mentoring form, a ``token`` (an int standing for its competency
and filters in the per-person memos, the same for equal needs) and, filled on
first use, what is a function of the need alone (a format need's plan, why no
programme for a role serves it). A need is found by identity (``id``): its info
holds it, so no other object can take its id while the info is kept. The info is
the object's own (equal needs made apart share their token and ``lazy`` values),
so that it can also hold the need's :class:`~deficit_engine.models.Unmet` values
(``made``): a person's needs are many, and each one found through one object, not
a pair and then the info, is less memory read per need.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from ..catalogue import CatalogueIndex, exact_key
from ..errors import WrongTypeError
from ..models import Need

__all__ = ["KINDS", "NeedInfo", "competency_bits", "form_of", "infos_of", "split_by_kind"]

#: The kinds of need the resolver serves, in the order it serves them.
KINDS = ("program", "mentor", "format")
#: How many needs the identity memo keeps before it starts afresh.
IDENTITY_LIMIT = 1 << 16
#: Tokens are never reused, even when a memo is emptied, so a token in a
#: per-person memo always stands for the same competency and filters.
_tokens = itertools.count()


class NeedInfo:
    """One need object as the resolver reads it.

    Attributes
    ----------
    need : Need
        The need (held: its info is found by its ``id``).
    kind : str
        The need's kind.
    competency : str or None
        Its competency.
    form : str or None
        The mentoring form it names (the last ``form`` filter), if any.
    token : int or None
        Stands for (competency, filters) in memos, None when the filters cannot
        key a memo (an unhashable or unusual value); equal needs share it.
    bit : int
        Its competency's bit in the index's ``comp_bits`` (0: no competency, or
        one the ontology does not know).
    format_plan : Any
        A format need's plan (``resolve.formats``), filled on first use.
    named_format : str or None
        Then, the format it names when that format passes its filters.
    lazy : dict
        Other values that are a function of the need alone, by name (filled by
        their users; one dict for equal needs).
    made : dict or None
        The need's unmet values by their reason (``resolve``), made on first use.
    """

    __slots__ = (
        "bit",
        "competency",
        "form",
        "format_plan",
        "kind",
        "lazy",
        "made",
        "named_format",
        "need",
        "token",
    )

    def __init__(self, need: Need, token: int | None, bit: int = 0) -> None:
        self.need = need
        self.kind = need.kind
        self.competency = need.competency
        self.bit = bit
        self.form = form_of(need)
        self.token = token
        self.format_plan: Any = None
        self.named_format: str | None = None
        self.lazy: dict[Any, Any] = {}
        self.made: dict[Any, Any] | None = None

    def of(self, need: Need) -> NeedInfo:
        """This info for another object of the same need (equal filters that print
        alike): its own, sharing the token and the ``lazy`` values.

        Parameters
        ----------
        need : Need
            The other object.

        Returns
        -------
        NeedInfo
            Its info.
        """
        # made by __init__, its fields then set as this info's: compiled (mypyc), the
        # class's __new__ calls __init__, and without its arguments raised TypeError,
        # which _remember took for an unhashable filter: every equal need made apart
        # went without a token, and so past every per-person memo (the compiled build's
        # resolve a tenth slower than it is). Once per need object: its cost is nothing.
        other = NeedInfo(need, self.token, self.bit)
        other.kind = self.kind
        other.competency = self.competency
        other.form = self.form
        other.format_plan = self.format_plan
        other.named_format = self.named_format
        other.lazy = self.lazy
        return other


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


def competency_bits(infos: Sequence[NeedInfo], idx: Iterable[int]) -> int:
    """The competency bits of the needs ``idx`` OR-ed (``CatalogueIndex.comps_of``
    turns them into the competencies in ontology order), or 0 when one of them names
    no competency or one the ontology does not know (then sort their ids instead).

    Parameters
    ----------
    infos : sequence of NeedInfo
        A person's needs' infos.
    idx : iterable of int
        Indexes into them.

    Returns
    -------
    int
        The bits, or 0.
    """
    bits = 0
    for i in idx:
        bit = infos[i].bit
        if not bit:
            return 0
        bits |= bit
    return bits


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
        info = get(id(need))
        if info is None:
            info = _remember(index, by_id, need)
        out.append(info)
    return out


def _remember(index: CatalogueIndex, by_id: dict[int, NeedInfo], need: Need) -> NeedInfo:
    """A need met for the first time (as this object): its info, made from that of an
    equal need met before (by its signature) when there is one."""
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
            first = signatures.get(sig)
            if first is None:
                info = index.remember(signatures, sig, NeedInfo(need, next(_tokens), bit))
            else:
                info = first.of(need)
        except TypeError:  # an unhashable value inside a filter
            info = None
    if info is None:
        info = NeedInfo(need, None, bit)
    if len(by_id) >= IDENTITY_LIMIT:  # needs made afresh per Result would fill it
        by_id.clear()
    by_id[id(need)] = info
    return info


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
