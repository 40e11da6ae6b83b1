"""The ИОМ document (issue 13, §4): templates a KB may replace, the region's form, no
engine ids in what is signed, step texts from the KB, marks, role-aware wording."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, KnowledgeBaseError, ProfileError, load_kb, parse_profile
from deficit_engine.cli import main
from deficit_engine.export import COLUMNS, build_document, render
from deficit_engine.kb import KnowledgeBase
from deficit_engine.loader import check_kb
from deficit_engine.models import Result, StepMark
from deficit_engine.profile import read_profile_file
from deficit_engine.schema import Profile
from test_resolve import ROUTE_PROFILE, write_route_kb

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def _evaluate(kb: KnowledgeBase, profile: dict[str, Any]) -> tuple[Profile, Result]:
    parsed = parse_profile(profile, kb)
    return parsed, Engine(kb, backend="python").evaluate(parsed)


def _render(fmt: str, kb: KnowledgeBase, profile: dict[str, Any], **kw: Any) -> str:
    parsed, result = _evaluate(kb, profile)
    return render(fmt, kb, parsed, result, **kw)


@pytest.fixture(scope="module")
def shipped() -> KnowledgeBase:
    return load_kb()


def _engine_ids(kb: KnowledgeBase) -> set[str]:
    """Every id of the KB a reader must never see in a signed document."""
    onto = kb.ontology
    return {
        *onto.competencies,
        *onto.groups,
        *onto.indicators,
        *kb.formats,
        *kb.programs,
        *kb.mentors,
        *(r.id for r in kb.rules),
    }


def _ids_in(text: str, ids: set[str]) -> set[str]:
    """The ids that occur in ``text`` as whole tokens (not inside a longer word or id)."""
    tokens = set(re.findall(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z0-9_]", text))
    return tokens & ids


# --- templates a KB may replace --------------------------------------------------------------


def test_a_kb_template_changes_the_document_without_code(tmp_path: Path) -> None:
    own_md = """\
{% extends "base/iom.md.j2" %}
{% block approval %}
УТВЕРЖДАЮ: директор краевого института, приказ № ____
{% endblock %}
"""
    kb_dir = write_route_kb(tmp_path / "kb", {"templates/iom.md.j2": own_md})
    kb = load_kb(kb_dir)
    assert kb.templates == kb_dir / "templates"
    md = _render("md", kb, ROUTE_PROFILE)
    assert "УТВЕРЖДАЮ: директор краевого института, приказ № ____" in md
    assert "| СОГЛАСОВАНО | УТВЕРЖДАЮ |" not in md  # the packaged block is replaced
    assert "| " + " | ".join(COLUMNS) + " |" in md  # the rest is the packaged form
    # no iom.html.j2 in the KB: the packaged one is used
    html = _render("html", kb, ROUTE_PROFILE)
    assert '<table class="approval">' in html
    # a whole template of the region's own, with a column order of its choosing
    own_html = (
        "<html><body><h1>{{ doc.title }}</h1><table>"
        "{% for row in doc.rows %}{% for s in row.steps %}"
        "<tr><td>{{ s.period }}</td><td>{{ s.forms|lines }}</td></tr>"
        "{% endfor %}{% endfor %}</table></body></html>\n"
    )
    write_route_kb(kb_dir, {"templates/iom.html.j2": own_html})
    html = _render("html", load_kb(kb_dir), ROUTE_PROFILE)
    assert html.startswith("<html><body><h1>Индивидуальный образовательный маршрут (ИОМ) педагога")
    assert "approval" not in html and html.count("<tr>") >= 3


def test_kb_text_in_a_kb_template_is_still_escaped(tmp_path: Path) -> None:
    own = "{% for row in doc.header %}{{ row[1] }}\n{% endfor %}"
    kb_dir = write_route_kb(
        tmp_path / "kb", {"templates/iom.md.j2": own, "templates/iom.html.j2": own}
    )
    profile = {**ROUTE_PROFILE, "person": {**ROUTE_PROFILE["person"], "organization": "<b>[x](y)"}}
    kb = load_kb(kb_dir)
    assert "&lt;b&gt;[x]\\(y)" in _render("md", kb, profile)
    assert "&lt;b&gt;[x](y)" in _render("html", kb, profile)


def test_a_broken_template_is_named_by_check_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb_dir = write_route_kb(
        tmp_path / "kb", {"templates/iom.md.j2": "# {{ doc.title }}\n\n{% for x in %}\n"}
    )
    kb, issues = check_kb(kb_dir)
    assert kb is None
    [issue] = [i for i in issues if i.severity == "error"]
    assert (Path(issue.file).name, issue.line, issue.code) == ("iom.md.j2", 3, "template-syntax")
    assert main(["check", "--kb", str(kb_dir)]) == 1
    assert "iom.md.j2:3:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("template", "line", "words"),
    [
        ("# {{ doc.title }}\n\n{{ doc.no_such_part }}\n", 3, "no_such_part"),
        ("# {{ doc.title }}\n{{ doc.title|no_such_filter }}\n", 2, "no_such_filter"),
        ('{% include "missing.md.j2" %}\n', 1, "missing.md.j2"),
        ("{{ doc.__class__.__mro__ }}\n", 1, "__class__"),
    ],
)
def test_a_template_failing_to_render_is_a_kb_error_at_its_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    template: str,
    line: int,
    words: str,
) -> None:
    kb_dir = write_route_kb(tmp_path / "kb", {"templates/iom.md.j2": template})
    kb = load_kb(kb_dir)  # the syntax is right: the KB loads
    with pytest.raises(KnowledgeBaseError) as caught:
        _render("md", kb, ROUTE_PROFILE)
    [issue] = caught.value.issues
    assert Path(issue.file).name == "iom.md.j2" and issue.line == line
    assert words in issue.message
    profile = tmp_path / "p.yaml"
    profile.write_text(json.dumps(ROUTE_PROFILE, ensure_ascii=False), "utf-8")
    out = tmp_path / "iom.md"
    assert main(["route", str(profile), "--kb", str(kb_dir), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"iom.md.j2:{line}:" in err and "Traceback" not in err
    assert not out.exists()  # nothing half-written


def test_a_templates_file_instead_of_a_folder_is_an_error(tmp_path: Path) -> None:
    kb_dir = write_route_kb(tmp_path / "kb", {"templates": "not a folder"})
    kb, issues = check_kb(kb_dir)
    assert kb is None
    assert [(Path(i.file).name, i.code) for i in issues if i.severity == "error"] == [
        ("templates", "not-a-folder")
    ]


# --- step texts from the KB ------------------------------------------------------------------


def test_step_texts_come_from_the_programme_entry_else_the_phase(tmp_path: Path) -> None:
    kb_dir = write_route_kb(tmp_path / "kb")
    _parsed, result = _evaluate(load_kb(kb_dir), ROUTE_PROFILE)
    assert result.route is not None
    programmes = [s.ref for s in result.route.steps if s.kind == "program"]
    assert len(programmes) >= 2
    chosen, other = str(programmes[0]), str(programmes[1])
    texts = "tasks: Задача от составителей, result: Итог от составителей, "
    texts += "report_form: Отчётность от составителей, "
    programs = (kb_dir / "ontology" / "programs.yaml").read_text("utf-8")
    enriched = programs.replace(f"{{id: {chosen}, ", f"{{id: {chosen}, {texts}")
    assert enriched != programs
    write_route_kb(kb_dir, {"ontology/programs.yaml": enriched})
    kb = load_kb(kb_dir)
    md = _render("md", kb, ROUTE_PROFILE)
    row = next(line for line in md.splitlines() if kb.programs[chosen].title in line)
    assert "Задача от составителей" in row
    assert "| Итог от составителей | Отчётность от составителей |" in row
    other_row = next(
        line
        for line in md.splitlines()
        if f"ДПП «{kb.programs[other].title}»" in line and line is not row
    )
    assert "Итог от составителей" not in other_row
    assert "Удостоверение о повышении квалификации" in other_row


def test_the_overflow_warning_names_months_and_numbers_steps(shipped: KnowledgeBase) -> None:
    md = _render("md", shipped, read_profile_file(EXAMPLES / "burnout_risk.yaml"))
    [warning] = [line for line in md.splitlines() if line.startswith("> **Внимание.**")]
    assert "в период январь – июнь 2027 при 12 ч в месяц" in warning
    assert re.search(r"за период выход\w+ шаги? \d+(, \d+)*\.$", warning), warning


def test_planned_results_differ_by_kind_of_step(shipped: KnowledgeBase) -> None:
    md = _render("md", shipped, read_profile_file(EXAMPLES / "young_teacher.yaml"))
    route = md.split("## 2.")[1].split("## 3.")[0]
    planned = [row.split(" | ")[7] for row in route.splitlines() if row.startswith("| ")][2:]
    assert len(set(planned)) >= 4, planned


# --- marks, the result after, role-aware wording ------------------------------------------------


def test_marks_and_results_after_fill_the_tenth_column(shipped: KnowledgeBase) -> None:
    profile = read_profile_file(EXAMPLES / "young_teacher.yaml")
    marks = {
        "s1": StepMark.make("s1", "done", "2026-10-30", "удостоверение № 25-0017"),
        "s2": StepMark.make("s2", "skipped"),
    }
    after = {"s1": "Формирующее оценивание: 30 % → 70 %"}
    md = _render("md", shipped, profile, marks=marks, after=after)
    step1 = next(line for line in md.splitlines() if "Шаг 1. " in line)
    assert step1.endswith(
        "| выполнено 30.10.2026<br>удостоверение № 25-0017<br>"
        "Результат после: Формирующее оценивание: 30 % → 70 % |"
    )
    assert next(line for line in md.splitlines() if "Шаг 2. " in line).endswith("| не выполнено |")
    plain = _render("md", shipped, profile)
    assert "выполнено" not in plain and "Результат после:" not in plain
    html = _render("html", shipped, profile, marks=marks, after=after)
    assert "<td>выполнено 30.10.2026<br>удостоверение № 25-0017<br>" in html


def test_a_managers_document_speaks_of_the_manager(shipped: KnowledgeBase) -> None:
    profile = read_profile_file(EXAMPLES / "school_manager.yaml")
    profile["requests"] = ["management.team"]
    md = _render("md", shipped, profile)
    assert md.startswith("# Индивидуальный образовательный маршрут (ИОМ) руководителя\n")
    assert "Запросы руководителя: " in md
    assert "педагога" not in md
    assert "Руководитель муниципального органа управления образованием" in md


# --- no engine ids in the signed document ------------------------------------------------------


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_no_engine_id_in_the_markdown(shipped: KnowledgeBase, example: Path) -> None:
    md = _render("md", shipped, read_profile_file(example))
    assert _ids_in(md, _engine_ids(shipped)) == set()
    assert not re.search(r"\b(education|delivery|form|phase)=", md)
    # months in words and steps by number, as in the rest of the document
    assert not re.search(r"\b\d{4}-\d{2}\b", md)
    assert not re.search(r"\bs\d+\b", md)


class _Page(HTMLParser):
    """The text a reader sees (no style), the route table's header, the approval
    block's and the signatures' text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.route_header: list[str] = []
        self.approval: list[str] = []
        self.signatures: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("br", "col", "meta"):
            self.stack.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def within(self, tag: str, cls: str) -> bool:
        return any(t == tag and cls in c.split() for t, c in self.stack)

    def handle_data(self, data: str) -> None:
        if any(t in ("style", "title") for t, _c in self.stack):
            return
        self.text.append(data)
        if self.within("table", "route") and any(t == "th" for t, _c in self.stack):
            self.route_header.append(data)
        if self.within("table", "approval"):
            self.approval.append(data)
        if self.within("table", "signatures"):
            self.signatures.append(data)


def _check_page(page: _Page, kb: KnowledgeBase, signatures: int) -> None:
    assert page.route_header == list(COLUMNS) and len(COLUMNS) == 10
    approval = " ".join(page.approval)
    assert "СОГЛАСОВАНО" in approval and "УТВЕРЖДАЮ" in approval
    assert approval.count("(подпись) / (расшифровка подписи)") == 2
    labels = [t for t in page.signatures if t.strip()]
    assert labels.count("(подпись)") == signatures
    assert labels.count("(расшифровка подписи)") == signatures
    # each signer's line is followed by its captions
    for i, text in enumerate(labels):
        if text not in ("(подпись)", "(расшифровка подписи)"):
            assert labels[i + 1 : i + 3] == ["(подпись)", "(расшифровка подписи)"], text
    assert _ids_in(" ".join(page.text), _engine_ids(kb)) == set()


@pytest.mark.parametrize("name", ["young_teacher", "school_manager", "burnout_risk"])
def test_html_has_the_regional_form_and_no_engine_ids(shipped: KnowledgeBase, name: str) -> None:
    page = _Page()
    page.feed(_render("html", shipped, read_profile_file(EXAMPLES / f"{name}.yaml")))
    _check_page(page, shipped, 4)


def _chromium() -> str | None:
    return next(
        (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
    )


def test_html_in_headless_chromium_has_the_form_and_no_engine_ids(
    shipped: KnowledgeBase, tmp_path: Path
) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("DEFICIT_ENGINE_REQUIRE_BROWSER"):  # .ci/run sets it: never skip there
            pytest.fail("no chromium binary on PATH, and .ci/run requires one")
        pytest.skip("no chromium binary on PATH (CI installs Debian's chromium)")
    page_file = tmp_path / "iom.html"
    page_file.write_text(
        _render("html", shipped, read_profile_file(EXAMPLES / "young_teacher.yaml")), "utf-8"
    )
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page_file.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    page = _Page()
    page.feed(done.stdout)  # the DOM as the browser built it
    _check_page(page, shipped, 4)


def test_the_header_shows_the_person_fields_the_profile_has(shipped: KnowledgeBase) -> None:
    parsed, result = _evaluate(shipped, read_profile_file(EXAMPLES / "young_teacher.yaml"))
    bare = dict(build_document(shipped, parsed, result).header)
    for label in ("Квалификационная категория", "Тема самообразования", "Образование"):
        assert label not in bare
    # the fields as a profile carries them, validated by the profile's schema
    data = read_profile_file(EXAMPLES / "young_teacher.yaml")
    data["person"].update(
        {
            "category": "first",
            "education": "высшее, ДВФУ, учитель математики",
            "last_course": "2025-04-18",
            "self_education_topic": "Формирующее оценивание на уроках математики",
        }
    )
    parsed, result = _evaluate(shipped, data)
    header = dict(build_document(shipped, parsed, result).header)
    assert header["Квалификационная категория"] == "первая"
    assert header["Образование"] == "высшее, ДВФУ, учитель математики"
    assert header["Дата последнего повышения квалификации"] == "18.04.2025"
    assert header["Тема самообразования"] == "Формирующее оценивание на уроках математики"
    assert header["ФИО"] == "________________"
    data["person"]["last_course"] = "весна 2025"
    with pytest.raises(ProfileError, match=r"person\.last_course"):
        parse_profile(data, shipped)


def test_reasons_are_shown_in_words_not_ids(shipped: KnowledgeBase) -> None:
    parsed, result = _evaluate(shipped, read_profile_file(EXAMPLES / "young_teacher.yaml"))
    assert result.unmet
    first = result.unmet[0]
    programme = next(iter(shipped.programs.values()))
    reason = (
        f"подобрана по условиям (education=formal, form=young_specialist); "
        f"выбрана вместо {programme.id}: охватывает digital.ai."
    )
    changed = dataclasses.replace(result, unmet=(dataclasses.replace(first, reason=reason),))
    [(_kind, _comp, _conds, shown)] = build_document(shipped, parsed, changed).unmet
    assert shown == (
        "Подобрана по условиям (вид образования: формальное, форма наставничества: "
        f"«наставник – молодой специалист»); выбрана вместо «{programme.title}»: "
        f"охватывает «{shipped.ontology.competencies['digital.ai'].title}»."
    )


def test_an_mms_methodists_route_is_approved_by_the_service(shipped: KnowledgeBase) -> None:
    md = _render("md", shipped, read_profile_file(EXAMPLES / "methodist.yaml"))
    assert md.startswith("# Индивидуальный образовательный маршрут (ИОМ) методиста\n")
    approval = md.split("| СОГЛАСОВАНО | УТВЕРЖДАЮ |")[1].splitlines()[2]
    assert approval == "| Тьютор ЦНППМ | Руководитель муниципальной методической службы |"
    assert "Руководитель образовательной организации" not in md


def test_the_content_names_the_kind_of_standard(shipped: KnowledgeBase) -> None:
    # a manager's competencies rest on the ЕКС (order 761н), not on a профстандарт
    manager = _render("md", shipped, read_profile_file(EXAMPLES / "school_manager.yaml"))
    assert "Основание: ЕКС, приказ № 761н" in manager
    assert (
        "Профстандарт: ЕКС" not in manager and "Профстандарт, трудовые функции: ЕКС" not in manager
    )
    teacher = _render("md", shipped, read_profile_file(EXAMPLES / "young_teacher.yaml"))
    assert "Профстандарт, трудовые функции: A/" in teacher
