"""Issue 17: ``report`` checks the types inside ``summary.json``: a malformed part is
one line naming its JSON path, exit 2, never a traceback (exit 3)."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deficit_engine.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real batch output folder (three profiles, planned): its summary.json."""
    base = yaml.safe_load((ROOT / "examples" / "methodist.yaml").read_text("utf-8"))
    folder = tmp_path_factory.mktemp("batch")
    source = folder / "cohort.jsonl"
    rows = [{**base, "id": f"P{i}"} for i in range(3)]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    out = folder / "out"
    assert main(["batch", str(source), "-o", str(out), "--workers", "1", "--quiet"]) == 0
    return out


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside ``value``."""
    yield prefix
    if isinstance(value, (dict, list)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            yield from paths(child, (*prefix, key))


def replaced(summary: Any, path: tuple[Any, ...], new: Any) -> Any:
    out = copy.deepcopy(summary)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return out


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def report(out: Path, summary: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "out"
        shutil.copytree(out, folder)
        (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        capsys.readouterr()
        code = main(["report", str(folder)])
        return code, capsys.readouterr().err


def test_a_summary_of_the_wrong_type_is_named_by_its_json_path(
    batch_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = json.loads((batch_out / "summary.json").read_text("utf-8"))
    code, err = report(batch_out, {**summary, "profiles": "three"}, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "summary.json: $.profiles: must be an integer" in err
    bad = replaced(summary, ("breakdowns", "municipality", 0, "groups"), {"x": "y"})
    code, err = report(batch_out, bad, capsys)
    assert code == 2 and "$.breakdowns.municipality[0].groups: must be an object of counts" in err
    code, _err = report(batch_out, summary, capsys)
    assert code == 0


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), new=json_values)
def test_any_malformed_summary_is_exit_0_or_one_line_exit_2(
    batch_out: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject, new: Any
) -> None:
    summary = json.loads((batch_out / "summary.json").read_text("utf-8"))
    path = data.draw(st.sampled_from([p for p in paths(summary) if p]))
    code, err = report(batch_out, replaced(summary, path, new), capsys)
    assert code in (0, 2), err
    if code == 2:
        assert err.count("\n") == 1 and "summary.json" in err and "Traceback" not in err


@pytest.mark.parametrize("row", [{}, {"people": 1}, {"groups": {}}])
def test_a_breakdown_row_without_its_key_is_reported_not_a_traceback(
    batch_out: Path, capsys: pytest.CaptureFixture[str], row: dict[str, Any]
) -> None:
    # found by the property above: a row without "key" passed the type checks (every
    # field is optional) and the experience table then sorted by row["key"]: KeyError
    summary = json.loads((batch_out / "summary.json").read_text("utf-8"))
    for dimension in summary["breakdowns"]:
        bad = replaced(summary, ("breakdowns", dimension, 0), row)
        code, err = report(batch_out, bad, capsys)
        assert code == 0, (dimension, err)
