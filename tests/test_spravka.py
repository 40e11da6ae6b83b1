"""The аналитическая справка: BatchSummary's breakdowns and ``report --format
table|json|html|xlsx``, ``-o`` and ``--against`` on generated cohorts (no real people)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from deficit_engine import load_kb
from deficit_engine.cli import main
from deficit_engine.cohort import BatchSummary, Digest, PersonKeys, experience_band
from deficit_engine.months import month_range
from deficit_engine.spravka import DEFAULT_GROUP_SIZE, group_size
from deficit_engine.synthetic import synthetic_profiles

SIZE, SEED = 160, 23


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


@pytest.fixture(scope="module")
def cohort() -> list[dict[str, Any]]:
    return list(synthetic_profiles(load_kb(), SIZE, seed=SEED, max_results=12))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, cohort: list[dict[str, Any]]) -> Path:
    """A planned batch of the generated cohort."""
    folder = tmp_path_factory.mktemp("spravka")
    _write_jsonl(folder / "cohort.jsonl", cohort)
    assert (
        main(["batch", str(folder / "cohort.jsonl"), "-o", str(folder / "out"), "--workers", "1"])
        == 0
    )
    return folder / "out"


@pytest.fixture(scope="module")
def improved(tmp_path_factory: pytest.TempPathFactory, cohort: list[dict[str, Any]]) -> Path:
    """The same cohort diagnosed again, every score halfway closer to its maximum."""
    folder = tmp_path_factory.mktemp("improved")
    better = json.loads(json.dumps(cohort))
    for profile in better:
        for result in profile.get("results", []):
            top = result.get("max", 100)
            result["score"] = round(result["score"] + (top - result["score"]) / 2, 2)
    _write_jsonl(folder / "cohort.jsonl", better)
    assert (
        main(["batch", str(folder / "cohort.jsonl"), "-o", str(folder / "out"), "--workers", "1"])
        == 0
    )
    return folder / "out"


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["report", *args]) == 0
    return capsys.readouterr().out


def _tables(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, Any]]:
    report = json.loads(_report(capsys, *args, "--format", "json"))["report"]
    return {t["key"]: t for t in report["tables"]}


def _column(table: dict[str, Any], title: str) -> int:
    return [c["title"] for c in table["columns"]].index(title)


# --- BatchSummary ----------------------------------------------------------------


def test_experience_bands_take_their_lower_bound() -> None:
    assert [experience_band(y) for y in (0, 2.99, 3, 9.5, 10, 19.9, 20, 45)] == [
        "0–3",
        "0–3",
        "3–10",
        "3–10",
        "10–20",
        "10–20",
        "20+",
        "20+",
    ]
    assert experience_band(None) == "—"


def _digest(deficits: tuple[tuple[str, str, str | None], ...], reason: str = "") -> Digest:
    kinds = ("program",) if reason else ()
    return Digest(True, "p", (), "{}", deficits, (), (), bool(reason), reason, kinds, False)


def test_summary_breaks_people_down_by_each_dimension() -> None:
    summary = BatchSummary()
    a = PersonKeys("Город", "Школа 1", "teacher", 3.0)
    b = PersonKeys("Город", "Школа 2", "manager", 25.0)
    summary.add(_digest((("c1", "high", "g1"), ("c2", "critical", "g1")), "hours"), a)
    summary.add(_digest((("c3", "low", "g2"),)), b)
    summary.add(_digest(()), PersonKeys())  # assessed, no deficit, nothing known of them
    summary.add(Digest(False, "bad", ("x",), "", (), (), (), False), a)  # set aside: not counted
    assert (summary.evaluated, summary.set_aside, summary.with_deficit) == (3, 1, 2)
    assert summary.worst_severity == Counter({"critical": 1, "low": 1})
    towns = {e["key"]: e for e in summary.breakdowns["municipality"].to_dict()}
    assert towns["Город"] == {
        "key": "Город",
        "people": 2,
        "with_deficit": 2,
        "groups": {"g1": 1, "g2": 1},  # a person counts once per group
        "competencies": {"c1": 1, "c2": 1, "c3": 1},
    }
    assert towns["—"]["people"] == 1 and towns["—"]["with_deficit"] == 0
    bands = {e["key"]: e["people"] for e in summary.breakdowns["experience"].to_dict()}
    assert bands == {"3–10": 1, "20+": 1, "—": 1}
    roles = {e["key"]: e["groups"] for e in summary.breakdowns["role"].to_dict()}
    assert roles["teacher"] == {"g1": 1} and roles["manager"] == {"g2": 1}
    assert "competencies" not in summary.breakdowns["organization"].to_dict()[0]
    assert (summary.overflow, summary.overflow_reasons["hours"]) == (1, 1)
    assert summary.overflow_kinds == Counter({"program": 1})
    summary.add(_digest(()), "Село")  # a municipality alone still counts (older callers)
    assert summary.people_by_municipality["Село"] == 1


# --- the batch's summary against its results --------------------------------------


def test_breakdowns_agree_with_the_results_and_the_input(
    run: Path, cohort: list[dict[str, Any]]
) -> None:
    kb = load_kb()
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    people = {p["id"]: p["person"] for p in cohort}
    results = _jsonl(run / "results.jsonl")
    expected: dict[str, Counter[tuple[str, str]]] = {k: Counter() for k in summary["breakdowns"]}
    with_deficit = 0
    for r in results:
        person = people[r["profile"]]
        keys = {
            "municipality": person.get("municipality") or "—",
            "organization": person.get("organization") or "—",
            "role": person["role"],
            "experience": experience_band(person["experience_years"]),
        }
        groups = {kb.ontology.competencies[d["competency"]].group for d in r["deficits"]}
        with_deficit += bool(r["deficits"])
        for name, key in keys.items():
            expected[name][(key, "")] += 1
            expected[name].update((key, g) for g in groups)
    assert summary["with_deficit"] == with_deficit
    for name, entries in summary["breakdowns"].items():
        shown: Counter[tuple[str, str]] = Counter()
        for e in entries:
            shown[(e["key"], "")] += e["people"]
            shown.update({(e["key"], g): n for g, n in e["groups"].items()})
        assert shown == expected[name], name
    assert len(summary["breakdowns"]["experience"]) >= 3
    assert sum(n for _s, n in summary["severity_people"]) == with_deficit


def test_overflow_reasons_agree_with_the_routes(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    reasons: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for r in _jsonl(run / "results.jsonl"):
        route = r["route"]
        if not route or not route["overflow"]:
            continue
        period = route["period"]
        budget = len(month_range(period["start"], period["end"])) * route["hours_per_month"]
        needed = sum(s["hours"] for s in route["steps"])
        reasons["hours" if needed > budget else "calendar"] += 1
        late = set(route["overflow"]["steps"])
        kinds.update({s["kind"] for s in route["steps"] if s["id"] in late})
    assert sum(reasons.values()) == summary["routes_over_period"] > 0
    assert dict(summary["overflow_reasons"]) == dict(reasons)
    assert dict(summary["overflow_step_kinds"]) == dict(kinds)


# --- the report's tables -----------------------------------------------------------


def test_json_tables_carry_titles_counts_and_percents(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = load_kb()
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    tables = _tables(capsys, str(run))
    assessed = summary["evaluated"]
    for key in (
        "overview",
        "prevalence",
        "groups",
        "severity",
        "municipalities",
        "heatmap",
        "municipality_competency",
        "by_organization",
        "by_role",
        "by_experience",
        "programme_demand",
        "catalogue_request",
        "unmet",
        "mentor_load",
        "capacity_shortfalls",
        "team_support",
        "overflow",
    ):
        assert key in tables and tables[key]["rows"], key

    # titles, not ids, with both the count and its percent
    (ref, count), *_ = summary["deficit_prevalence"]
    first = tables["prevalence"]["rows"][0]
    competency = kb.ontology.competencies[ref]
    assert first[:3] == [competency.title, kb.ontology.groups[competency.group].title, count]
    assert first[3] == round(100 * count / assessed, 1)

    # the heat map: a municipality's share with a deficit in each group
    heat = tables["heatmap"]
    town = next(e for e in summary["breakdowns"]["municipality"] if e["key"] != "—")
    row = next(r for r in heat["rows"] if r[0] == town["key"])
    for group, n in town["groups"].items():
        at = _column(heat, kb.ontology.groups[group].title)
        assert row[at] == round(100 * n / town["people"], 1)

    # roles in Russian, experience bands in their order
    assert "учитель" in [r[0] for r in tables["by_role"]["rows"]]
    bands = [r[0] for r in tables["by_experience"]["rows"]]
    assert bands == [b for b in ("0–3", "3–10", "10–20", "20+", "—") if b in bands]

    # programme demand: groups of the KB's size, none below the minimum group
    demand = tables["programme_demand"]
    for title, ref, people, _hours, size, groups, floor in demand["rows"]:
        assert title == kb.programs[ref].title
        assert (size, floor) == group_size(kb, ref)
        assert groups == (math.ceil(people / size) if people >= floor else 0)
    sized = [r for r in demand["rows"] if kb.programs[r[1]].groups]
    assert any(r[4] != DEFAULT_GROUP_SIZE for r in sized) or not sized

    # severity: deficits per severity add up, and people by their worst
    severity = tables["severity"]
    assert sum(r[1] for r in severity["rows"]) == sum(n for _k, n in summary["deficit_severity"])
    assert sum(r[3] for r in severity["rows"]) == summary["with_deficit"]
    assert severity["rows"][0][0] == "критический"

    # the request for new ДПП in its own table, and routes over their period with why
    request = {r[1]: r for r in tables["catalogue_request"]["rows"]}
    assert request["digital.ai"][0] == kb.ontology.competencies["digital.ai"].title
    overflow = tables["overflow"]
    assert (
        overflow["rows"][0][1]
        + sum(r[1] for r in overflow["rows"][1:] if not r[0].startswith(("выходит", "период")))
        == summary["routes_over_period"]
    )


def test_table_format_shows_the_new_parts(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _report(capsys, str(run), "--top", "1000")
    for heading in (
        "Распределение дефицитов по степени выраженности",
        "Муниципалитет × группа компетенций",
        "Дефициты по организациям",
        "Дефициты по должностям",
        "Дефициты по стажу",
        "Маршруты, не умещающиеся в период",
    ):
        assert heading in text, heading
    assert "% оценённых" in text and "размер группы" in text
    assert "часов маршрута больше, чем даёт период" in text


# --- HTML --------------------------------------------------------------------------


class _Dom(HTMLParser):
    """The elements of a page, as (tag, attributes, text inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def tags(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.elements
            if t == tag
            and all(a.get(k) == v or (a.get(k) or "").split().count(v) for k, v in attrs.items())
        ]


def _chromium() -> str | None:
    return next(
        (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
    )


def _alpha(style: str) -> float:
    """The alpha of a heat cell's ``rgba(...)`` background."""
    return float(style.rpartition(",")[2].strip(" );"))


def _check_dom(dom: _Dom, tables: dict[str, dict[str, Any]]) -> None:
    keys = [a["data-key"] for a in dom.tags("table")]
    assert keys == list(tables)  # every table, in order
    rows = {k: len(t["rows"]) for k, t in tables.items()}
    charts = {a["data-key"]: a for a in dom.tags("svg")}
    assert {"prevalence", "groups", "severity", "municipalities"} <= set(charts)
    assert len(dom.tags("rect")) == sum(min(15, rows[k]) for k in charts)
    heat = dom.tags("td", **{"class": "heat"})
    assert heat and all("background" in (a.get("style") or "") for a in heat)
    # the darker, the larger the share: alpha grows with the value
    shade = sorted((float(a["data-value"] or 0), _alpha(a.get("style") or "")) for a in heat)
    assert shade[0][0] < shade[-1][0] and shade[0][1] < shade[-1][1]
    assert [s for _v, s in shade] == sorted(s for _v, s in shade)
    assert dom.tags("h1") and "Аналитическая справка" in "".join(dom.text)


def test_html_is_one_self_contained_file(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "spravka.html"
    assert main(["report", str(run), "--format", "html", "-o", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    for outside in ("http://", "https://", "<script", "<link", " src=", "@import"):
        assert outside not in text, outside
    dom = _Dom()
    dom.feed(text)
    _check_dom(dom, _tables(capsys, str(run)))


def test_html_renders_in_headless_chromium(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("DEFICIT_ENGINE_REQUIRE_BROWSER"):  # .ci/run sets it: never skip there
            pytest.fail("no chromium binary on PATH, and .ci/run requires one")
        pytest.skip("no chromium binary on PATH (CI installs Debian's chromium)")
    page = tmp_path / "spravka.html"
    assert main(["report", str(run), "--format", "html", "-o", str(page)]) == 0
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Dom()
    dom.feed(done.stdout)  # the DOM as the browser built it
    _check_dom(dom, _tables(capsys, str(run)))


# --- XLSX --------------------------------------------------------------------------


def test_xlsx_has_a_sheet_per_table_with_numbers(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = _tables(capsys, str(run))
    book_path = tmp_path / "spravka.xlsx"
    assert main(["report", str(run), "--format", "xlsx", "-o", str(book_path)]) == 0
    book = load_workbook(book_path)
    assert len(book.worksheets) == len(tables)
    for sheet, table in zip(book.worksheets, tables.values(), strict=True):
        assert sheet.freeze_panes == "A3"
        assert sheet["A1"].value == table["title"]
        assert [c.value for c in sheet[2]] == [c["title"] for c in table["columns"]]
        for n, row in enumerate(table["rows"]):
            cells = sheet[3 + n]
            for cell, value, column in zip(cells, row, table["columns"], strict=False):
                if column["kind"] == "pct" and value is not None:
                    assert cell.number_format == "0.0%"
                    assert cell.value == pytest.approx(value / 100)
                elif column["kind"] == "int" and value is not None:
                    assert isinstance(cell.value, int) and cell.value == value
    prevalence = book["По компетенциям"]
    assert isinstance(prevalence["C3"].value, int) and isinstance(prevalence["D3"].value, float)


def test_output_file_is_whole_or_nothing_and_xlsx_needs_one(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["report", str(run), "--format", "xlsx"]) == 2
    assert "--format xlsx writes a file: name it with -o FILE" in capsys.readouterr().err
    assert (
        main(["report", str(run), "-o", str(tmp_path / "none" / "r.html"), "--format", "html"]) == 2
    )
    assert "cannot write" in capsys.readouterr().err
    kept = tmp_path / "kept.xlsx"
    kept.write_bytes(b"old")

    def broken(self: object, fmt: str, top: int) -> bytes:
        raise OSError(28, "No space left on device")

    import deficit_engine.spravka as spravka

    monkeypatch.setattr(spravka.Spravka, "render", broken)
    assert main(["report", str(run), "--format", "xlsx", "-o", str(kept)]) == 3
    assert kept.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "kept.xlsx"
    ]


# --- --against and older summaries -------------------------------------------------


def test_against_shows_prevalence_falling_after_better_scores(
    run: Path, improved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = load_kb()
    before = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    after = json.loads((improved / "summary.json").read_text(encoding="utf-8"))
    table = _tables(capsys, str(improved), "--against", str(run))["against"]
    rows = {r[0]: r for r in table["rows"]}
    overall = rows["Любой дефицит"]
    assert overall[1] == before["with_deficit"] and overall[3] == after["with_deficit"]
    assert overall[5] < 0
    was = dict(before["deficit_prevalence"])
    now = dict(after["deficit_prevalence"])
    fell = rose = 0
    for ref in {*was, *now}:
        _title, n_was, pct_was, n_now, pct_now, change = rows[kb.ontology.competencies[ref].title]
        assert (n_was, n_now) == (was.get(ref, 0), now.get(ref, 0))
        assert pct_was == round(100 * n_was / before["evaluated"], 1)
        assert change == round(pct_now - pct_was, 1)
        fell += change < 0
        rose += change > 0
    assert fell > 0 and fell > 3 * rose
    text = _report(capsys, str(improved), "--against", str(run))
    assert text.splitlines()[2] == table["title"]  # the comparison comes first
    assert main(["report", str(improved), "--against", str(run / "missing")]) == 2


def test_an_older_summary_still_reports_in_every_format(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    newer = (
        "breakdowns",
        "with_deficit",
        "severity_people",
        "overflow_reasons",
        "overflow_step_kinds",
        "overflow_defaulted",
        "plan",
        "unmet_by_cause",
    )
    old = tmp_path / "old"
    old.mkdir()
    older = {k: v for k, v in summary.items() if k not in newer}
    (old / "summary.json").write_text(json.dumps(older, ensure_ascii=False), encoding="utf-8")
    tables = _tables(capsys, str(old))
    assert "heatmap" not in tables and "by_role" not in tables
    assert tables["prevalence"]["rows"] and tables["overflow"]["rows"][0][0].startswith(
        "причина не"
    )
    assert main(["report", str(old), "--format", "html", "-o", str(tmp_path / "o.html")]) == 0
    assert main(["report", str(old), "--format", "xlsx", "-o", str(tmp_path / "o.xlsx")]) == 0
    assert "Дефициты по стажу" not in _report(capsys, str(old))
    # and as the earlier run of a comparison
    assert (
        _tables(capsys, str(run), "--against", str(old))["against"]["rows"][0][1]
        == summary["with_deficit"]
    )
