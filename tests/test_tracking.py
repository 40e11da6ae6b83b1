"""The ИОМ over time (issue 14 §2-3): progress between two diagnoses, marks, revise.

The profiles in tests/data/tracking are one synthetic teacher diagnosed twice: the
second time better on some competencies (ФГОС and assessment closed, lesson design
less severe), worse on parents (moderate -> high), with a new deficit (digital.eios)
and one unchanged (classroom climate, where a later self-assessment is outranked).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from deficit_engine import Engine, Result, UsageError
from deficit_engine.cli import main
from deficit_engine.models import StepMark
from deficit_engine.profile import read_profile_file
from deficit_engine.tracking import (
    DROP_REASONS,
    MarksError,
    after_texts,
    deficit_label,
    latest_marks,
    mark_texts,
    parse_marks,
    progress,
    read_marks,
    revise,
)

DATA = Path(__file__).parent / "data" / "tracking"
TODAY = "2027-04-20"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="python")


@pytest.fixture(scope="module")
def earlier(engine: Engine) -> Result:
    return engine.evaluate(read_profile_file(DATA / "earlier.yaml"))


@pytest.fixture(scope="module")
def later(engine: Engine) -> Result:
    return engine.evaluate(read_profile_file(DATA / "later.yaml"))


@pytest.fixture(scope="module")
def marks() -> tuple[StepMark, ...]:
    return read_marks(DATA / "marks.yaml")


# --- progress ----------------------------------------------------------------------


def test_two_diagnoses_give_the_expected_labels(earlier: Result, later: Result) -> None:
    found = progress(earlier, later)
    assert found.labels() == {
        "normative.fgos": "closed",
        "methodical.assessment": "closed",
        "methodical.lesson_design": "improved",
        "psycho_pedagogical.classroom_climate": "persisting",
        "communicative.parents": "worsened",
        "digital.eios": "new",
    }
    parents = found.change("communicative.parents")
    assert parents is not None
    assert (parents.score_before, parents.score_after, parents.delta) == (65.0, 40.0, -25.0)
    assert (parents.severity_before, parents.severity_after) == ("moderate", "high")
    assert parents.level_before != parents.level_after
    assert (found.earlier_date, found.later_date) == ("2026-09-10", "2027-04-15")


@pytest.mark.parametrize(
    ("before", "after", "label"),
    [
        (None, None, None),
        (None, "low", "new"),
        ("low", None, "closed"),
        ("high", "moderate", "improved"),
        ("moderate", "critical", "worsened"),
        ("high", "high", "persisting"),
    ],
)
def test_a_label_follows_the_severities(
    before: str | None, after: str | None, label: str | None
) -> None:
    assert deficit_label(before, after) == label


def test_steps_done_before_the_later_diagnosis_come_from_marks_and_dates(
    earlier: Result, later: Result, marks: tuple[StepMark, ...]
) -> None:
    steps = {s.step: s for s in progress(earlier, later, marks).steps}
    assert [s for s, p in steps.items() if p.done_before] == ["s1"]
    # s2 was done, but after the re-diagnosis of 2027-04-15
    assert (steps["s2"].status, steps["s2"].date, steps["s2"].done_before) == (
        "done",
        "2027-05-20",
        False,
    )
    assert steps["s3"].status == "skipped" and steps["s4"].status is None
    assert steps["s1"].evidence == "удостоверение № 4512"


def test_progress_follows_a_revised_route_when_given(
    earlier: Result, later: Result, marks: tuple[StepMark, ...]
) -> None:
    revision = revise(earlier, marks, later, today=TODAY)
    done_later = (*marks, StepMark("s9", "done", "2027-04-10"))
    steps = progress(earlier, later, done_later, route=revision.route).steps
    assert [s.step for s in steps] == [s.id for s in revision.route.steps]
    assert {s.step for s in steps if s.done_before} == {"s1", "s9"}


def test_profiles_are_evaluated_by_the_engine_given(engine: Engine, later: Result) -> None:
    profile = read_profile_file(DATA / "earlier.yaml")
    assert progress(profile, later, engine=engine).labels()["digital.eios"] == "new"
    with pytest.raises(UsageError, match="needs an engine"):
        progress(profile, later)


def test_two_persons_are_refused(earlier: Result, later: Result) -> None:
    with pytest.raises(UsageError, match="one person"):
        progress(earlier, dataclasses.replace(later, profile="T-0002"))


def test_the_after_text_per_step_names_the_change(
    engine: Engine, earlier: Result, later: Result, marks: tuple[StepMark, ...]
) -> None:
    titles = {c: x.title for c, x in engine.kb.ontology.competencies.items()}
    texts = after_texts(progress(earlier, later, marks), titles)
    assert set(texts) == {s.id for s in earlier.route.steps}  # type: ignore[union-attr]
    assert texts["s5"] == (
        "Взаимодействие с родителями (законными представителями) обучающихся: "
        "65% → 40% (-25), дефицит усилился"
    )
    assert "48% → 64% (+16), дефицит уменьшился" in texts["s2"]


def test_progress_is_json_ready(earlier: Result, later: Result) -> None:
    data = json.loads(json.dumps(progress(earlier, later).to_dict(), ensure_ascii=False))
    assert data["person"] == "T-0001"
    assert {c["competency"]: c["label"] for c in data["competencies"]}["normative.fgos"] == "closed"


# --- revise ------------------------------------------------------------------------


def test_revise_keeps_done_steps_and_drops_unneeded_ones_with_reasons(
    earlier: Result, later: Result, marks: tuple[StepMark, ...]
) -> None:
    revision = revise(earlier, marks, later, today=TODAY)
    old = {s.id: s for s in earlier.route.steps}  # type: ignore[union-attr]
    new = {s.id: s for s in revision.route.steps}
    assert revision.done == ("s1",)
    assert new["s1"] == old["s1"]  # done: untouched
    # s2 is marked done only after today: as of today it is in progress, and stays put
    assert revision.kept == ("s2",) and new["s2"] == old["s2"]
    dropped = {d.step: (d.code, d.reason) for d in revision.dropped}
    assert dropped == {
        "s3": ("skipped", DROP_REASONS["skipped"]),
        "s6": ("closed", DROP_REASONS["closed"]),  # ФГОС: no deficit any more
    }
    assert not set(dropped) & set(new)


def test_revise_moves_needed_steps_out_of_the_past_and_adds_new_needs_from_now(
    earlier: Result, later: Result, marks: tuple[StepMark, ...]
) -> None:
    revision = revise(earlier, marks, later, today=TODAY)
    steps = {s.id: s for s in revision.route.steps}
    for sid in revision.moved + revision.added:
        assert steps[sid].start >= "2027-04"
    assert set(revision.moved) >= {"s4", "s5", "s7"}
    added = [steps[s] for s in revision.added]
    assert min(s.start for s in added) == "2027-04"
    assert {c for s in added for c in s.competencies} >= {"digital.eios"}
    # parents worsened: the re-diagnosis asks for a programme, which the old route lacked
    assert any(s.kind == "program" and "communicative.parents" in s.competencies for s in added)
    assert not set(revision.added) & {s.id for s in earlier.route.steps}  # type: ignore[union-attr]
    for step in revision.route.steps:
        for before in step.after:
            assert before in steps and steps[before].end <= step.start
    assert revision.route.steps[-1].kind == "rediagnosis"


def test_when_every_step_is_done_the_rediagnosis_is_dropped(earlier: Result) -> None:
    route = earlier.route
    assert route is not None
    marks = [StepMark(s.id, "done", "2027-03-01") for s in route.steps if s.kind != "rediagnosis"]
    revision = revise(earlier, marks, earlier, today=TODAY)
    assert revision.done == tuple(m.step for m in marks)
    assert [(d.step, d.code) for d in revision.dropped] == [(route.steps[-1].id, "rediagnosed")]
    assert revision.added == () and revision.moved == () and revision.kept == ()


def test_revise_is_deterministic_for_a_given_today(
    engine: Engine, earlier: Result, marks: tuple[StepMark, ...]
) -> None:
    profile = read_profile_file(DATA / "later.yaml")
    first = revise(earlier.route, marks, profile, TODAY, engine=engine)  # type: ignore[arg-type]
    second = revise(earlier, list(marks), profile, today=TODAY, engine=engine)
    assert first.to_dict() == second.to_dict()
    assert revise(earlier, marks, profile, "2027-06-01", engine=engine).to_dict() != first.to_dict()


def test_revise_refuses_what_it_cannot_revise(earlier: Result, later: Result) -> None:
    with pytest.raises(UsageError, match="today"):
        revise(earlier, (), later, today="20.04.2027")
    with pytest.raises(UsageError, match="no route"):
        revise(earlier, (), dataclasses.replace(later, route=None), today=TODAY)
    with pytest.raises(UsageError, match="T-0002"):
        revise(earlier, (), dataclasses.replace(later, profile="T-0002"), today=TODAY)


# --- marks -------------------------------------------------------------------------


def test_a_marks_file_is_read_with_dates_as_written() -> None:
    marks = read_marks(DATA / "marks.yaml")
    assert marks[0] == StepMark("s1", "done", "2026-10-30", "удостоверение № 4512")
    assert latest_marks(marks)["s2"].status == "done"


def test_the_mark_text_per_step_is_the_latest_mark_in_russian() -> None:
    texts = mark_texts(read_marks(DATA / "marks.yaml"))
    assert texts == {
        "s1": "выполнено 30.10.2026, удостоверение № 4512",
        "s2": "выполнено 20.05.2027, удостоверение № 4730",
        "s3": "не выполнено 01.12.2026",
    }


def test_every_bad_mark_is_named_by_its_place(tmp_path: Path) -> None:
    path = tmp_path / "marks.yaml"
    path.write_text(
        "- {step: s1, status: finished}\n- {step: s2, status: done, date: 15.03.2027}\n"
        "- {stepp: s3, status: done}\n",
        encoding="utf-8",
    )
    with pytest.raises(MarksError) as caught:
        read_marks(path)
    places = {(i.line, i.path, i.code) for i in caught.value.issues}
    assert (1, "[0].status", "invalid-value") in places
    assert (2, "[1].date", "invalid-value") in places
    assert (3, "[2].stepp", "unknown-field") in places
    assert (3, "[2].step", "invalid-value") in places


def test_a_json_marks_file_is_named_by_path(tmp_path: Path) -> None:
    path = tmp_path / "marks.json"
    path.write_text('[{"step": "s1", "status": "done", "evidence": 5}]', encoding="utf-8")
    with pytest.raises(MarksError) as caught:
        read_marks(path)
    assert [str(i) for i in caught.value.issues] == [
        f"{path}:[0].evidence: wrong-type: 'evidence' must be text"
    ]
    with pytest.raises(MarksError, match="a list of marks"):
        parse_marks({"step": "s1"})


# --- the command -------------------------------------------------------------------


def test_the_progress_command_prints_a_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(DATA / "earlier.yaml"), str(DATA / "later.yaml"), "--backend", "python"]
    assert main(["progress", *args, "--marks", str(DATA / "marks.yaml")]) == 0
    text = capsys.readouterr().out
    assert (
        "усилился" in text
        and "закрыт" in text
        and "выполнено до повторной диагностики 1 из" in text
    )
    assert main(["progress", *args, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["person"] == "T-0001" and data["steps"][0]["status"] is None


def test_the_progress_command_needs_two_profiles_and_good_marks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["progress", str(DATA / "earlier.yaml")]) == 2
    assert "EARLIER and LATER" in capsys.readouterr().err
    bad = tmp_path / "marks.yaml"
    bad.write_text("- {step: s1, status: finished}\n", encoding="utf-8")
    args = [str(DATA / "earlier.yaml"), str(DATA / "later.yaml"), "--marks", str(bad)]
    assert main(["progress", *args, "--backend", "python"]) == 2
    assert f"{bad}:1:" in capsys.readouterr().err
    typo = tmp_path / "typo.yaml"
    typo.write_text("- {step: s99, status: done}\n", encoding="utf-8")
    args = [str(DATA / "earlier.yaml"), str(DATA / "later.yaml"), "--marks", str(typo)]
    assert main(["progress", *args, "--backend", "python"]) == 2
    assert "has no step s99" in capsys.readouterr().err


def test_the_progress_command_fills_the_earlier_ims_marks_and_results_after(
    tmp_path: Path,
) -> None:
    args = [str(DATA / "earlier.yaml"), str(DATA / "later.yaml"), "--backend", "python"]
    out = tmp_path / "iom.md"
    marks = ["--marks", str(DATA / "marks.yaml")]
    assert main(["progress", *args, *marks, "--format", "md", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    # the tutor's mark and the re-diagnosis land in the tenth column of the document
    assert "Отметка о выполнении" in text
    assert "выполнено 30.10.2026" in text and "удостоверение № 4512" in text
    assert "Результат после:" in text
    html = tmp_path / "iom.html"
    assert main(["progress", *args, *marks, "--format", "html", "-o", str(html)]) == 0
    assert "выполнено 30.10.2026" in html.read_text(encoding="utf-8")
