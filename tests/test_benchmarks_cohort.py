"""The cohort benchmark's own checks, on a tiny cohort (benchmarks/cohort.py).

No time is asserted here: these tests hold the checks that make the benchmark's
figures mean something. The hand-coded rules (benchmarks/handcoded.py) must give the
engine's deficits, needs and custom facts, and a benchmark whose hand-coded rules
or command-line output are wrong must stop instead of printing figures.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmark_scripts import load_benchmark
from deficit_engine import Engine, synthetic_profiles

cohort = load_benchmark("cohort")
handcoded = sys.modules["handcoded"]  # cohort.py imported it from beside itself


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(None, backend="fast")


def varied(engine: Engine, n: int) -> Iterator[dict[str, Any]]:
    """Synthetic profiles, with what they rarely or never hold: every fourth is given a
    qualification category, every seventh a good safety result but a poor first-aid
    indicator, so the rules on those fire too."""
    categories = ("pedagogue_methodist", "pedagogue_mentor", "highest", None)
    for i, profile in enumerate(synthetic_profiles(engine.kb, n, seed=5)):
        category = categories[(i // 4) % len(categories)] if i % 4 == 0 else None
        if category is not None:
            profile["person"]["category"] = category
        if i % 7 == 3:
            profile["results"] = [
                r
                for r in profile["results"]
                if r.get("competency") != "normative.safety"
                and not r.get("indicator", "").startswith("normative.safety.")
            ] + [
                {"competency": "normative.safety", "score": 90, "max": 100},
                {"indicator": "normative.safety.first_aid", "score": 1, "max": 5},
            ]
        yield profile


def test_hand_coded_rules_give_the_engines_outcome_and_cover_every_rule(engine: Engine) -> None:
    profiles = list(varied(engine, 600))
    figures = cohort.diagnose_cohort(engine, profiles)  # raises on the first difference
    assert figures.hand.profiles == figures.many.profiles == len(profiles)
    hand = cohort.hand_coded(engine)
    fired: set[str] = set()
    facts: set[Any] = set()
    for profile in profiles:
        outcome = hand.run(
            cohort.base_facts(cohort.normalise(engine.parse(profile), engine.kb), engine.kb)
        )
        fired.update(d[-1] for d in outcome.deficits)
        fired.update(n[-1] for n in outcome.needs)
        facts.update(outcome.facts)
    # the rules that only assert custom facts show in the facts instead
    only_facts = {
        "ROLE-MENTOR-CANDIDATE",
        "ROLE-MENTOR-CANDIDATE-CATEGORY",
        "WB-BURNOUT-CRITICAL",
        "WB-BURNOUT-ELEVATED",
        "WB-SELF-REGULATION-CRITICAL",
        "WB-CLIMATE-CONFLICT",
    }
    assert {rule.id for rule in engine.kb.rules} - only_facts - fired == set()
    assert (("type", "burnout_risk"), ("level", "critical")) in facts
    assert (("type", "mentor_candidate"), ("competency", "communicative.mentoring_skills")) in facts


class _Forgetful(handcoded.HandCoded):  # type: ignore[misc, name-defined]
    """Hand-coded rules that forget the stratum after ``not: deficit``."""

    def _needs_stratum1(self, *args: Any) -> None:
        return None


class _Misattributing(handcoded.HandCoded):  # type: ignore[misc, name-defined]
    """Hand-coded rules that credit every deficit to the wrong rule."""

    def _deficit_facts(self, p: Any) -> Any:
        found = super()._deficit_facts(p)
        return {c: {s: "DEF-LEVEL-CRITICAL" for s in sev} for c, sev in found.items()}


@pytest.mark.parametrize(("broken", "what"), [(_Forgetful, "needs"), (_Misattributing, "deficits")])
def test_a_hand_coded_rule_set_that_differs_stops_the_benchmark(
    engine: Engine, broken: type, what: str
) -> None:
    groups = {c: engine.kb.ontology.group_of(c) for c in engine.kb.ontology.competencies}
    with pytest.raises(cohort.BenchmarkError, match=f"hand-coded {what} differ"):
        cohort.diagnose_cohort(engine, varied(engine, 200), broken(groups))


def test_main_prints_no_figures_when_its_check_fails(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cohort, "hand_coded", lambda e: _Forgetful({}))
    assert cohort.main(["--profiles", "50", "--sample", "10", "--no-cli"]) == 2
    out, err = capsys.readouterr()
    assert "check failed, no figures" in err
    assert "µs/profile" not in out


def test_a_small_run_end_to_end_prints_every_section_and_the_targets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--profiles", "40", "--sample", "20", "--workers", "1", "--formats", "parquet"]
    assert cohort.main(argv) == 0
    out = capsys.readouterr().out
    for heading in ("1. end to end", "2. diagnose only", "3. per stage", "4. Engine.evaluate"):
        assert heading in out
    assert "identical deficits, needs, facts on every profile" in out
    targets = out.split("targets (issue 16):")[1]
    assert targets.count("met") >= 4  # each target with its verdict, met or NOT met


def test_a_cli_run_that_writes_too_few_rows_is_refused(engine: Engine, tmp_path: Path) -> None:
    source = tmp_path / "cohort.jsonl"
    cohort.write_cohort(engine, 12, 3, source)
    run = cohort.run_cli(source, tmp_path, "jsonl", 1, 12)
    assert run.bytes_results > 0 and run.largest_mib > 0
    with pytest.raises(cohort.BenchmarkError, match="12 rows written, 13 expected"):
        cohort.run_cli(source, tmp_path, "jsonl", 1, 13)


def test_compared_runs_flip_which_tree_goes_first_each_round(tmp_path: Path) -> None:
    """batch_cpu.py and output_formats.py run the trees in turns, the first one
    changing each round, so that neither is always the one that starts cold."""
    batch_cpu = load_benchmark("batch_cpu")
    order: list[Path] = []

    def run_child(src: Path) -> dict[str, Any]:
        order.append(src)
        return {"figures": {}, "digests": {}}

    trees, runs = batch_cpu.compared_runs(tmp_path, 4, run_child)
    this, against = trees["this"], trees["against"]
    assert order == [this, against, against, this, this, against, against, this]
    assert [len(runs[name]) for name in ("this", "against")] == [4, 4]


#: Loads batch_cpu.py, has it get pyarrow ready as its child does before any clock
#: starts, writes a Parquet part as the worker task does, and says whether pandas
#: was loaded (a process of its own: pyarrow's look for pandas is made once).
_BATCH_CPU_PANDAS = """
import subprocess
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from benchmark_scripts import load_benchmark
from deficit_engine.parts import PartRow, write_part

load_benchmark("batch_cpu")._arrow_as_a_worker()
rows = [PartRow("P-1", {"role": "teacher", "experience_years": 3}, {"profile": "P-1"})]
write_part(Path(sys.argv[1]), rows, "parquet")
print("pandas" in sys.modules)
"""


def test_batch_cpu_times_the_parquet_task_without_pandas_as_a_worker(tmp_path: Path) -> None:
    """A pool worker writes its Parquet parts without pyarrow loading pandas
    (parts.arrow_without_pandas); batch_cpu.py's child gets pyarrow so before its
    clocks, or the Parquet worker task's figure holds pandas' import (0.2-0.3 s)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _BATCH_CPU_PANDAS,
            str(tmp_path / "part.parquet"),
            str(Path(__file__).resolve().parent),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False"]
