"""Recommendations and unmet needs made without their dataclass ``__init__``.

A person's resolution makes a dozen or more of these frozen values, and a frozen
dataclass's ``__init__`` sets each field through ``object.__setattr__``: about
four times the cost of filling the instance's ``__dict__`` directly, which is
what this module does. The objects are the same (fields, equality, hash, repr,
pickling: all read the fields); if the classes ever gain a ``__post_init__`` or
``__slots__`` their own constructors are used instead (checked once, here), and
tests/test_resolve_fast.py compares both ways.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ..models import Need, Recommendation, Unmet

__all__ = ["make_recommendation", "make_unmet"]


def _plain(cls: type) -> bool:
    """Whether ``cls`` is a dataclass whose instances are just their ``__dict__``."""
    return not hasattr(cls, "__post_init__") and "__slots__" not in vars(cls)


_REC_FIELDS = ("kind", "id", "title", "competencies", "needs", "reason", "attrs")
_UNMET_FIELDS = ("need", "reason", "cause", "exhausted")
_FAST = (
    _plain(Recommendation)
    and _plain(Unmet)
    and tuple(f.name for f in fields(Recommendation)) == _REC_FIELDS
    and tuple(f.name for f in fields(Unmet)) == _UNMET_FIELDS
)
_new = object.__new__


def make_recommendation(
    kind: str,
    item_id: str,
    title: str,
    competencies: tuple[str, ...],
    needs: tuple[Need, ...],
    reason: str,
    attrs: tuple[tuple[str, Any], ...],
) -> Recommendation:
    """``Recommendation(kind, item_id, title, competencies, needs, reason, attrs)``.

    Parameters
    ----------
    kind, item_id, title, competencies, needs, reason, attrs
        The fields, in order.

    Returns
    -------
    Recommendation
        Equal to the one its constructor makes.
    """
    if not _FAST:
        return Recommendation(kind, item_id, title, competencies, needs, reason, attrs)
    rec: Recommendation = _new(Recommendation)
    d = rec.__dict__
    d["kind"] = kind
    d["id"] = item_id
    d["title"] = title
    d["competencies"] = competencies
    d["needs"] = needs
    d["reason"] = reason
    d["attrs"] = attrs
    return rec


def make_unmet(
    need: Need, reason: str, cause: str = "catalogue", exhausted: tuple[str, ...] = ()
) -> Unmet:
    """``Unmet(need, reason, cause, exhausted)``.

    Parameters
    ----------
    need, reason, cause, exhausted
        The fields, in order.

    Returns
    -------
    Unmet
        Equal to the one its constructor makes.
    """
    if not _FAST:
        return Unmet(need, reason, cause, exhausted)
    out: Unmet = _new(Unmet)
    d = out.__dict__
    d["need"] = need
    d["reason"] = reason
    d["cause"] = cause
    d["exhausted"] = exhausted
    return out
