"""Exports (JSON, Markdown, HTML, Mermaid, DOT), the route command and the examples."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, load_kb, parse_profile
from deficit_engine import outputs as outputs_module
from deficit_engine.cli import main
from deficit_engine.export import COLUMNS, FORMATS, render
from deficit_engine.profile import read_profile_file
from test_resolve import ROUTE_PROFILE, write_route_kb

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
EXTENSIONS = {"json": "json", "md": "md", "html": "html", "mermaid": "mmd", "dot": "dot"}


def _rendered(fmt: str, kb_dir: Path | None, profile: dict[str, Any]) -> str:
    kb = load_kb(kb_dir)
    parsed = parse_profile(profile, kb)
    result = Engine(kb, backend="python").evaluate(parsed)
    return render(fmt, kb, parsed, result)


# --- the ИОМ document -----------------------------------------------------------------------


def test_markdown_document_has_every_part() -> None:
    profile = read_profile_file(EXAMPLES / "young_teacher.yaml")
    text = _rendered("md", None, profile)
    assert text.startswith("# Индивидуальный образовательный маршрут (ИОМ) педагога\n")
    for label in (
        "| Должность | Учитель |",
        "| Стаж педагогической работы | 2 года |",
        "| Образовательная организация | МБОУ СОШ № 1 с. Анучино |",
        "| Муниципалитет | Анучинский МО |",
        "| Период реализации ИОМ | сентябрь 2026 – май 2027 |",
        "| Тьютор (ЦНППМ) | ________________ |",
        "| Наставник | Наставник 18 (МБОУ СОШ с. Яковлевка, Яковлевский МО) |",
    ):
        assert label in text, label
    assert "| " + " | ".join(COLUMNS) + " |" in text
    assert COLUMNS == (
        "Дефицит",
        "Задачи",
        "Содержание",
        "Формы и ресурсы",
        "Вид образования",
        "Сроки",
        "Ответственный",
        "Планируемый результат",
        "Форма отчётности",
        "Отметка о выполнении",
    )
    assert "| СОГЛАСОВАНО | УТВЕРЖДАЮ |" in text
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    assert sections == [
        "1. Результаты диагностики",
        "2. Индивидуальный образовательный маршрут",
        "3. Календарный план",
        "4. Неудовлетворённые потребности",
        "5. Обоснование выбора",
        "6. Повторная диагностика",
        "7. Подписи",
    ]
    assert "| **Методические компетенции** |" in text  # the summary by group
    assert "| Компетенция | Результат до | Результат после | Вывод |" in text
    assert text.rstrip().endswith("Дата: «____» ____________ 20___ г.")
    assert text.count("(подпись) / (расшифровка подписи)") == 2 + 4  # approval, signatures
    # every table row has as many cells as its header
    for block in re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M):
        rows = block.strip().split("\n")
        widths = {len(re.split(r"(?<!\\)\|", r)) for r in rows}
        assert len(widths) == 1, rows[0]


def test_markdown_and_html_escape_what_they_show(tmp_path: Path) -> None:
    profile = {
        **ROUTE_PROFILE,
        "person": {
            **ROUTE_PROFILE["person"],
            "organization": 'Школа <b>"№ 1"</b> | & Co',
        },
    }
    kb_dir = write_route_kb(tmp_path / "kb")
    md = _rendered("md", kb_dir, profile)
    # Markdown passes raw HTML through: the tags and the ampersand are entities there too
    assert 'Школа &lt;b&gt;"№ 1"&lt;/b&gt; \\| &amp; Co' in md
    assert "<b>" not in md
    html = _rendered("html", kb_dir, profile)
    assert "Школа &lt;b&gt;&#34;№ 1&#34;&lt;/b&gt; | &amp; Co" in html
    assert '<b>"№' not in html


class _Balanced(HTMLParser):
    VOID = frozenset({"meta", "br", "col", "link", "img", "hr", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()


@pytest.mark.parametrize("name", ["young_teacher", "no_deficits"])
def test_html_is_self_contained_well_formed_and_a4_landscape(name: str) -> None:
    html = _rendered("html", None, read_profile_file(EXAMPLES / f"{name}.yaml"))
    assert html.startswith('<!DOCTYPE html>\n<html lang="ru">')
    assert "@page { size: A4 landscape;" in html
    assert '<meta charset="utf-8">' in html
    for outside in ("http://", "https://", "<script", "<link", "src=", "url("):
        assert outside not in html
    parser = _Balanced()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    assert {"table", "thead", "tbody", "th", "td", "h1", "h2"} <= parser.tags
    if name == "no_deficits":
        assert "<p>Маршрут не содержит шагов.</p>" in html
    else:
        for column in COLUMNS:
            assert f"<th>{column}</th>" in html


# --- the graph ---------------------------------------------------------------------------------


def test_mermaid_and_dot_draw_every_step_and_edge(tmp_path: Path) -> None:
    kb_dir = write_route_kb(tmp_path / "kb")
    result = Engine.from_path(kb_dir, backend="python").evaluate(ROUTE_PROFILE)
    assert result.route is not None
    steps = result.route.steps
    edges = {(p, s.id) for s in steps for p in s.after}
    mermaid = _rendered("mermaid", kb_dir, ROUTE_PROFILE)
    assert mermaid.splitlines()[0] == "flowchart TD"
    assert set(re.findall(r"^  (s\d+)[\[(]", mermaid, flags=re.M)) == {s.id for s in steps}
    assert set(re.findall(r"^  (s\d+) --> (s\d+)$", mermaid, flags=re.M)) == edges
    # labels never hold a raw quote (it would end the label)
    for label in re.findall(r'^  s\d+\(?\["(.*)"\]\)?$', mermaid, flags=re.M):
        assert '"' not in label
    dot = _rendered("dot", kb_dir, ROUTE_PROFILE)
    assert dot.startswith('digraph "ИОМ R-1" {') and dot.rstrip().endswith("}")
    assert set(re.findall(r"^  (s\d+) \[", dot, flags=re.M)) == {s.id for s in steps}
    assert set(re.findall(r"^  (s\d+) -> (s\d+);$", dot, flags=re.M)) == edges


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_reads_the_dot(tmp_path: Path) -> None:
    titles = """\
programs:
  - {id: P-Q, title: 'Кавычки " и \\ обратная черта <тег>', kind: advanced_training, hours: 16, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [method.b]}
"""
    kb_dir = write_route_kb(tmp_path / "kb", {"ontology/programs.yaml": titles})
    dot = _rendered("dot", kb_dir, ROUTE_PROFILE)
    out = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "Кавычки &quot; и \\ обратная черта &lt;тег&gt;" in out.stdout
    mermaid = _rendered("mermaid", kb_dir, ROUTE_PROFILE)
    assert "Кавычки #quot; и \\ обратная черта #lt;тег#gt;" in mermaid


def test_no_steps_still_renders() -> None:
    profile = read_profile_file(EXAMPLES / "no_deficits.yaml")
    assert "Шагов нет" in _rendered("mermaid", None, profile)
    assert _rendered("dot", None, profile).count("->") == 0
    md = _rendered("md", None, profile)
    assert "Профессиональных дефицитов по результатам диагностики не выявлено." in md


def test_json_is_the_whole_result_with_the_trace() -> None:
    profile = read_profile_file(EXAMPLES / "young_teacher.yaml")
    data = json.loads(_rendered("json", None, profile))
    assert list(data) == [
        "profile",
        "deficits",
        "needs",
        "facts",
        "recommendations",
        "unmet",
        "route",
        "provenance",
        "kb_hash",
        "kb_version",
        "trace",
    ]
    step = data["route"]["steps"][0]
    for key in ("id", "kind", "ref", "competencies", "education", "phase", "start", "end"):
        assert key in step
    assert {"hours", "after"} <= set(step)


def test_every_renderer_is_deterministic(tmp_path: Path) -> None:
    kb_dir = write_route_kb(tmp_path / "kb")
    for fmt in FORMATS:
        assert _rendered(fmt, kb_dir, ROUTE_PROFILE) == _rendered(fmt, kb_dir, ROUTE_PROFILE)
    kb = load_kb(kb_dir)
    profile = parse_profile(ROUTE_PROFILE, kb)
    result = Engine(kb, backend="python").evaluate(profile)
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render("pdf", kb, profile, result)


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text((EXAMPLES / "young_teacher.yaml").read_text("utf-8"), "utf-8")
    return path


def test_route_command_prints_each_format(
    profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["route", str(profile_file), "--backend", "python"]) == 0
    assert capsys.readouterr().out.startswith("# Индивидуальный образовательный маршрут")
    for fmt, head in (
        ("json", "{"),
        ("html", "<!DOCTYPE html>"),
        ("mermaid", "flowchart TD"),
        ("dot", "digraph"),
    ):
        assert main(["route", str(profile_file), "--format", fmt, "--backend", "python"]) == 0
        assert capsys.readouterr().out.startswith(head)


def test_route_writes_the_file_whole(profile_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "iom.md"
    out.write_text("old", "utf-8")
    assert main(["route", str(profile_file), "-o", str(out), "--backend", "python"]) == 0
    assert out.read_text("utf-8").startswith("# Индивидуальный образовательный маршрут")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iom.md", "profile.yaml"]


def test_route_leaves_the_old_file_when_rendering_fails(
    profile_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "iom.md"
    out.write_text("old", "utf-8")

    def boom(*args: Any) -> str:
        raise RuntimeError("renderer broke")

    monkeypatch.setattr("deficit_engine.export.render", boom)
    assert main(["route", str(profile_file), "-o", str(out), "--backend", "python"]) == 3
    assert out.read_text("utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iom.md", "profile.yaml"]
    assert "renderer broke" in capsys.readouterr().err


def test_route_leaves_no_partial_file_when_writing_fails(
    profile_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "iom.md"
    out.write_text("old", "utf-8")

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs_module.os, "replace", full_disk)
    assert main(["route", str(profile_file), "-o", str(out), "--backend", "python"]) == 2
    assert out.read_text("utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iom.md", "profile.yaml"]
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"deficit-engine: error: -o {out}: cannot write: No space left on device"]


@pytest.mark.parametrize("target", ["missing-dir/iom.md", "."])
def test_route_to_an_unwritable_path_exits_2_with_one_line(
    profile_file: Path,
    tmp_path: Path,
    target: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = str(tmp_path / target)
    assert main(["route", str(profile_file), "-o", dest, "--backend", "python"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"deficit-engine: error: -o {dest}: ")


def test_route_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err.strip().endswith("nope.yaml: no such file")
    assert main(["route", str(EXAMPLES / "young_teacher.yaml"), "--format", "pdf"]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: X\nperson: {role: teacher, experience_years: -1}\n", "utf-8")
    assert main(["route", str(bad)]) == 2
    assert "person.experience_years" in capsys.readouterr().err


# --- the examples stay true ----------------------------------------------------------------------


def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def test_there_are_the_six_examples() -> None:
    names = {p.stem for p in _examples()}
    assert {
        "young_teacher",
        "burnout_risk",
        "school_manager",
        "methodist",
        "teacher_requests",
        "no_deficits",
    } <= names
    readme = (EXAMPLES / "README.md").read_text("utf-8")
    for name in names:
        assert f"{name}.yaml" in readme


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.stem)
@pytest.mark.parametrize("fmt", FORMATS)
def test_committed_example_matches_a_fresh_render(example: Path, fmt: str, tmp_path: Path) -> None:
    committed = example.with_suffix("." + EXTENSIONS[fmt])
    out = tmp_path / committed.name
    assert main(["route", str(example), "--format", fmt, "-o", str(out)]) == 0
    assert committed.is_file(), f"{committed.name} is missing: see examples/README.md"
    assert out.read_bytes() == committed.read_bytes(), (
        f"{committed.name} is stale: regenerate the examples (examples/README.md)"
    )
