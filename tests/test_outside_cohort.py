"""Byte-identical output on a cohort generated outside the project (issue 16).

The cohort comes from tests/outside_cohort.py, written from the profile schema and
not from ``synthetic_profiles``: 5-40 results, indicator results, several
instruments named by alias, scores on the scale's edges, unicode ids and text,
duplicate ids and broken rows. Every mode must give the same output: the command
line's ``batch`` with ``--format jsonl|parquet``, 1 and 2 workers, with and without
``--columnar``, on a Dask cluster, and the public API (``Engine.plan_cohort``,
``Engine.evaluate_dask``); also with traces, under a low firing limit, with small
shares and parts, from a file with a BOM and CRLF, and without the plan
(``--no-allocate`` against ``Engine.evaluate``). A CSV table and an XLSX workbook
of the same people must give the JSONL file's Results. The comparison is
benchmarks/outside_identity.py's, which ``test_the_comparison_finds_a_difference``
checks can fail.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmark_scripts import load_benchmark
from deficit_engine import Engine
from deficit_engine.cli import main as cli
from deficit_engine.cohort import run_batch
from deficit_engine.schema import ROLES
from outside_cohort import outside_lines, outside_profiles, table_cohort, write_workbook

PEOPLE = 150  # enough for every shape below; each mode is a whole batch (CI time)
KEEP = ("--keep-columns", "name")


bench = load_benchmark("outside_identity")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


@pytest.fixture(scope="module")
def lines(engine: Engine) -> list[str]:
    return outside_lines(engine.kb, PEOPLE, seed=16)


@pytest.fixture(scope="module")
def source(lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outside") / "cohort.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _batch(source: Path, out: Path, *options: str) -> dict[str, Any]:
    """``deficit-engine batch`` as a user types it (in this process), read back; the
    JSONL profiles' names kept (a personal-data column, with emoji) in every mode."""
    code = cli(["batch", str(source), "-o", str(out), "--quiet", *KEEP, *options])
    assert code in (0, 1), code  # 1: rows were set aside
    output: dict[str, Any] = bench.read_folder(out)
    return output


@pytest.fixture(scope="module")
def reference(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The per-profile engine in one process: what every other mode must write."""
    return _batch(
        source, tmp_path_factory.mktemp("ref") / "out", "--format", "jsonl", "--workers", "1"
    )


def test_the_cohort_has_the_shapes_an_outside_generator_makes(
    engine: Engine, lines: list[str], reference: dict[str, Any]
) -> None:
    profiles = list(outside_profiles(engine.kb, PEOPLE, seed=16))
    assert {p["person"]["role"] for p in profiles} == set(ROLES)
    counts = [len(p["results"]) for p in profiles]
    assert min(counts) == 5 and max(counts) == 40
    results = [r for p in profiles for r in p["results"]]
    assert any("indicator" in r for r in results)
    assert any(r["score"] == 0 for r in results) and any(
        r["score"] == r.get("max") for r in results
    )
    instruments = {r.get("instrument") for r in results}
    assert {"ЦНППМ", "цнппм", "САМООЦЕНКА", "efom", "Анкета школы"} <= instruments
    several = [
        p
        for p in profiles
        if max(Counter(r.get("competency") for r in p["results"] if "competency" in r).values()) > 1
    ]
    assert several  # several instruments for one competency: provenance decides
    # every shape the batch sets aside is in the file, and is set aside
    errors = [json.loads(line) for line in reference["errors.jsonl"].decode().splitlines()]
    reasons = " ".join(e["errors"][0] for e in errors)
    for expected in (
        "duplicate id",
        "invalid JSON",
        "must hold one JSON object",
        "duplicate key 'id'",
        "missing required field 'id'",
        "finite number",
    ):
        assert expected in reasons, expected
    assert sum("duplicate id 'BAD-role'" in e["errors"][0] for e in errors) == 1
    assert any("🙂" in line for line in reference["records"])  # an emoji id came through
    assert any("👩\u200d🏫" in line for line in reference["records"])  # and a kept name
    summary = json.loads(reference["summary.json"])
    assert summary["evaluated"] == len(reference["results"]) > PEOPLE * 0.9


def test_every_local_mode_and_the_api_give_the_same_output(
    engine: Engine, source: Path, lines: list[str], reference: dict[str, Any], tmp_path: Path
) -> None:
    outputs = {"batch jsonl w1": reference}
    for fmt, workers, columnar in (
        ("jsonl", "2", True),
        ("parquet", "1", True),
        ("parquet", "2", False),
    ):
        name = f"batch {fmt} w{workers}{' columnar' if columnar else ''}"
        options = ["--format", fmt, "--workers", workers] + (["--columnar"] if columnar else [])
        outputs[name] = _batch(source, tmp_path / name.replace(" ", "-"), *options)
    profiles = bench.evaluated_profiles(lines)
    outputs["api plan_cohort"] = bench.api_results(engine.plan_cohort(profiles, workers=1).results)
    outputs["api plan_cohort w2"] = bench.api_results(
        engine.plan_cohort(profiles, workers=2).results
    )
    assert bench.compare(outputs) == dict.fromkeys(bench.compare(outputs), True)


def test_without_the_plan_the_batch_gives_what_engine_evaluate_gives(
    engine: Engine, source: Path, lines: list[str], tmp_path: Path
) -> None:
    unplanned = bench.UNPLANNED
    outputs = {
        f"{unplanned} batch": _batch(
            source, tmp_path / "out", "--format", "parquet", "--workers", "2", "--no-allocate"
        ),
        f"{unplanned} api evaluate": bench.evaluate_each(engine, bench.evaluated_profiles(lines)),
    }
    assert bench.compare(outputs)[f"results ({unplanned})"] is True
    assert len(outputs[f"{unplanned} batch"]["results"]) > PEOPLE * 0.9


def test_shares_and_parts_of_odd_sizes_write_the_same_people(
    source: Path, reference: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a columnar share is 4,096 people and a part 256: this cohort fits in one of
    # each, so here they are cut small, across each other (forked workers inherit it)
    from deficit_engine import cohort as cohort_module

    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 23)
    monkeypatch.setattr(cohort_module, "PART_CHUNK", 17)
    outputs = {"reference": {k: v for k, v in reference.items() if k != "files"}}
    for fmt, columnar in (("jsonl", True), ("parquet", False)):
        name = f"{fmt} {columnar}"
        options = ["--format", fmt, "--workers", "2"] + (["--columnar"] if columnar else [])
        outputs[name] = _batch(source, tmp_path / name.replace(" ", "-"), *options)
        assert len(outputs[name]["files"]) > PEOPLE // 17  # the parts were cut small
    assert bench.compare(outputs) == dict.fromkeys(bench.compare(outputs), True)


def test_a_file_as_another_tool_writes_it_is_cut_and_set_aside_alike(
    lines: list[str], tmp_path: Path
) -> None:
    # a byte-order mark, CRLF line ends, an undecodable byte, whitespace-only lines
    # and no final line end: the shares are cut from these bytes (tables.read_share)
    undecodable = b'{"id": "X\xff-1", "person": {"role": "teacher", "experience_years": 3}}'
    body = [line.encode() for line in lines]
    body[5:5] = [undecodable, b"   ", b"\t"]
    source = tmp_path / "cohort.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(body))
    outputs = {}
    for fmt, workers, columnar in (("jsonl", "1", False), ("parquet", "2", True)):
        name = f"batch {fmt} w{workers}"
        options = ["--format", fmt, "--workers", workers] + (["--columnar"] if columnar else [])
        outputs[name] = _batch(source, tmp_path / name.replace(" ", "-"), *options)
    assert bench.compare(outputs) == dict.fromkeys(bench.compare(outputs), True)
    errors = outputs["batch jsonl w1"]["errors.jsonl"].decode()
    assert '"line": 6' in errors and "undecodable byte 0xFF" in errors
    assert len(outputs["batch jsonl w1"]["results"]) > PEOPLE * 0.9


def test_traces_are_the_same_through_the_batch_and_the_api(
    engine: Engine, source: Path, lines: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_batch(engine, source, out, workers=2, output_format="parquet", trace=True)
    plan = engine.plan_cohort(bench.evaluated_profiles(lines), workers=1)
    api = [bench.canonical(r.to_dict(trace=True)) for r in plan.results if r.ok]
    assert bench.read_folder(out)["results"] == api
    assert all('"trace":[{' in result for result in api)


def test_the_firing_limit_and_the_columnar_fallback_agree_in_every_mode(
    lines: list[str], source: Path, tmp_path: Path
) -> None:
    # a low limit: some people exceed it (set aside), others come near it, which
    # the columnar path gives back to the per-profile engine (Engine.diagnose_many)
    engine = Engine.from_path(backend="fast", firing_limit=45)
    outputs = {}
    for name, fmt, workers, columnar in (
        ("batch jsonl w1", "jsonl", 1, False),
        ("batch parquet w2 columnar", "parquet", 2, True),
    ):
        out = tmp_path / name.replace(" ", "-")
        run_batch(engine, source, out, workers=workers, output_format=fmt, columnar=columnar)
        outputs[name] = bench.read_folder(out)
    plan = engine.plan_cohort(bench.evaluated_profiles(lines), workers=1)
    outputs["api plan_cohort"] = bench.api_results(plan.results)
    assert bench.compare(outputs) == dict.fromkeys(bench.compare(outputs), True)
    errors = outputs["batch jsonl w1"]["errors.jsonl"].decode()
    assert errors.count("firing limit of 45 exceeded") >= 5
    assert len(outputs["batch jsonl w1"]["results"]) >= 20  # and some people were under it


def test_a_csv_table_and_a_workbook_give_the_results_of_the_same_people_as_jsonl(
    engine: Engine, tmp_path: Path
) -> None:
    table, jsonl = table_cohort(engine.kb, 80, seed=3)
    (tmp_path / "cohort.csv").write_text(table, encoding="utf-8")
    (tmp_path / "cohort.jsonl").write_text("\n".join(jsonl) + "\n", encoding="utf-8")
    got = {}
    for ext in ("csv", "jsonl"):
        out = tmp_path / f"out-{ext}"
        run_batch(engine, tmp_path / f"cohort.{ext}", out, workers=2, output_format="parquet")
        got[ext] = bench.read_folder(out)
    # an XLSX workbook cannot be cut into shares: the parent reads it (the held path)
    write_workbook(tmp_path / "cohort.xlsx", table)
    out = tmp_path / "out-xlsx"
    run_batch(
        engine, tmp_path / "cohort.xlsx", out, workers=2, output_format="jsonl", columnar=True
    )
    got["xlsx"] = bench.read_folder(out)
    assert len(got["csv"]["results"]) == 80
    for piece in ("results", "records", "schools.json"):
        assert got["csv"][piece] == got["jsonl"][piece] == got["xlsx"][piece], piece


def test_the_comparison_finds_a_difference(reference: dict[str, Any]) -> None:
    changed = dict(reference, results=[*reference["results"][:-1], "{}"])
    assert bench.compare({"a": reference, "b": changed})["results"] is False
    unplanned = {f"{bench.UNPLANNED} a": reference, f"{bench.UNPLANNED} b": changed}
    assert bench.compare(unplanned) == {
        f"{piece} ({bench.UNPLANNED})": piece != "results"
        for piece in ("results", "records", "errors.jsonl", "summary.json", "schools.json")
    }
    files = dict(reference["files"], **{"errors.jsonl": b""})
    other = dict(reference, files=files)
    assert bench.compare({"batch jsonl a": reference, "batch jsonl b": other})["files (jsonl)"] is (
        False
    )


distributed_missing = importlib.util.find_spec("distributed") is None


@pytest.mark.skipif(distributed_missing, reason="needs deficit-engine[dask]")
def test_a_dask_cluster_writes_the_local_output(
    engine: Engine, source: Path, lines: list[str], reference: dict[str, Any], tmp_path: Path
) -> None:
    outputs = {"batch jsonl w1": reference}
    with bench.local_cluster(processes=False) as cluster:
        address = cluster.scheduler_address
        for fmt, columnar in (("jsonl", False), ("parquet", True)):
            name = f"batch {fmt} dask{' columnar' if columnar else ''}"
            options = ["--format", fmt, "--scheduler", address]
            options += ["--columnar"] if columnar else []
            outputs[name] = _batch(source, tmp_path / name.replace(" ", "-"), *options)
        profiles = bench.evaluated_profiles(lines)
        dask = engine.evaluate_dask(profiles, address, chunk_size=37, columnar=True)
        outputs["api evaluate_dask columnar"] = bench.api_results(dask.results)
    assert bench.compare(outputs) == dict.fromkeys(bench.compare(outputs), True)


@pytest.mark.slow
@pytest.mark.skipif(distributed_missing, reason="needs deficit-engine[dask]")
def test_the_whole_matrix_on_a_larger_cohort(engine: Engine, tmp_path: Path) -> None:
    lines = outside_lines(engine.kb, 400, seed=5)
    with bench.local_cluster() as cluster:
        outputs = bench.run_matrix(lines, tmp_path, cluster.scheduler_address)
    verdicts = bench.compare({name: output for name, (output, _s) in outputs.items()})
    assert verdicts == dict.fromkeys(verdicts, True)
