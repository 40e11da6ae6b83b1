"""Issue 17, hostile inputs to routes, documents and ``check``: bounded time, escaped text.

Each test feeds an input an attacker (or a careless author) could write and
expects one clear error or an inert rendering, never a hang, a memory blow-up
or raw HTML passed through.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from conftest import MINI, write_kb
from deficit_engine import (
    Engine,
    KnowledgeBaseError,
    ProfileError,
    check_kb,
    load_kb,
    parse_profile,
)
from deficit_engine.cli import main
from deficit_engine.export import render
from deficit_engine.months import (
    LAST_PERIOD_YEAR,
    MAX_PERIOD_MONTHS,
    month_index,
    month_range,
    months_label,
)
from deficit_engine.rules.parse import MAX_ANY_COMBINATIONS
from test_resolve import ROUTE_KB, ROUTE_PROFILE, write_route_kb

T = TypeVar("T")

#: Seconds any case here may take: each finishes in well under one once fixed,
#: and without the fix it runs for minutes (so the alarm, not the CI, stops it).
DEADLINE = 20


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail the test when the block runs longer than ``seconds`` (instead of hanging)."""

    def expire(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"took over {seconds} s: unbounded work")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _timed(fn: Callable[[], T]) -> T:
    with _deadline(DEADLINE):
        return fn()


def _profile(period: dict[str, str], **person: str) -> dict[str, Any]:
    return {
        **ROUTE_PROFILE,
        "person": {**ROUTE_PROFILE["person"], **person},
        "preferences": {**ROUTE_PROFILE["preferences"], "period": period},
    }


# --- the period: bounded, and months compared as numbers ------------------------------------


def test_period_ending_in_year_9999_is_one_profile_error(tmp_path: Path) -> None:
    kb = load_kb(write_route_kb(tmp_path / "kb"))
    with pytest.raises(ProfileError) as err:
        parse_profile(_profile({"start": "2026-09", "end": "9999-12"}), kb)
    (issue,) = err.value.issues
    assert issue.path == "preferences.period"
    assert f"outside the years 2000–{LAST_PERIOD_YEAR}" in issue.message


def test_period_longer_than_ten_years_is_refused_and_ten_years_is_not(tmp_path: Path) -> None:
    kb = load_kb(write_route_kb(tmp_path / "kb"))
    with pytest.raises(ProfileError) as err:
        parse_profile(_profile({"start": "2026-01", "end": "2036-01"}), kb)
    (issue,) = err.value.issues
    assert issue.path == "preferences.period"
    assert f"121 months long; at most {MAX_PERIOD_MONTHS}" in issue.message
    ten_years = parse_profile(_profile({"start": "2026-01", "end": "2035-12"}), kb)
    assert ten_years.preferences.period is not None


def test_route_md_with_a_far_period_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb_dir = write_route_kb(tmp_path / "kb")
    path = tmp_path / "far.yaml"
    path.write_text(
        yaml.safe_dump(_profile({"start": "9999-10", "end": "9999-12"}), allow_unicode=True),
        encoding="utf-8",
    )
    for fmt in ("md", "html"):
        args = ["route", str(path), "--kb", str(kb_dir), "--format", fmt]
        code = _timed(lambda: main(args))  # noqa: B023 (called at once, in this iteration)
        assert code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "preferences.period" in err[0], err


def test_months_past_year_9999_step_and_print_by_number() -> None:
    # as text "10000-01" sorts before "9999-12": the range and the labels must not care
    assert month_range("9999-11", "10000-02") == ["9999-11", "9999-12", "10000-01", "10000-02"]
    assert month_index("10000-01") == month_index("9999-12") + 1
    assert months_label("10000-11", "10001-02") == "ноябрь 10000 – февраль 10001"
    assert months_label("10000-02", "10000-05") == "февраль – май 10000"


# --- Markdown escapes what it embeds -------------------------------------------------------

HOSTILE = {
    "organization": "<script>alert(1)</script> & [клик](javascript:alert(2))",
    "municipality": '<img src=x onerror="alert(3)">',
}


def _markdown(tmp_path: Path, profile: dict[str, Any], files: dict[str, str] | None = None) -> str:
    kb = load_kb(write_route_kb(tmp_path / "kb", files))
    parsed = parse_profile(profile, kb)
    return render("md", kb, parsed, Engine(kb, backend="python").evaluate(parsed))


def test_markdown_escapes_html_and_links_from_the_profile(tmp_path: Path) -> None:
    md = _markdown(tmp_path, _profile({"start": "2026-09", "end": "2027-05"}, **HOSTILE))
    assert "<script" not in md and "<img" not in md
    assert "](javascript:" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; [клик]\\(javascript:alert(2))" in md
    assert '&lt;img src=x onerror="alert(3)"&gt;' in md
    # the document's own markup stays
    assert "<br>" in md and "| **" in md


def test_markdown_escapes_html_from_the_kb(tmp_path: Path) -> None:
    name = "ontology/competencies.yaml"
    hostile = ROUTE_KB[name].replace("title: Основы,", "title: '<b onmouseover=alert(4)>x</b>',")
    assert hostile != ROUTE_KB[name]
    md = _markdown(tmp_path, _profile({"start": "2026-09", "end": "2027-05"}), {name: hostile})
    assert "<b onmouseover" not in md
    assert "&lt;b onmouseover=alert(4)&gt;x&lt;/b&gt;" in md


def test_markdown_cell_cannot_break_out_with_a_backslash(tmp_path: Path) -> None:
    md = _markdown(
        tmp_path, _profile({"start": "2026-09", "end": "2027-05"}, organization="Школа \\")
    )
    row = next(line for line in md.splitlines() if "Школа" in line)
    assert "Школа \\\\ |" in row  # the backslash is doubled: it cannot escape the pipe


# --- check: prerequisite cycles by strongly connected component ----------------------------


def _dense_competencies(n: int) -> str:
    """``n`` competencies, each requiring every other: astronomically many simple cycles."""
    ids = [f"normative.c{i:02d}" for i in range(n)]
    out = ["groups:", "  - {id: normative, title: Н, standard: [A/01.6]}", "competencies:"]
    for cid in ids:
        others = ", ".join(o for o in ids if o != cid)
        out += [
            f"  - id: {cid}",
            "    group: normative",
            f"    title: {cid}",
            "    standard: [A/01.6]",
            f"    requires: [{others}]",
        ]
    return "\n".join(out) + "\n"


def _only_base_kb(tmp_path: Path, competencies: str) -> Path:
    # programmes and mentors of the mini KB name competencies this ontology lacks
    files = {**MINI, "competencies.yaml": competencies}
    files["programs.yaml"] = "programs: []\n"
    files["mentors.yaml"] = "mentors: []\n"
    return write_kb(tmp_path / "kb", files)


def test_dense_prerequisite_cycles_give_one_line_per_component_fast(tmp_path: Path) -> None:
    root = _only_base_kb(tmp_path, _dense_competencies(14))
    started = time.monotonic()
    kb, issues = _timed(lambda: check_kb(root))
    assert time.monotonic() - started < DEADLINE
    assert kb is None
    cycles = [i for i in issues if i.code == "cycle"]
    assert len(cycles) == 1, [str(i) for i in cycles]
    (cycle,) = cycles
    assert cycle.file.endswith("ontology/competencies.yaml") and cycle.line > 0
    assert cycle.message.startswith("prerequisite cycle: normative.c00 -> normative.c01 -> ")
    assert "in a knot with" in cycle.message  # the rest of the component is named


def test_prerequisite_cycle_reports_are_capped(tmp_path: Path) -> None:
    pairs = 60
    out = ["groups:", "  - {id: normative, title: Н, standard: [A/01.6]}", "competencies:"]
    for i in range(pairs):
        a, b = f"normative.a{i:02d}", f"normative.b{i:02d}"
        for me, other in ((a, b), (b, a)):
            out += [
                f"  - id: {me}",
                "    group: normative",
                f"    title: {me}",
                "    standard: [A/01.6]",
                f"    requires: [{other}]",
            ]
    root = _only_base_kb(tmp_path, "\n".join(out) + "\n")
    _kb, issues = _timed(lambda: check_kb(root))
    cycles = [str(i) for i in issues if i.code == "cycle"]
    assert len(cycles) == 51
    assert sum("prerequisite cycle: " in c for c in cycles) == 50
    assert "10 more prerequisite cycles not listed" in cycles[-1]
    # the same KB reports the same cycles in the same order, whatever the run
    assert cycles == [str(i) for i in check_kb(root)[1] if i.code == "cycle"]


# --- rules: any: combinations are bounded ---------------------------------------------------


def _rule_with_any_groups(groups: int) -> str:
    alt = "      - any:\n          - result: {score_pct: {lt: 10}}\n          - request: {}\n"
    return (
        "  - id: BOMB\n    title: many any groups\n    when:\n"
        + alt * groups
        + "    then:\n      - fact: {type: marker, x: 1}\n"
    )


def _kb_with_rule(tmp_path: Path, body: str) -> Path:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text("ruleset: t\nrules:\n" + body, encoding="utf-8")
    return root


def test_rule_with_24_any_groups_is_a_placed_kb_error(tmp_path: Path) -> None:
    root = _kb_with_rule(tmp_path, _rule_with_any_groups(24))
    with pytest.raises(KnowledgeBaseError) as err:
        _timed(lambda: load_kb(root))
    (issue,) = [i for i in err.value.issues if i.code == "too-many-alternatives"]
    # placed at the rule's `when:` key
    assert issue.file.endswith("rules/r.yaml") and (issue.line, issue.col) == (5, 5)
    assert f"rule 'BOMB': its 'any:' groups combine into more than {MAX_ANY_COMBINATIONS}" in str(
        issue
    )


def test_any_combinations_at_the_limit_load(tmp_path: Path) -> None:
    assert MAX_ANY_COMBINATIONS == 2**8
    (rule,) = load_kb(_kb_with_rule(tmp_path / "ok", _rule_with_any_groups(8))).rules
    assert len(rule.alternatives()) == MAX_ANY_COMBINATIONS
    with pytest.raises(KnowledgeBaseError, match="too-many-alternatives"):
        load_kb(_kb_with_rule(tmp_path / "over", _rule_with_any_groups(9)))


def test_check_command_reports_the_any_bomb_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _kb_with_rule(tmp_path, _rule_with_any_groups(24))
    code = _timed(lambda: main(["check", "--kb", str(root)]))
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if ": error: " in x or ": too-many" in x]
    assert line.endswith("split it into several rules") and "r.yaml:5:5: " in line
