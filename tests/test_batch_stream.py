"""The planned batch in bounded memory: workers keep their shares' diagnoses in spill
files, the parent holds one compact PlanRow per person and never a Result, and the
output is byte for byte the output of the batch that holds every diagnosis (the rows
read in the parent and sent: the reference path).

The cohort is synthetic (deficit_engine.synthetic): no real person's data.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import cohort as cohort_module
from deficit_engine.cohort import run_batch
from deficit_engine.engine import Engine
from deficit_engine.errors import UsageError
from deficit_engine.planner import PlanRow, SharedValues, StreamedPlan, plan_row
from deficit_engine.planner import rows as rows_module
from deficit_engine.synthetic import synthetic_profiles
from deficit_engine.tables import TableReading
from deficit_engine.workers import spill, unspill
from test_hardening_batch import needs_fork


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


def test_a_spill_file_gives_back_any_range_of_its_items(tmp_path: Path) -> None:
    items = [{"n": n, "text": "ж" * (n % 7)} for n in range(40)]
    path = tmp_path / "share.pickle"
    spill(path, items)
    for start in range(41):
        for stop in range(start, 41):
            assert unspill(path, start, stop) == items[start:stop]
    with pytest.raises(UsageError, match="items 3:41 of 40"):
        unspill(path, 3, 41)
    spill(path, [])
    assert unspill(path, 0, 0) == []


def test_shared_rows_are_equal_and_share_their_parts(engine: Engine) -> None:
    kb = engine.kb
    diagnosed = list(engine.diagnose_many(list(synthetic_profiles(kb, 60, seed=4))))
    rows = [plan_row(kb, p, r) for p, r in diagnosed if p is not None and r.ok]
    shared = SharedValues()
    # each row as it arrives from a worker: unpickled, so nothing is shared yet
    compact = [shared.row(pickle.loads(pickle.dumps(row))) for row in rows]
    assert compact == rows
    needs = {id(n): n for row in compact for n in row.needs}
    assert len(needs) == len(set(needs.values()))  # one object per distinct need
    places = {id(row.municipality) for row in compact}
    assert len(places) == len({row.municipality for row in compact})
    assert all(isinstance(row, PlanRow) for row in compact)


def _cohort(engine: Engine, path: Path, people: int) -> Path:
    """``people`` synthetic profiles with the rows a batch sets aside or relabels:
    duplicate ids in other shares, rows without an id, broken and blank lines."""
    lines = [json.dumps(p, ensure_ascii=False) for p in synthetic_profiles(engine.kb, people, 16)]
    rng = random.Random(16)
    for n in rng.sample(range(10, people), people // 100):
        lines[n] = lines[rng.randrange(n)]  # a duplicate id
    for n in rng.sample(range(people), people // 200):
        profile = json.loads(lines[n])
        del profile["id"]  # labelled by its index in the whole file
        lines[n] = json.dumps(profile, ensure_ascii=False)
    lines[people // 3] = "{not json"
    lines[people // 2] = ""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("fmt", "columnar"), [("jsonl", False), ("parquet", True)])
def test_the_streamed_plan_writes_the_bytes_of_the_held_plan(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, columnar: bool
) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    # shares and parts of sizes that do not divide each other: parts across shares
    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 97)
    monkeypatch.setattr(cohort_module, "PART_CHUNK", 61)
    # each share diagnosed by its worker in pieces of 23 people
    monkeypatch.setattr(cohort_module, "DIAGNOSIS_PIECE", 23)
    # the parent's rows written to its spill folder in parts of 150 or more people
    # (a share of 97 merged at a time), read back where the plan reads them
    monkeypatch.setattr(rows_module, "_SPILL_ROWS", 150)
    planned: list[Any] = []

    def watched(kb: Any, rows: Any) -> Any:
        planned.append((rows._spill, len(rows._starts) - 1, rows._first))
        return StreamedPlan(kb, rows)

    monkeypatch.setattr(cohort_module, "StreamedPlan", watched)
    source = _cohort(engine, tmp_path / "cohort.jsonl", 2000)
    options = {"output_format": fmt, "columnar": columnar, "keep_columns": ("name",)}
    with monkeypatch.context() as patch:  # the reference: every diagnosis held here
        patch.setattr(TableReading, "shares", lambda self, records: None)
        held = run_batch(engine, source, tmp_path / "held", workers=1, **options)
    streamed = run_batch(engine, source, tmp_path / "streamed", workers=2, **options)
    expected = _files(tmp_path / "held")
    assert _files(tmp_path / "streamed") == expected
    assert streamed.set_aside == held.set_aside >= 2000 // 100 + 1
    errors = expected["errors.jsonl"].decode()
    assert "duplicate id" in errors and "{not json" not in errors
    summary = json.loads(expected["summary.json"])
    assert summary["allocated"] and summary["evaluated"] == held.evaluated
    assert not any(name.startswith(cohort_module._SPILL) for name in expected)
    [(rows_file, parts, written)] = planned
    assert Path(rows_file).name == cohort_module._ROWS and not Path(rows_file).exists()
    assert Path(rows_file).parent.name == cohort_module._SPILL
    assert parts >= 2000 // (150 + 97) and written >= 2000 - 150 - 97


@needs_fork
def test_with_two_workers_the_parent_builds_no_route(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()
    route_planned = cohort_module.route_planned
    routed_here: list[str] = []

    def watched(kb, profile, result, resolution):  # type: ignore[no-untyped-def]
        if os.getpid() == parent:
            routed_here.append(result.profile)
        return route_planned(kb, profile, result, resolution)

    # forked workers inherit the watch; only the parent's calls are counted
    monkeypatch.setattr(cohort_module, "route_planned", watched)
    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 50)
    source = _cohort(engine, tmp_path / "cohort.jsonl", 300)
    summary = run_batch(engine, source, tmp_path / "out", workers=2, output_format="jsonl")
    assert summary.evaluated > 250 and routed_here == []
    with monkeypatch.context() as patch:  # the held path routes in the parent: the watch works
        patch.setattr(TableReading, "shares", lambda self, records: None)
        run_batch(engine, source, tmp_path / "held", workers=1, output_format="jsonl")
    assert len(routed_here) == summary.evaluated


def test_values_equal_in_python_but_printed_otherwise_are_not_shared() -> None:
    from deficit_engine.models import Need

    shared = SharedValues()
    assert type(shared.number(50)) is int and type(shared.number(50.0)) is float
    as_int = shared.mapping({"normative": 50})
    assert shared.mapping({"normative": 50.0}) is not as_int
    assert shared.mapping({"normative": 50}) is as_int
    text = Need("program", "normative.fgos", (("education", "formal"),), "R-1")
    assert shared.need(Need("program", "normative.fgos", (("education", "formal"),), "R-1")) is (
        shared.need(text)
    )
    hours = Need("program", "normative.fgos", (("max_hours", 36),), "R-1")
    assert shared.need(hours) is hours
    assert shared.need(Need("program", "normative.fgos", (("max_hours", 36.0),), "R-1")) is not (
        hours
    )
    listed = Need("format", None, (("phases", ["learn"]),), "R-2")  # not hashable
    assert shared.need(listed) is listed
    assert shared.keyed(listed, (listed,)) is listed
