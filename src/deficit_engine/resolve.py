"""Needs to catalogue items: ДПП programmes, mentors and formats; unmet needs.

Rules decide *what* is needed (``need`` facts); this module decides *which*
catalogue items serve it (DESIGN.md section 6), as a pure function of the
knowledge base, the profile and the needs:

* **programmes** -- only those whose ``audience`` includes the person's role
  and that cover the need's competency (and satisfy its filters); chosen
  greedily as a set cover of the person's programme needs, ranking candidates
  lexicographically by (1) how many still-uncovered needs they cover, (2) a
  delivery the profile requests, (3) ФР ДПП, (4) fewer hours, (5) id;
* **mentors** -- the competency among their strengths, the need's form among
  their forms, free capacity; same municipality first, then more of the
  person's needs served, then id. One mentor serves all of one person's mentor
  needs they qualify for and counts that person once against their capacity;
* **formats** -- by the filters the need names (format id, education, phase);
  a format need may name no competency.

Every recommendation carries the rule that asked for it and a reason in
Russian; a need no catalogue item serves is returned as :class:`Unmet` with
its reason, never dropped and never invented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .loader import KnowledgeBase
from .models import Need
from .schema import Format, Mentor, Profile, Program

__all__ = [
    "DELIVERY_RU",
    "EDUCATION_RU",
    "FORM_RU",
    "LEVEL_RU",
    "MENTORING_FORMAT",
    "PHASE_ORDER",
    "PHASE_RU",
    "ROLE_RU",
    "SEVERITY_RU",
    "Recommendation",
    "Resolution",
    "Unmet",
    "format_hours",
    "mentoring_defaults",
    "plural_ru",
    "resolve",
]

# --- Russian labels of the fixed vocabularies (shared by route and export) ----

ROLE_RU: dict[str, str] = {
    "teacher": "учитель",
    "manager": "руководитель",
    "methodist": "методист",
    "psychologist": "педагог-психолог",
    "tutor": "тьютор",
    "counselor": "советник директора по воспитанию",
}
DELIVERY_RU: dict[str, str] = {
    "in_person": "очная",
    "distance": "дистанционная",
    "blended": "смешанная",
}
EDUCATION_RU: dict[str, str] = {
    "formal": "формальное",
    "non_formal": "неформальное",
    "informal": "информальное",
}
PHASE_RU: dict[str, str] = {
    "learn": "освоение",
    "practice": "практика",
    "share": "трансляция опыта",
    "reflect": "рефлексия",
}
LEVEL_RU: dict[str, str] = {
    "regional": "региональный",
    "municipal": "муниципальный",
    "institutional": "институциональный",
}
FORM_RU: dict[str, str] = {
    "teacher_teacher": "педагог – педагог",
    "young_specialist": "наставник – молодой специалист",
    "competency_pair": "учитель, владеющий компетенцией – учитель, которому её нужно сформировать",
    "group": "групповое наставничество",
    "team": "командное наставничество",
    "management": "менторство управленческих команд",
}
SEVERITY_RU: dict[str, str] = {
    "critical": "критический",
    "high": "выраженный",
    "moderate": "умеренный",
    "low": "слабый",
}
PHASE_ORDER: dict[str, int] = {"learn": 0, "practice": 1, "share": 2, "reflect": 3}

#: The format whose attributes (education, phase, hours) a mentoring step takes,
#: when the KB has it; otherwise the defaults below.
MENTORING_FORMAT = "mentoring"
_MENTORING_DEFAULT = ("informal", "practice", 18.0)


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """Russian plural agreement: 1 потребность, 2 потребности, 5 потребностей."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def format_hours(value: float) -> str:
    """``36.0`` -> ``36``, ``2.5`` -> ``2,5`` (Russian decimal comma)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:g}".replace(".", ",")


def mentoring_defaults(kb: KnowledgeBase) -> tuple[str, str, float]:
    """(education, phase, hours) of a mentoring step in this KB."""
    fmt = kb.formats.get(MENTORING_FORMAT)
    if fmt is None:
        return _MENTORING_DEFAULT
    return (fmt.education, fmt.phase, float(fmt.hours))


# --- value types ---------------------------------------------------------------


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 2)


@dataclass(frozen=True)
class Recommendation:
    """One catalogue item chosen for one or more needs of a person."""

    kind: str  # program | mentor | format
    id: str
    title: str
    competencies: tuple[str, ...]  # the served needs' competencies, ontology order
    needs: tuple[Need, ...]  # the needs it serves, in the Result's needs order
    reason: str
    attrs: tuple[tuple[str, Any], ...] = ()  # catalogue fields, e.g. hours, delivery

    @property
    def rule(self) -> str:
        """The rule of the first need it serves."""
        return self.needs[0].rule if self.needs else ""

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n.rule for n in self.needs))

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.attrs).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "competencies": list(self.competencies),
        }
        for key, value in self.attrs:
            if isinstance(value, float):
                value = _num(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        out["rule"] = self.rule
        out["rules"] = list(self.rules)
        out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Unmet:
    """A need no catalogue item serves, with the reason why."""

    need: Need
    reason: str

    def to_dict(self) -> dict[str, Any]:
        out = self.need.to_dict()
        rule = out.pop("rule")
        out["rule"] = rule
        out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve` returns: the recommendations and the unmet needs."""

    recommendations: tuple[Recommendation, ...]
    unmet: tuple[Unmet, ...]

    def of_kind(self, kind: str) -> list[Recommendation]:
        return [r for r in self.recommendations if r.kind == kind]

    def to_dicts(self) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
        return (
            tuple(r.to_dict() for r in self.recommendations),
            tuple(u.to_dict() for u in self.unmet),
        )


# --- helpers ---------------------------------------------------------------------


def _filters_text(pairs: Sequence[tuple[str, Any]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs)


class _Order:
    """Competency ids in ontology order (prerequisites first); unknown ids last."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.onto = kb.ontology

    def key(self, comp: str) -> tuple[int, str]:
        if comp in self.onto.competencies:
            return (self.onto.order_key(comp), comp)
        return (10**9, comp)

    def sort(self, comps: Sequence[str]) -> tuple[str, ...]:
        return tuple(sorted(dict.fromkeys(comps), key=self.key))


def _mismatch(attrs: Mapping[str, Any], need: Need) -> tuple[str, Any, Any] | None:
    """The first filter of ``need`` the item's ``attrs`` do not satisfy, if any.

    A filter an item kind does not have (``form`` on a programme) is not
    satisfied: an unserved filter is reported, never ignored.
    """
    for name, wanted in need.filters:
        have = attrs.get(name)
        if isinstance(have, (list, tuple, frozenset, set)):
            if wanted not in have:
                return (name, wanted, have)
        elif have != wanted:
            return (name, wanted, have)
    return None


def _program_attrs(p: Program) -> dict[str, Any]:
    return {"education": "formal", "phase": "learn", "delivery": p.delivery}


def _format_attrs(f: Format) -> dict[str, Any]:
    return {"format": f.id, "education": f.education, "phase": f.phase}


def _mismatch_text(name: str, wanted: Any, have: Any, what: str) -> str:
    if have is None:
        return f"условие {name}={wanted} неприменимо: у {what} нет признака «{name}»"
    if isinstance(have, (list, tuple)):
        have = ", ".join(str(h) for h in have)
    return f"условие {name}={wanted} не выполнено (у {what}: {have})"


# --- programmes -----------------------------------------------------------------


def _program_key(p: Program, count: int, prefs: Sequence[str]) -> tuple[int, int, int, float, str]:
    return (
        -count,
        0 if (not prefs or p.delivery in prefs) else 1,
        0 if p.federal_registry else 1,
        float(p.hours),
        p.id,
    )


def _program_versus(
    best: Program,
    alt: Program,
    kb_: tuple[int, int, int, float, str],
    ka: tuple[int, int, int, float, str],
) -> str:
    if kb_[0] != ka[0]:
        return f"охватывает больше потребностей ({-kb_[0]} против {-ka[0]})"
    if kb_[1] != ka[1]:
        return f"в запрошенной форме обучения (у {alt.id} — {DELIVERY_RU[alt.delivery]})"
    if kb_[2] != ka[2]:
        return f"входит в ФР ДПП, {alt.id} — нет"
    if kb_[3] != ka[3]:
        return f"меньше часов ({format_hours(best.hours)} против {format_hours(alt.hours)})"
    return "при равных условиях — по порядку идентификаторов"


def _resolve_programs(
    kb: KnowledgeBase,
    role: str,
    prefs: Sequence[str],
    needs: Sequence[Need],
    idx: Sequence[int],
    order: _Order,
) -> tuple[list[Recommendation], dict[int, str]]:
    programs = [kb.programs[k] for k in sorted(kb.programs)]
    fits: dict[str, set[int]] = {}
    for p in programs:
        if role not in p.audience:
            continue
        attrs = _program_attrs(p)
        matched = {
            i for i in idx if needs[i].competency in p.covers and _mismatch(attrs, needs[i]) is None
        }
        if matched:
            fits[p.id] = matched
    uncovered: set[int] = set().union(*fits.values()) if fits else set()
    unmet = {i: _program_unmet(kb, role, programs, needs[i]) for i in idx if i not in uncovered}
    recs: list[Recommendation] = []
    while uncovered:
        ranked = sorted(
            (_program_key(kb.programs[pid], len(s & uncovered), prefs), pid)
            for pid, s in fits.items()
            if s & uncovered
        )
        key, pid = ranked[0]
        best = kb.programs[pid]
        served_set = fits[pid] & uncovered
        served = sorted(served_set)
        alt = next(((k, a) for k, a in ranked[1:] if fits[a] & served_set), None)
        uncovered -= served_set
        comps = order.sort([str(needs[i].competency) for i in served])
        n = len(served)
        parts = [
            f"Покрывает {n} {plural_ru(n, 'потребность', 'потребности', 'потребностей')}"
            f" ({', '.join(comps)})"
        ]
        d = DELIVERY_RU[best.delivery]
        if not prefs:
            parts.append(f"форма обучения {d} (предпочтения не указаны)")
        elif best.delivery in prefs:
            parts.append(f"{d} форма обучения соответствует запросу")
        else:
            asked = ", ".join(DELIVERY_RU.get(x, x) for x in prefs)
            parts.append(
                f"{d} форма не запрошена (запрошена: {asked}); "
                "программ с тем же охватом в запрошенной форме нет"
            )
        parts.append("входит в ФР ДПП" if best.federal_registry else "не входит в ФР ДПП")
        parts.append(f"{format_hours(best.hours)} ч")
        if alt is None:
            parts.append("других подходящих программ нет")
        else:
            parts.append(
                f"предпочтена {alt[1]}: " + _program_versus(best, kb.programs[alt[1]], key, alt[0])
            )
        recs.append(
            Recommendation(
                kind="program",
                id=best.id,
                title=best.title,
                competencies=comps,
                needs=tuple(needs[i] for i in served),
                reason="; ".join(parts) + ".",
                attrs=(
                    ("hours", float(best.hours)),
                    ("delivery", best.delivery),
                    ("provider", best.provider),
                    ("federal_registry", best.federal_registry),
                    ("program_kind", best.kind),
                ),
            )
        )
    return recs, unmet


def _program_unmet(kb: KnowledgeBase, role: str, programs: Sequence[Program], need: Need) -> str:
    covering = [p for p in programs if need.competency in p.covers]
    if not covering:
        return "в каталоге нет программы, покрывающей компетенцию"
    for_role = [p for p in covering if role in p.audience]
    if not for_role:
        ids = ", ".join(p.id for p in covering)
        return (
            f"программы по компетенции есть ({ids}), но ни одна не предназначена "
            f"для роли «{ROLE_RU.get(role, role)}»"
        )
    reasons = []
    for p in for_role:
        bad = _mismatch(_program_attrs(p), need)
        assert bad is not None
        reasons.append(f"{p.id}: {_mismatch_text(*bad, 'программы')}")
    return "ни одна программа по компетенции не удовлетворяет условиям потребности (" + (
        "; ".join(reasons) + ")"
    )


# --- mentors ---------------------------------------------------------------------


def _mentor_attrs(m: Mentor, education: str, phase: str) -> dict[str, Any]:
    return {"form": tuple(m.forms), "education": education, "phase": phase}


def _resolve_mentors(
    kb: KnowledgeBase,
    municipality: str | None,
    needs: Sequence[Need],
    idx: Sequence[int],
    load: Mapping[str, int],
    order: _Order,
) -> tuple[list[Recommendation], dict[int, str]]:
    education, phase, _hours = mentoring_defaults(kb)
    mentors = [kb.mentors[k] for k in sorted(kb.mentors)]
    free = {m.id: m.capacity - load.get(m.id, 0) for m in mentors}
    fits: dict[str, set[int]] = {}
    for m in mentors:
        if free[m.id] <= 0:
            continue
        attrs = _mentor_attrs(m, education, phase)
        matched = {
            i
            for i in idx
            if needs[i].competency in m.strengths and _mismatch(attrs, needs[i]) is None
        }
        if matched:
            fits[m.id] = matched
    uncovered: set[int] = set().union(*fits.values()) if fits else set()
    unmet = {
        i: _mentor_unmet(mentors, free, needs[i], education, phase)
        for i in idx
        if i not in uncovered
    }
    recs: list[Recommendation] = []
    while uncovered:
        ranked = sorted(
            (
                (
                    0 if kb.mentors[mid].municipality == municipality else 1,
                    -len(s & uncovered),
                    mid,
                ),
                mid,
            )
            for mid, s in fits.items()
            if s & uncovered
        )
        k, mid = ranked[0]
        best = kb.mentors[mid]
        served_set = fits[mid] & uncovered
        served = sorted(served_set)
        alt = next(((ka, a) for ka, a in ranked[1:] if fits[a] & served_set), None)
        uncovered -= served_set
        del fits[mid]  # the person counts once: this mentor is now theirs
        comps = order.sort([str(needs[i].competency) for i in served])
        forms = tuple(
            dict.fromkeys(str(needs[i].get("form")) for i in served if needs[i].get("form"))
        )
        n = len(comps)
        head = (
            f"Наставник по компетенции {comps[0]}"
            if n == 1
            else f"Наставник по {n} компетенциям ({', '.join(comps)})"
        )
        if forms:
            head += " в форме " + ", ".join(f"«{FORM_RU.get(f, f)}»" for f in forms)
        parts = [head]
        if municipality is None:
            parts.append(
                f"муниципалитет педагога не указан; наставник из муниципалитета "
                f"«{best.municipality}»"
            )
        elif best.municipality == municipality:
            parts.append(f"тот же муниципалитет («{best.municipality}»)")
        else:
            parts.append(
                f"в муниципалитете педагога («{municipality}») подходящего наставника со "
                f"свободными местами нет; наставник из муниципалитета «{best.municipality}»"
            )
        parts.append(f"свободных мест: {free[mid]} из {best.capacity}")
        if alt is not None:
            ka, a = alt
            if ka[0] != k[0]:
                why = f"{a} — из другого муниципалитета («{kb.mentors[a].municipality}»)"
            elif ka[1] != k[1]:
                why = f"охватывает больше потребностей ({-k[1]} против {-ka[1]})"
            else:
                why = "при равных условиях — по порядку идентификаторов"
            parts.append(f"предпочтён {a}: {why}")
        recs.append(
            Recommendation(
                kind="mentor",
                id=best.id,
                title=best.name,
                competencies=comps,
                needs=tuple(needs[i] for i in served),
                reason="; ".join(parts) + ".",
                attrs=(
                    ("forms", forms),
                    ("municipality", best.municipality),
                    ("organization", best.organization),
                    ("capacity", best.capacity),
                    ("free", free[mid]),
                ),
            )
        )
    return recs, unmet


def _mentor_unmet(
    mentors: Sequence[Mentor], free: Mapping[str, int], need: Need, education: str, phase: str
) -> str:
    strong = [m for m in mentors if need.competency in m.strengths]
    if not strong:
        return "в пуле нет наставника с этой компетенцией"
    fitting = [m for m in strong if _mismatch(_mentor_attrs(m, education, phase), need) is None]
    if not fitting:
        ids = ", ".join(m.id for m in strong)
        form = need.get("form")
        if form is not None and all(form not in m.forms for m in strong):
            return (
                f"наставники по компетенции есть ({ids}), но ни один не работает "
                f"в форме «{FORM_RU.get(str(form), form)}»"
            )
        bad = _mismatch(_mentor_attrs(strong[0], education, phase), need)
        text = _mismatch_text(*bad, "наставничества") if bad else ""
        return f"наставники по компетенции есть ({ids}), но {text}"
    ids = ", ".join(m.id for m in fitting)
    return f"у подходящих наставников ({ids}) нет свободных мест"


# --- formats ---------------------------------------------------------------------


def _resolve_formats(
    kb: KnowledgeBase, needs: Sequence[Need], idx: Sequence[int], order: _Order
) -> tuple[list[Recommendation], dict[int, str]]:
    formats = [kb.formats[k] for k in sorted(kb.formats)]
    chosen: dict[str, list[int]] = {}
    how: dict[str, set[str]] = {}
    unmet: dict[int, str] = {}
    # Needs naming a format id first, so that filter-only needs can reuse them.
    for i in sorted(idx, key=lambda j: needs[j].get("format") is None):
        need = needs[i]
        named = need.get("format")
        if named is not None:
            fmt = kb.formats.get(str(named))
            if fmt is None:
                unmet[i] = f"в каталоге нет формы работы «{named}»"
                continue
            bad = _mismatch(_format_attrs(fmt), need)
            if bad is not None:
                unmet[i] = f"форма работы «{fmt.id}»: " + _mismatch_text(*bad, "формы работы")
                continue
            chosen.setdefault(fmt.id, []).append(i)
            how.setdefault(fmt.id, set()).add("названа в потребности")
            continue
        cands = [f for f in formats if _mismatch(_format_attrs(f), need) is None]
        if not cands:
            unmet[i] = (
                "в каталоге нет формы работы, удовлетворяющей условиям потребности"
                f" ({_filters_text(need.filters) or 'условий нет'})"
            )
            continue
        best = min(
            cands,
            key=lambda f: (f.id not in chosen, PHASE_ORDER.get(f.phase, 9), float(f.hours), f.id),
        )
        chosen.setdefault(best.id, []).append(i)
        ids = ", ".join(f.id for f in cands)
        how.setdefault(best.id, set()).add(
            f"подобрана по условиям ({_filters_text(need.filters) or 'без условий'})"
            f" из {len(cands)} подходящих ({ids})"
        )
    recs: list[Recommendation] = []
    for fid in sorted(chosen, key=lambda f: (PHASE_ORDER.get(kb.formats[f].phase, 9), f)):
        fmt = kb.formats[fid]
        served = sorted(chosen[fid])
        comps = order.sort([str(needs[i].competency) for i in served if needs[i].competency])
        general = any(needs[i].competency is None for i in served)
        parts = [f"Форма работы {'; '.join(sorted(how[fid]))}"]
        parts.append(
            f"{EDUCATION_RU[fmt.education]} образование, этап «{PHASE_RU[fmt.phase]}», "
            f"{LEVEL_RU[fmt.level]} уровень"
        )
        scope = []
        if comps:
            n = len(comps)
            scope.append(
                f"{format_hours(fmt.hours)} ч по каждой из {n} "
                f"{plural_ru(n, 'компетенции', 'компетенций', 'компетенций')}"
                if n > 1
                else f"{format_hours(fmt.hours)} ч по компетенции {comps[0]}"
            )
        if general:
            scope.append(f"{format_hours(fmt.hours)} ч — общий шаг маршрута")
        parts.extend(scope)
        recs.append(
            Recommendation(
                kind="format",
                id=fmt.id,
                title=fmt.title,
                competencies=comps,
                needs=tuple(needs[i] for i in served),
                reason="; ".join(parts) + ".",
                attrs=(
                    ("hours", float(fmt.hours)),
                    ("education", fmt.education),
                    ("phase", fmt.phase),
                    ("level", fmt.level),
                ),
            )
        )
    return recs, unmet


# --- entry point -------------------------------------------------------------------


def resolve(
    kb: KnowledgeBase,
    profile: Profile,
    needs: Sequence[Need],
    *,
    mentor_load: Mapping[str, int] | None = None,
) -> Resolution:
    """Choose catalogue items for ``needs`` (a Result's needs, in its order).

    ``mentor_load`` (mentor id -> mentees already taken, e.g. earlier in a
    cohort) lowers the free capacity; by default every mentor has their full
    capacity. Pure: the same arguments give the same Resolution.
    """
    if not isinstance(kb, KnowledgeBase):
        raise TypeError(f"resolve() needs a KnowledgeBase, not {type(kb).__name__}")
    if not isinstance(profile, Profile):
        raise TypeError(
            f"resolve() needs a validated Profile (see parse_profile), not {type(profile).__name__}"
        )
    load = dict(mentor_load or {})
    for mid, taken in load.items():
        if not isinstance(taken, int) or isinstance(taken, bool) or taken < 0:
            raise ValueError(f"mentor_load[{mid!r}] must be a non-negative integer, not {taken!r}")
    needs = list(needs)
    for n in needs:
        if not isinstance(n, Need):
            raise TypeError(f"resolve() needs Need objects, not {type(n).__name__}")
    order = _Order(kb)
    by_kind: dict[str, list[int]] = {"program": [], "mentor": [], "format": []}
    unmet: dict[int, str] = {}
    for i, n in enumerate(needs):
        if n.kind in by_kind:
            by_kind[n.kind].append(i)
        else:
            unmet[i] = f"неизвестный вид потребности «{n.kind}»"
    person = profile.person
    programs, u1 = _resolve_programs(
        kb, person.role, list(profile.preferences.delivery), needs, by_kind["program"], order
    )
    mentors, u2 = _resolve_mentors(kb, person.municipality, needs, by_kind["mentor"], load, order)
    formats, u3 = _resolve_formats(kb, needs, by_kind["format"], order)
    unmet.update(u1)
    unmet.update(u2)
    unmet.update(u3)
    return Resolution(
        recommendations=(*programs, *mentors, *formats),
        unmet=tuple(Unmet(needs[i], unmet[i]) for i in sorted(unmet)),
    )
