"""The resolver: which programmes, mentors and formats serve which needs, and why.

An authored knowledge base (written here, as an outside methodologist would)
pins every choice docs/route.md describes; each test says
which rule of the contract it checks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, load_kb, parse_profile
from deficit_engine.labels import plural_ru
from deficit_engine.models import Need
from deficit_engine.resolve import Resolution, resolve

# --- the authored KB ---------------------------------------------------------------

ROUTE_KB: dict[str, str] = {
    "ontology/competencies.yaml": """\
groups:
  - {id: base, title: Базовые, standard: [A/01.6]}
  - {id: method, title: Методические, standard: [A/01.6]}
  - {id: digital, title: Цифровые, standard: [A/01.6]}
competencies:
  - {id: base.a, group: base, title: Основы, standard: [A/01.6]}
  - {id: method.b, group: method, title: Урок, standard: [A/01.6], requires: [base.a]}
  - {id: method.c, group: method, title: Оценивание, standard: [A/01.6], requires: [method.b]}
  - {id: digital.d, group: digital, title: Среда, standard: [A/01.6]}
  - {id: digital.e, group: digital, title: Дистант, standard: [A/01.6], requires: [digital.d]}
  - {id: digital.f, group: digital, title: Контент, standard: [A/01.6]}
  - {id: digital.x, group: digital, title: ИИ, standard: [A/01.6]}
""",
    "ontology/scale.yaml": """\
levels:
  - {id: critical, title: Критический, below: 30}
  - {id: low, title: Низкий, below: 50}
  - {id: partial, title: Недостаточный, below: 75}
  - {id: proficient, title: Достаточный}
""",
    "ontology/formats.yaml": """\
formats:
  - {id: seminar, title: Семинар, education: non_formal, level: regional, phase: learn, hours: 6}
  - {id: internship, title: Стажировка, education: non_formal, level: regional, phase: practice, hours: 16}
  - {id: community, title: Сетевое сообщество, education: informal, level: regional, phase: share, hours: 10}
  - {id: club, title: Педагогический клуб, education: informal, level: municipal, phase: share, hours: 4}
  - {id: self_education, title: Самообразование, education: informal, level: institutional, phase: learn, hours: 12}
  - {id: mentoring, title: Наставничество, education: informal, level: institutional, phase: practice, hours: 10}
  - {id: rediagnosis, title: Повторная диагностика, education: non_formal, level: regional, phase: reflect, hours: 2}
""",
    "ontology/programs.yaml": """\
programs:
  - {id: P-AB, title: Основы и урок, kind: advanced_training, hours: 36, delivery: in_person, provider: ЦНППМ, federal_registry: false, audience: [teacher], covers: [base.a, method.b]}
  - {id: P-A, title: Основы, kind: advanced_training, hours: 16, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [base.a]}
  - {id: P-B, title: Урок, kind: advanced_training, hours: 16, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [method.b]}
  - {id: P-C1, title: Оценивание очно-заочно, kind: advanced_training, hours: 24, delivery: blended, provider: ККИПК, federal_registry: true, audience: [teacher], covers: [method.c]}
  - {id: P-C2, title: Оценивание дистанционно, kind: advanced_training, hours: 24, delivery: distance, provider: ККИПК, federal_registry: false, audience: [teacher], covers: [method.c]}
  - {id: P-D1, title: Среда (ФР), kind: advanced_training, hours: 36, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [digital.d]}
  - {id: P-D2, title: Среда, kind: advanced_training, hours: 36, delivery: distance, provider: ЦНППМ, federal_registry: false, audience: [teacher], covers: [digital.d]}
  - {id: P-E1, title: Дистант длинный, kind: advanced_training, hours: 24, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [digital.e]}
  - {id: P-E2, title: Дистант короткий, kind: advanced_training, hours: 18, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [digital.e]}
  - {id: P-E3, title: Дистант короткий (дубль), kind: advanced_training, hours: 18, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [digital.e]}
  - {id: P-X, title: ИИ для руководителей, kind: advanced_training, hours: 36, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [manager], covers: [digital.x]}
""",
    "ontology/mentors.yaml": """\
mentors:
  - {id: M-1, name: Наставник 1, municipality: Анучинский МО, organization: Школа 1, strengths: [method.b, method.c], forms: [young_specialist], capacity: 1}
  - {id: M-2, name: Наставник 2, municipality: Спасский МО, organization: Школа 2, strengths: [method.b, method.c, digital.d], forms: [young_specialist], capacity: 3}
  - {id: M-3, name: Наставник 3, municipality: Анучинский МО, organization: Школа 3, strengths: [digital.d], forms: [young_specialist], capacity: 0}
  - {id: M-4, name: Наставник 4, municipality: Анучинский МО, organization: Школа 4, strengths: [digital.e], forms: [group], capacity: 2}
""",
    "rules/10_route.yaml": """\
ruleset: route
rules:
  - id: D-CRIT
    title: Ниже 30 % — критический дефицит
    priority: 30
    when:
      - result: {level: critical}
    then:
      - deficit: {competency: $result.competency, severity: critical}
  - id: D-LOW
    title: 30–49 % — выраженный дефицит
    priority: 20
    when:
      - result: {level: low}
    then:
      - deficit: {competency: $result.competency, severity: high}
  - id: D-PART
    title: 50–74 % — умеренный дефицит
    priority: 10
    when:
      - result: {level: partial}
    then:
      - deficit: {competency: $result.competency, severity: moderate}
  - id: N-PROGRAM
    title: Критический или выраженный дефицит — программа
    when:
      - deficit: {severity: {in: [critical, high]}}
    then:
      - need: {kind: program, competency: $deficit.competency, education: formal}
  - id: N-MENTOR
    title: Молодой педагог с дефицитом — наставник молодого специалиста
    when:
      - person: {experience_years: {lt: 3}}
      - deficit: {}
    then:
      - need: {kind: mentor, competency: $deficit.competency, form: young_specialist}
  - id: N-INTERNSHIP
    title: Дефицит — стажировка
    when:
      - deficit: {}
    then:
      - need: {kind: format, format: internship, competency: $deficit.competency, education: non_formal, phase: practice}
  - id: N-SHARE
    title: Умеренный дефицит — трансляция опыта в информальной форме (подбор по условиям)
    when:
      - deficit: {severity: moderate}
    then:
      - need: {kind: format, competency: $deficit.competency, education: informal, phase: share}
  - id: N-SEMINAR
    title: Группа на критическом уровне — семинар для всей группы
    when:
      - group_result: {level: critical}
    then:
      - need: {kind: format, format: seminar}
  - id: N-REDIAG
    title: Дефицит — повторная диагностика
    priority: -10
    when:
      - deficit: {}
    then:
      - need: {kind: format, format: rediagnosis, competency: $deficit.competency, education: non_formal, phase: reflect}
""",
}

#: A young teacher in Анучинский МО who asks for distance learning.
ROUTE_PROFILE: dict[str, Any] = {
    "id": "R-1",
    "person": {"role": "teacher", "experience_years": 1, "municipality": "Анучинский МО"},
    "preferences": {
        "delivery": ["distance"],
        "hours_per_month": 16,
        "period": {"start": "2026-09", "end": "2027-05"},
    },
    "results": [
        {"competency": "base.a", "score": 20},  # critical
        {"competency": "method.b", "score": 40},  # high
        {"competency": "method.c", "score": 45},  # high
        {"competency": "digital.d", "score": 20},  # critical
        {"competency": "digital.e", "score": 40},  # high
        {"competency": "digital.f", "score": 60},  # moderate
        {"competency": "digital.x", "score": 10},  # critical
    ],
}


def write_route_kb(root: Path, files: dict[str, str] | None = None) -> Path:
    for name, text in {**ROUTE_KB, **(files or {})}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def route_kb(tmp_path: Path) -> Path:
    return write_route_kb(tmp_path / "route_kb")


def _resolve(kb_dir: Path, profile: dict[str, Any], needs: list[Need], **kw: Any) -> Resolution:
    kb = load_kb(kb_dir)
    return resolve(kb, parse_profile(profile, kb), needs, **kw)


def _profile(**person: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"role": "teacher", "experience_years": 1}
    base.update(person)
    return {"id": "P", "person": base}


def program(comp: str, rule: str = "R", **filters: str) -> Need:
    return Need("program", comp, (("education", "formal"), *filters.items()), rule)


def mentor(comp: str, form: str = "young_specialist", rule: str = "R") -> Need:
    return Need("mentor", comp, (("form", form),), rule)


def fmt(comp: str | None, rule: str = "R", **filters: str) -> Need:
    return Need("format", comp, tuple(filters.items()), rule)


def ids(res: Resolution, kind: str) -> list[str]:
    return [r.id for r in res.of_kind(kind)]


# --- the whole authored KB through the engine --------------------------------------------


def test_authored_kb_gets_exactly_what_the_contract_implies(route_kb: Path) -> None:
    result = Engine.from_path(route_kb, backend="python").evaluate(ROUTE_PROFILE)
    recs = {(r.kind, r.id): r for r in result.recommendations}
    # Programmes, in greedy order: one programme for two deficits (P-AB); then, one
    # need each, by the requested delivery, ФР and hours: P-E2 (distance, ФР, 18 h),
    # P-D1 (distance, ФР, 36 h), P-C2 (distance, not ФР; P-C1 is blended). P-X is
    # for managers only.
    assert [r.id for r in result.recommendations if r.kind == "program"] == [
        "P-AB",
        "P-E2",
        "P-D1",
        "P-C2",
    ]
    assert recs[("program", "P-AB")].competencies == ("base.a", "method.b")
    # Mentors: one per form. b, c and d are all young_specialist needs: M-2 serves
    # all three (M-1, in the same municipality, only b and c); M-3 has no free
    # place; M-4 works in another form.
    assert [r.id for r in result.recommendations if r.kind == "mentor"] == ["M-2"]
    assert recs[("mentor", "M-2")].competencies == ("digital.d", "method.b", "method.c")
    # Formats: by id (seminar has no competency), and by filters (club: informal
    # share, fewer hours than the community).
    assert [r.id for r in result.recommendations if r.kind == "format"] == [
        "seminar",
        "internship",
        "club",
        "rediagnosis",
    ]
    assert recs[("format", "seminar")].competencies == ()
    assert recs[("format", "club")].competencies == ("digital.f",)
    unmet = {(u.kind, u.competency): u.reason for u in result.unmet}
    assert unmet == {
        ("program", "digital.x"): (
            "программы по компетенции есть (P-X), но ни одна не предназначена для роли «учитель»"
        ),
        ("mentor", "base.a"): "в пуле нет наставника с этой компетенцией",
        ("mentor", "digital.e"): (
            "наставники по компетенции есть (M-4), но ни один не работает в форме "
            "«наставник – молодой специалист»"
        ),
        ("mentor", "digital.f"): "в пуле нет наставника с этой компетенцией",
        ("mentor", "digital.x"): "в пуле нет наставника с этой компетенцией",
    }
    # Every recommendation names the rule that asked for it and a reason.
    for rec in result.recommendations:
        assert rec.rule and rec.reason and rec.rule in rec.rules
    assert recs[("program", "P-AB")].rule == "N-PROGRAM"
    assert recs[("mentor", "M-2")].rule == "N-MENTOR"
    # Every need is served by a recommendation or reported unmet, never both or neither.
    served = {(r.kind, c) for r in result.recommendations for c in r.competencies or (None,)}
    for need in result.needs:
        key = (need.kind, need.competency)
        assert (key in served) != (key in unmet), key


# --- programmes ------------------------------------------------------------------------


def test_one_programme_covering_two_needs_beats_two_programmes(route_kb: Path) -> None:
    """Criterion 1: P-AB covers both needs, though P-A and P-B are each ФР and shorter."""
    res = _resolve(route_kb, _profile(), [program("base.a"), program("method.b")])
    assert ids(res, "program") == ["P-AB"]
    reason = res.recommendations[0].reason
    assert reason.startswith("Покрывает 2 потребности (base.a, method.b)")
    assert "охватывает больше потребностей (2 против 1)" in reason


def test_requested_delivery_beats_the_registry(route_kb: Path) -> None:
    """Criterion 2 before 3: P-C2 (distance, not ФР) over P-C1 (blended, ФР) when distance is asked."""
    profile = {**_profile(), "preferences": {"delivery": ["distance"]}}
    res = _resolve(route_kb, profile, [program("method.c")])
    assert ids(res, "program") == ["P-C2"]
    assert "дистанционная форма обучения соответствует запросу" in res.recommendations[0].reason
    assert "в запрошенной форме обучения (у P-C1 — смешанная)" in res.recommendations[0].reason


def test_without_a_delivery_preference_the_registry_decides(route_kb: Path) -> None:
    """Criterion 3: with no preference P-C1 (ФР) wins over P-C2."""
    res = _resolve(route_kb, _profile(), [program("method.c")])
    assert ids(res, "program") == ["P-C1"]
    assert "предпочтения не указаны" in res.recommendations[0].reason
    assert "входит в ФР ДПП, P-C2 — нет" in res.recommendations[0].reason


def test_fewer_hours_then_id(route_kb: Path) -> None:
    """Criteria 4 and 5: P-E2 (18 h) over P-E1 (24 h); P-E2 over its twin P-E3 by id."""
    res = _resolve(route_kb, _profile(), [program("digital.e")])
    assert ids(res, "program") == ["P-E2"]
    assert "при равных условиях — по порядку идентификаторов" in res.recommendations[0].reason
    kb = load_kb(route_kb)
    without_twin = {k: v for k, v in kb.programs.items() if k != "P-E3"}
    kb = dataclasses.replace(kb, programs=without_twin)  # the KB is frozen: a variant is a new KB
    res = resolve(kb, parse_profile(_profile(), kb), [program("digital.e")])
    assert "меньше часов (18 против 24)" in res.recommendations[0].reason


def test_the_index_is_built_once_per_kb(route_kb: Path) -> None:
    """KnowledgeBase.index is cached on the (frozen) KB; a variant is a new KB with its own."""
    kb = load_kb(route_kb)
    assert kb.index is kb.index
    variant = dataclasses.replace(kb, programs={})
    assert variant.index is not kb.index and variant.index.programs == []
    assert [p.id for p in kb.index.programs] == sorted(kb.programs)


def test_audience_excludes_other_roles(route_kb: Path) -> None:
    """Only programmes whose audience includes the role: P-X is for managers."""
    res = _resolve(route_kb, _profile(), [program("digital.x")])
    assert res.recommendations == ()
    assert "ни одна не предназначена для роли «учитель»" in res.unmet[0].reason
    res = _resolve(route_kb, _profile(role="manager"), [program("digital.x")])
    assert ids(res, "program") == ["P-X"]


def test_need_filters_bind_programmes(route_kb: Path) -> None:
    """A need's own filters are hard: delivery=blended admits only P-C1; a form
    (which programmes do not have) admits none, and the reason names the filter."""
    res = _resolve(route_kb, _profile(), [program("method.c", delivery="in_person")])
    assert res.recommendations == ()
    assert "условие delivery=in_person не выполнено (у программы: blended)" in res.unmet[0].reason
    res = _resolve(route_kb, _profile(), [program("method.c", form="group")])
    assert "условие form=group неприменимо: у программы нет признака «form»" in res.unmet[0].reason
    res = _resolve(
        route_kb,
        {**_profile(), "preferences": {"delivery": ["distance"]}},
        [program("method.c", delivery="blended")],
    )
    assert ids(res, "program") == ["P-C1"]


def test_no_programme_covers_the_competency(route_kb: Path) -> None:
    res = _resolve(route_kb, _profile(), [program("digital.f")])
    assert [u.reason for u in res.unmet] == ["в каталоге нет программы, покрывающей компетенцию"]
    assert res.unmet[0].to_dict() == {
        "kind": "program",
        "competency": "digital.f",
        "education": "formal",
        "rule": "R",
        "reason": "в каталоге нет программы, покрывающей компетенцию",
        "cause": "catalogue",
    }


# --- mentors ----------------------------------------------------------------------------


def test_one_mentor_per_form_the_one_serving_most(route_kb: Path) -> None:
    """One form, one mentor: M-2 serves all three needs, M-1 (same municipality) two."""
    needs = [mentor("method.b"), mentor("method.c"), mentor("digital.d")]
    res = _resolve(route_kb, _profile(municipality="Анучинский МО"), needs)
    assert ids(res, "mentor") == ["M-2"]
    (m2,) = res.recommendations
    assert m2.competencies == ("digital.d", "method.b", "method.c")
    assert m2.get("forms") == ("young_specialist",)
    assert "выбран вместо M-1: охватывает больше потребностей" in m2.reason
    assert res.unmet == ()


def test_equal_needs_same_municipality_first(route_kb: Path) -> None:
    """M-1 and M-2 both serve b and c: M-1, in the person's municipality, wins."""
    needs = [mentor("method.b"), mentor("method.c")]
    res = _resolve(route_kb, _profile(municipality="Анучинский МО"), needs)
    assert ids(res, "mentor") == ["M-1"]
    reason = res.recommendations[0].reason
    assert "тот же муниципалитет («Анучинский МО»)" in reason
    assert "выбран вместо M-2: другой муниципалитет" in reason


def test_severity_outweighs_the_count(route_kb: Path) -> None:
    """A critical need weighs 8, two low ones 2: the mentor of the critical one wins."""
    needs = [mentor("method.b"), mentor("method.c"), mentor("digital.d")]
    kb = load_kb(route_kb)
    res = resolve(
        kb,
        parse_profile(_profile(municipality="Анучинский МО"), kb),
        needs,
        severities={"digital.d": "critical"},
    )
    assert ids(res, "mentor") == ["M-2"]  # serves d (8) + b + c: 10 against M-1's 2


def test_each_form_its_own_mentor(route_kb: Path) -> None:
    """Needs in two forms are two units: each gets its own mentor (or is unmet)."""
    needs = [mentor("method.b"), mentor("digital.e", form="group")]
    res = _resolve(route_kb, _profile(municipality="Анучинский МО"), needs)
    assert ids(res, "mentor") == ["M-1", "M-4"]
    assert [r.get("forms") for r in res.recommendations] == [("young_specialist",), ("group",)]


def test_one_mentor_per_form_leaves_the_rest_unmet(route_kb: Path) -> None:
    """digital.d and method.b: M-2 serves both; with M-2 full, M-1 serves b and d is
    unmet, since a second mentor in the same form is not appointed."""
    needs = [mentor("method.b"), mentor("digital.d")]
    res = _resolve(route_kb, _profile(municipality="Анучинский МО"), needs)
    assert ids(res, "mentor") == ["M-2"]
    res = _resolve(route_kb, _profile(municipality="Анучинский МО"), needs, mentor_load={"M-2": 3})
    assert ids(res, "mentor") == ["M-1"]
    assert res.unmet[0].competency == "digital.d"
    assert "у подходящих наставников" in res.unmet[0].reason


def test_capacity_zero_is_never_recommended(route_kb: Path) -> None:
    """M-3 is the only nearby mentor for digital.d but has no place: M-2 is chosen."""
    res = _resolve(route_kb, _profile(municipality="Анучинский МО"), [mentor("digital.d")])
    assert ids(res, "mentor") == ["M-2"]


def test_mentor_load_takes_places(route_kb: Path) -> None:
    """With M-1's only place taken (a cohort), M-2 serves; with all taken, unmet."""
    needs = [mentor("method.b")]
    res = _resolve(route_kb, _profile(municipality="Анучинский МО"), needs, mentor_load={"M-1": 1})
    assert ids(res, "mentor") == ["M-2"]
    res = _resolve(route_kb, _profile(), needs, mentor_load={"M-1": 1, "M-2": 3})
    assert res.recommendations == ()
    assert res.unmet[0].reason == "у подходящих наставников (M-1, M-2) нет свободных мест"
    with pytest.raises(ValueError, match="non-negative"):
        _resolve(route_kb, _profile(), needs, mentor_load={"M-1": -1})


def test_mentor_form_must_match(route_kb: Path) -> None:
    res = _resolve(route_kb, _profile(), [mentor("digital.e")])
    assert "не работает в форме «наставник – молодой специалист»" in res.unmet[0].reason
    res = _resolve(route_kb, _profile(), [mentor("digital.e", form="group")])
    assert ids(res, "mentor") == ["M-4"]
    assert "в форме «групповое наставничество»" in res.recommendations[0].reason


def test_one_mentor_counts_the_person_once(route_kb: Path) -> None:
    """M-1 has one place and serves both of this person's needs it qualifies for."""
    res = _resolve(
        route_kb,
        _profile(municipality="Анучинский МО"),
        [mentor("method.b"), mentor("method.c", rule="R2")],
    )
    assert ids(res, "mentor") == ["M-1"]
    assert res.recommendations[0].rules == ("R", "R2")
    assert res.recommendations[0].to_dict()["free"] == 1


# --- formats ------------------------------------------------------------------------------


def test_formats_by_id_and_by_filters(route_kb: Path) -> None:
    res = _resolve(
        route_kb,
        _profile(),
        [
            fmt("digital.f", education="informal", phase="share"),
            fmt("digital.d", format="internship", phase="practice"),
            fmt(None, format="seminar"),
        ],
    )
    assert ids(res, "format") == ["seminar", "internship", "club"]
    club = res.recommendations[2]
    assert "подобрана по условиям (education=informal, phase=share) из 2 подходящих" in club.reason
    assert res.recommendations[0].competencies == ()


def test_a_format_already_chosen_is_reused(route_kb: Path) -> None:
    """A filter-only need takes a format another need already uses (community) over a shorter one."""
    res = _resolve(
        route_kb,
        _profile(),
        [
            fmt("digital.d", format="community"),
            fmt("digital.f", education="informal", phase="share"),
        ],
    )
    assert ids(res, "format") == ["community"]
    assert res.recommendations[0].competencies == ("digital.d", "digital.f")


def test_unserved_format_needs(route_kb: Path) -> None:
    res = _resolve(
        route_kb,
        _profile(),
        [
            fmt("digital.d", format="internship", phase="learn"),
            fmt("digital.d", education="formal", phase="share"),
            fmt("digital.d", format="club", delivery="distance"),
        ],
    )
    assert res.recommendations == ()
    reasons = [u.reason for u in res.unmet]
    assert reasons == [
        "форма работы «internship»: условие phase=learn не выполнено (у формы работы: practice)",
        "в каталоге нет формы работы, удовлетворяющей условиям потребности "
        "(education=formal, phase=share)",
        "форма работы «club»: условие delivery=distance неприменимо: "
        "у формы работы нет признака «delivery»",
    ]


# --- the shipped KB ---------------------------------------------------------------------------


def test_shipped_kb_leaves_the_documented_gaps_unmet() -> None:
    """digital.ai and functional_literacy.global have no programme and no mentor;
    subject.olympiad has no programme (but has a mentor)."""
    kb = load_kb()
    profile = parse_profile(_profile(municipality="Анучинский МО", subjects=["mathematics"]), kb)
    needs = [
        program(c) for c in ("digital.ai", "functional_literacy.global", "subject.olympiad")
    ] + [mentor(c, form="competency_pair") for c in ("digital.ai", "subject.olympiad")]
    res = resolve(kb, profile, needs)
    assert ids(res, "mentor") == ["M-004"]
    assert [(u.need.kind, u.need.competency) for u in res.unmet] == [
        ("program", "digital.ai"),
        ("program", "functional_literacy.global"),
        ("program", "subject.olympiad"),
        ("mentor", "digital.ai"),
    ]


def test_misuse_is_named() -> None:
    kb = load_kb()
    with pytest.raises(TypeError, match="KnowledgeBase"):
        resolve("kb", parse_profile(_profile(), kb), [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="validated Profile"):
        resolve(kb, _profile(), [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Need objects"):
        resolve(kb, parse_profile(_profile(), kb), [{"kind": "program"}])  # type: ignore[list-item]


def test_plural_ru() -> None:
    forms = ("потребность", "потребности", "потребностей")
    assert [plural_ru(n, *forms) for n in (1, 2, 5, 11, 12, 21, 22, 25, 111)] == [
        "потребность",
        "потребности",
        "потребностей",
        "потребностей",
        "потребностей",
        "потребность",
        "потребности",
        "потребностей",
        "потребностей",
    ]
