"""A resolution's recommendations as step drafts: what each step is, before order and months.

A programme or a mentor becomes one step. A format becomes one step per
competency it serves (so each competency's steps can be ordered on their own);
the re-diagnosis is folded into one closing step over every deficit. A draft
is a plain tuple laid out as :class:`Draft` (the route makes a few dozen per
profile, so it builds the tuples directly: see :mod:`.layout`). What a step
takes from its catalogue item alone (:func:`program_fields`,
:func:`mentoring_fields`, :func:`format_fields`) is made once per item and KB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

from ..kb import KnowledgeBase
from ..labels import PHASE_ORDER
from ..models import Need, Recommendation
from ..schema import Format
from .model import centi

__all__ = [
    "CLOSING_STAGE",
    "REDIAGNOSIS_FORMAT",
    "SELF_EDUCATION_FORMAT",
    "Draft",
    "closing_draft",
    "closing_fields",
    "format_fields",
    "format_groups",
    "mentoring_fields",
    "program_fields",
]

#: The format id folded into the closing re-diagnosis step.
REDIAGNOSIS_FORMAT = "rediagnosis"
#: The format id whose steps are of kind ``self_education``.
SELF_EDUCATION_FORMAT = "self_education"
#: The stage of the closing step: after every phase (learn, practice, share, reflect).
CLOSING_STAGE = len(PHASE_ORDER)
_REDIAGNOSIS_DEFAULT = ("Повторная диагностика профессиональных компетенций", "non_formal", 2.0)


class Draft(NamedTuple):
    """The fields of a draft, in the order of its plain tuple: first its priority as
    an int (:class:`~.layout.Tables`; 0 where the int cannot be made), so that
    drafts sort by it, then the step's fields in the order of a
    :class:`~.model.Step`'s, then its hundredths of an hour and its stage."""

    key: int
    kind: str
    ref: str | None
    title: str
    comps: tuple[str, ...]
    education: str
    phase: str
    level: str | None
    hours: float
    responsible: str
    rules: tuple[str, ...]
    extra: tuple[tuple[str, Any], ...]
    centi: int
    stage: int


def program_fields(
    attrs: tuple[tuple[str, Any], ...],
) -> tuple[int, str, tuple[tuple[str, Any], ...]]:
    """A programme step's (hundredths of an hour, responsible, extra fields): the
    fields that come from its recommendation's catalogue ``attrs`` alone.

    Parameters
    ----------
    attrs : tuple of (str, value) pairs
        The recommendation's ``attrs``.

    Returns
    -------
    tuple
        (hundredths, the provider as text, the extra fields).
    """
    found = dict(attrs)
    provider = found.get("provider")
    return (
        centi(found.get("hours")),  # type: ignore[arg-type]  # as rec.get()
        str(provider),
        (
            ("delivery", found.get("delivery")),
            ("provider", provider),
            ("federal_registry", found.get("federal_registry")),
            ("program_kind", found.get("program_kind")),
        ),
    )


def mentoring_fields(
    title: str, attrs: tuple[tuple[str, Any], ...]
) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
    """A mentoring step's (title, responsible, extra fields): the fields that come
    from its recommendation's ``title`` and catalogue ``attrs`` alone.

    Parameters
    ----------
    title : str
        The recommendation's title (the mentor's name).
    attrs : tuple of (str, value) pairs
        The recommendation's ``attrs``.

    Returns
    -------
    tuple
        (the step's title, the mentor and their organisation, the extra fields).
    """
    found = dict(attrs)
    org = found.get("organization")
    return (
        f"Наставничество: {title}",
        f"{title} ({org})" if org else title,
        (
            ("forms", tuple(found.get("forms", ()))),
            ("municipality", found.get("municipality")),
            ("organization", org),
        ),
    )


def format_fields(fmt: Format) -> tuple[str, str, str, str | None, int]:
    """A format's (title, education, phase, level, hundredths of an hour): the
    fields of its steps that are the same for every person."""
    return fmt.title, fmt.education, fmt.phase, fmt.level, centi(fmt.hours)


def format_groups(
    needs: Sequence[Need], comp_key: Callable[[str], tuple[int, str]]
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """A format's steps as (competencies, rules): one step per competency it serves.

    Parameters
    ----------
    needs : sequence of Need
        The needs the format serves.
    comp_key : callable
        The KB's competency sort key (ontology order, prerequisites first).

    Returns
    -------
    list of (tuple of str, tuple of str)
        The needs without a competency share one step, which comes first; the
        others in ontology order. Each step's rules once each, in need order.
    """
    if len(needs) == 1:  # the most common: one need, one step
        (need,) = needs
        return [((need.competency,) if need.competency is not None else (), (need.rule,))]
    rule_of = {need.competency: need.rule for need in needs}
    if len(rule_of) == len(needs) and None not in rule_of:
        # the most common of the rest: each need its own competency, one step each
        named = cast("dict[str, str]", rule_of)
        return [((c,), (named[c],)) for c in sorted(named, key=comp_key)]
    groups: dict[str | None, list[str]] = {}
    for need in needs:
        c = need.competency
        if c in groups:
            groups[c].append(need.rule)
        else:
            groups[c] = [need.rule]
    out: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    if None in groups:
        out.append(((), tuple(dict.fromkeys(groups.pop(None)))))
    comps = [c for c in groups if c is not None]
    if len(comps) > 1:
        comps.sort(key=comp_key)
    for c in comps:
        rules = groups[c]
        out.append(((c,), (rules[0],) if len(rules) == 1 else tuple(dict.fromkeys(rules))))
    return out


def closing_fields(kb: KnowledgeBase) -> tuple[str | None, str, str, str | None, int]:
    """The closing re-diagnosis' (ref, title, education, level, hundredths of an
    hour): the KB's re-diagnosis format, else the defaults."""
    rfmt = kb.formats.get(REDIAGNOSIS_FORMAT)
    if rfmt is None:
        title, education, hours = _REDIAGNOSIS_DEFAULT
        return None, title, education, "regional", centi(hours)
    return rfmt.id, rfmt.title, rfmt.education, rfmt.level, centi(float(rfmt.hours))


def closing_draft(
    fields: tuple[str | None, str, str, str | None, int],
    comps: tuple[str, ...],
    asked: Sequence[Recommendation],
) -> tuple[Any, ...]:
    """The closing re-diagnosis over every deficit and every competency a rule asked it for.

    Parameters
    ----------
    fields : tuple
        As :func:`closing_fields` gives them.
    comps : tuple of str
        Every deficit's competency and every one ``asked`` names, in ontology order.
    asked : sequence of Recommendation
        The recommendations of the re-diagnosis format.

    Returns
    -------
    tuple
        The draft, laid out as :class:`Draft`.
    """
    ref, title, education, level, hours = fields
    return (
        0,
        "rediagnosis",
        ref,
        title,
        comps,
        education,
        "reflect",
        level,
        hours / 100,
        "ЦОПМКП / ЦНППМ",
        _asked_rules(asked),
        (),
        hours,
        CLOSING_STAGE,
    )


def _asked_rules(asked: Sequence[Recommendation]) -> tuple[str, ...]:
    """The rules of the re-diagnosis recommendations, each once, in their order."""
    if len(asked) == 1:  # the resolver's one re-diagnosis: its rules are each once already
        return asked[0].rules
    return tuple(dict.fromkeys([r for rec in asked for r in rec.rules]))
