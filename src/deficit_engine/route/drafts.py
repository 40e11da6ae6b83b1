"""A resolution's recommendations as step drafts: what each step is, before order and months.

A programme or a mentor becomes one step. A format becomes one step per
competency it serves (so each competency's steps can be ordered on their own);
the re-diagnosis is folded into one closing step over every deficit. A draft
(:class:`Draft`) is a plain tuple, cheap to make once per step per profile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..loader import KnowledgeBase
from ..models import Result
from ..resolve import PHASE_ORDER, Resolution
from ..schema import Profile
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

    ``comp_key`` is the KB's competency sort key (ontology order) and
    ``mentoring`` the (education, phase, hours) of a mentoring step in the KB.
    """
    drafts: list[Draft] = []
    closing_comps: list[str] = []
    closing_rules: list[str] = []
    closing_asked = False
    org = profile.person.organization
    institutional = f"{org} (методический совет)" if org else "методический совет ОО"
    m_education, m_phase, m_hours = mentoring
    for rec in resolution.recommendations:
        if rec.kind == "program":
            attrs = dict(rec.attrs)
            drafts.append(
                Draft(
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
            )
        elif rec.kind == "mentor":
            attrs = dict(rec.attrs)
            org_m = attrs.get("organization")
            drafts.append(
                Draft(
                    "mentoring",
                    rec.id,
                    f"Наставничество: {rec.title}",
                    rec.competencies,
                    m_education,
                    m_phase,
                    "institutional",
                    centi(m_hours),
                    f"{rec.title} ({org_m})" if org_m else rec.title,
                    rec.rules,
                    (
                        ("forms", tuple(attrs.get("forms", ()))),
                        ("municipality", attrs.get("municipality")),
                        ("organization", org_m),
                    ),
                )
            )
        elif rec.id == REDIAGNOSIS_FORMAT:
            closing_asked = True
            closing_comps.extend(rec.competencies)
            closing_rules.extend(rec.rules)
        else:
            fmt = kb.formats[rec.id]
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
            fmt_centi = centi(fmt.hours)
            # the group without a competency first, then in ontology order
            for comps in sorted(groups, key=lambda c: comp_key(c[0]) if c else (-1, "")):
                drafts.append(
                    Draft(
                        kind,
                        fmt.id,
                        fmt.title,
                        comps,
                        fmt.education,
                        fmt.phase,
                        fmt.level,
                        fmt_centi,
                        responsible,
                        tuple(dict.fromkeys(groups[comps])),
                    )
                )
    if drafts or closing_asked:
        rfmt = kb.formats.get(REDIAGNOSIS_FORMAT)
        title, education, hours = (
            (rfmt.title, rfmt.education, float(rfmt.hours)) if rfmt else _REDIAGNOSIS_DEFAULT
        )
        rcomps = set(closing_comps) | {d.competency for d in result.deficits}
        drafts.append(
            Draft(
                "rediagnosis",
                rfmt.id if rfmt else None,
                title,
                tuple(sorted(rcomps, key=comp_key)),
                education,
                "reflect",
                rfmt.level if rfmt else "regional",
                centi(hours),
                "ЦОПМКП / ЦНППМ",
                tuple(dict.fromkeys(closing_rules)),
            )
        )
    return drafts
