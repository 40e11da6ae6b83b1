"""A resolution's recommendations as step drafts: what each step is, before order and months.

A programme or a mentor becomes one step. A format becomes one step per
competency it serves (so each competency's steps can be ordered on their own);
the re-diagnosis is folded into one closing step over every deficit. A draft
(:class:`Draft`) is a plain tuple, cheap to make once per step per profile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..kb import KnowledgeBase
from ..labels import PHASE_ORDER
from ..models import Recommendation, Resolution, Result
from ..schema import Format, Profile
from .model import centi

__all__ = ["REDIAGNOSIS_FORMAT", "SELF_EDUCATION_FORMAT", "Draft", "step_drafts"]

#: The format id folded into the closing re-diagnosis step.
REDIAGNOSIS_FORMAT = "rediagnosis"
#: The format id whose steps are of kind ``self_education``.
SELF_EDUCATION_FORMAT = "self_education"
_REDIAGNOSIS_DEFAULT = ("Повторная диагностика профессиональных компетенций", "non_formal", 2.0)

_CLOSING_STAGE = len(PHASE_ORDER)  # after every phase, reflect included
_RESPONSIBLE_BY_LEVEL = {
    "regional": "ЦНППМ",
    "municipal": "ММС (муниципальная методическая служба)",
}


class Draft(NamedTuple):
    """A step before it is ordered and scheduled (a tuple: cheap to make)."""

    kind: str
    ref: str | None
    title: str
    comps: tuple[str, ...]
    education: str
    phase: str
    level: str | None
    centi: int
    responsible: str
    rules: tuple[str, ...]
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def stage(self) -> int:
        """Its phase's place in learn -> practice -> share -> reflect; the closing
        step after them all, and a phase the KB does not know just before it."""
        if self.kind == "rediagnosis":
            return _CLOSING_STAGE
        return PHASE_ORDER.get(self.phase, _CLOSING_STAGE - 1)


def step_drafts(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    comp_key: Callable[[str], tuple[int, str]],
    mentoring: tuple[str, str, float],
) -> list[Draft]:
    """The drafts of the steps for ``resolution``'s recommendations, closing step last.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base: its formats.
    profile : Profile
        The person: their organization is responsible for institutional formats.
    result : Result
        The diagnosis: every deficit is re-diagnosed in the closing step.
    resolution : Resolution
        The chosen catalogue items.
    comp_key : callable
        The KB's competency sort key (ontology order, prerequisites first).
    mentoring : (str, str, float)
        The (education, phase, hours) of a mentoring step in the KB.

    Returns
    -------
    list of Draft
        In recommendation order; the closing re-diagnosis last, present when
        there is any other step or a rule asked for it.
    """
    drafts: list[Draft] = []
    closing: list[Recommendation] = []
    org = profile.person.organization
    institutional = f"{org} (методический совет)" if org else "методический совет ОО"
    for rec in resolution.recommendations:
        if rec.kind == "program":
            drafts.append(_program_draft(rec))
        elif rec.kind == "mentor":
            drafts.append(_mentoring_draft(rec, mentoring))
        elif rec.id == REDIAGNOSIS_FORMAT:
            closing.append(rec)
        else:
            drafts.extend(_format_drafts(kb.formats[rec.id], rec, institutional, comp_key))
    if drafts or closing:
        drafts.append(_closing_draft(kb, result, closing, comp_key))
    return drafts


def _program_draft(rec: Recommendation) -> Draft:
    """A programme: formal learning, one step, run by its provider."""
    attrs = dict(rec.attrs)
    return Draft(
        "program",
        rec.id,
        rec.title,
        rec.competencies,
        "formal",
        "learn",
        None,
        centi(attrs.get("hours")),  # type: ignore[arg-type]  # as rec.get()
        str(attrs.get("provider")),
        rec.rules,
        (
            ("delivery", attrs.get("delivery")),
            ("provider", attrs.get("provider")),
            ("federal_registry", attrs.get("federal_registry")),
            ("program_kind", attrs.get("program_kind")),
        ),
    )


def _mentoring_draft(rec: Recommendation, mentoring: tuple[str, str, float]) -> Draft:
    """A mentor: one step with the KB's mentoring (education, phase, hours)."""
    education, phase, hours = mentoring
    attrs = dict(rec.attrs)
    org = attrs.get("organization")
    return Draft(
        "mentoring",
        rec.id,
        f"Наставничество: {rec.title}",
        rec.competencies,
        education,
        phase,
        "institutional",
        centi(hours),
        f"{rec.title} ({org})" if org else rec.title,
        rec.rules,
        (
            ("forms", tuple(attrs.get("forms", ()))),
            ("municipality", attrs.get("municipality")),
            ("organization", org),
        ),
    )


def _format_drafts(
    fmt: Format,
    rec: Recommendation,
    institutional: str,
    comp_key: Callable[[str], tuple[int, str]],
) -> list[Draft]:
    """A format: one step per competency it serves, so each can be ordered on its
    own; needs without a competency share one step, which comes first."""
    kind = "self_education" if rec.id == SELF_EDUCATION_FORMAT else "format"
    if kind == "self_education":
        responsible = "педагог (самостоятельно)"
    else:
        responsible = _RESPONSIBLE_BY_LEVEL.get(fmt.level, institutional)
    groups: dict[tuple[str, ...], list[str]] = {}
    for need in rec.needs:
        key = (str(need.competency),) if need.competency is not None else ()
        if key in groups:
            groups[key].append(need.rule)
        else:
            groups[key] = [need.rule]
    hours = centi(fmt.hours)
    return [
        Draft(
            kind,
            fmt.id,
            fmt.title,
            comps,
            fmt.education,
            fmt.phase,
            fmt.level,
            hours,
            responsible,
            tuple(dict.fromkeys(groups[comps])),
        )
        # the group without a competency first, then in ontology order
        for comps in sorted(groups, key=lambda c: comp_key(c[0]) if c else (-1, ""))
    ]


def _closing_draft(
    kb: KnowledgeBase,
    result: Result,
    asked: Sequence[Recommendation],
    comp_key: Callable[[str], tuple[int, str]],
) -> Draft:
    """The closing re-diagnosis: every deficit and every competency a rule
    ``asked`` it for, with the KB's re-diagnosis format or the defaults."""
    rfmt = kb.formats.get(REDIAGNOSIS_FORMAT)
    title, education, hours = (
        (rfmt.title, rfmt.education, float(rfmt.hours)) if rfmt else _REDIAGNOSIS_DEFAULT
    )
    comps = {c for rec in asked for c in rec.competencies}
    comps |= {d.competency for d in result.deficits}
    return Draft(
        "rediagnosis",
        rfmt.id if rfmt else None,
        title,
        tuple(sorted(comps, key=comp_key)),
        education,
        "reflect",
        rfmt.level if rfmt else "regional",
        centi(hours),
        "ЦОПМКП / ЦНППМ",
        tuple(dict.fromkeys([r for rec in asked for r in rec.rules])),
    )
