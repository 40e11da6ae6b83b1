"""The diagnosis task's deficits read from the columns, and its provenance coded from runs.

``engine._deficits_by_profile`` makes a columnar run's Deficits from the deficit blocks'
columns, only the ones kept (``_deficit_columns``), where it made one per distinct fact
(``_deficits_gathered``, still the way when a field is of another kind). ``normalise_many``
keeps a profile's provenance as its runs when no result names its origin, and the spill
(``cohort._SpillCodes.result``) codes them from the runs without making a Provenance.
Each is held here to the way it replaced: the same values, of the same types and signs,
in the same order.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np
import pytest

from deficit_engine import Engine
from deficit_engine import cohort as cohort_module
from deficit_engine import engine as engine_module
from deficit_engine import profile as profile_module
from deficit_engine.inference.columnar import Column, DerivedColumns, FactBlock
from deficit_engine.models import Result
from deficit_engine.models.provenance import PlainProvenance
from deficit_engine.planner import RowTable
from deficit_engine.rules.model import NUM, STR
from deficit_engine.synthetic import synthetic_profiles


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


def _rows(engine: Engine, count: int, seed: int) -> list[dict[str, Any]]:
    """Generated rows and changed copies: scores at zero (both signs), at the maximum,
    tiny, some results named, dated or sourced, an id twice."""
    rnd = random.Random(seed)
    out = []
    for data in synthetic_profiles(engine.kb, count, seed):
        out.append(data)
        changed = copy.deepcopy(data)
        for result in changed["results"]:
            draw = rnd.random()
            if draw < 0.15:
                result["score"] = rnd.choice([0.0, -0.0, 0, 5e-324])
            elif draw < 0.25:
                result["score"] = result.get("max", 100)
            elif draw < 0.3:
                result["date"] = "2025-03-14"
        if changed["results"] and rnd.random() < 0.2:
            again = dict(changed["results"][0], instrument="efom", date="2026-01-15")
            changed["results"].append(again)
        out.append(changed)
    return out


def _outcomes(engine: Engine, rows: list[dict[str, Any]]) -> list[DerivedColumns]:
    """The columnar runs' outcomes of diagnosing ``rows``."""
    caught: list[DerivedColumns] = []
    derive = engine.columnar.derive_columns

    def derive_caught(*args: Any, **kwargs: Any) -> DerivedColumns:
        outcome = derive(*args, **kwargs)
        caught.append(outcome)
        return outcome

    engine.columnar.derive_columns = derive_caught  # type: ignore[method-assign]
    try:
        engine.diagnose_many(copy.deepcopy(rows), slim=True)
    finally:
        del engine.columnar.derive_columns
    return caught


def _shown(per_profile: list[list[Any]]) -> str:
    """Every value of every object, with its type (``repr`` tells -0.0 from 0.0)."""
    return repr([[[(type(v), v) for v in vars(d).values()] for d in one] for one in per_profile])


def test_deficits_from_the_columns_equal_the_gathered_ones(engine: Engine) -> None:
    outcomes = _outcomes(engine, _rows(engine, 400, 31))
    assert outcomes
    for outcome in outcomes:
        assert engine_module._deficit_columns(outcome) is not None  # the columns' way
        made = engine_module._deficits_by_profile(engine.kb, outcome)
        assert sum(map(len, made)) > outcome.n  # several a profile
        assert _shown(made) == _shown(engine_module._deficits_gathered(engine.kb, outcome))


def _block(rule: str, pid: list[int], **fields: tuple[list[Any], list[bool]]) -> FactBlock:
    columns = {
        name: Column(np.array(values), np.array(present, dtype=bool))
        for name, (values, present) in fields.items()
    }
    return FactBlock("deficit", rule, tuple(fields), np.array(pid, dtype=np.int64), columns)


def _outcome(blocks: list[FactBlock], kinds: dict[str, str]) -> DerivedColumns:
    strings = ("methodical.lesson_design", "digital.tools", "critical", "moderate", "None")
    return DerivedColumns(3, np.ones(3, dtype=bool), blocks, strings, {"deficit": kinds})


_KINDS = {"competency": STR, "group": STR, "severity": STR, "score_pct": NUM}


def test_deficits_with_fields_absent_equal_the_gathered_ones(engine: Engine) -> None:
    # severities absent (read "None", as the string "None" is), groups and scores
    # absent, a competency twice in a profile at two severities and at one, -0.0
    blocks = [
        _block(
            "R1",
            [0, 0, 1, 2, 2],
            competency=([0, 1, 0, 1, 1], [True] * 5),
            severity=([2, 0, 3, 4, 0], [True, False, True, True, False]),
            group=([1, 0, 0, 0, 0], [False, False, True, True, True]),
            score_pct=([12.5, -0.0, 0.0, 3.0, 7.0], [True, True, False, True, True]),
        ),
        _block(
            "R2",
            [0, 1, 2],
            competency=([0, 0, 1], [True] * 3),
            severity=([3, 2, 2], [True] * 3),
            score_pct=([1.0, 2.0, 3.0], [True] * 3),
        ),
        _block("R3", [], competency=([], [])),
    ]
    outcome = _outcome(blocks, _KINDS)
    made = engine_module._deficits_by_profile(engine.kb, outcome)
    assert _shown(made) == _shown(engine_module._deficits_gathered(engine.kb, outcome))
    assert [len(one) for one in made] == [2, 1, 1]


@pytest.mark.parametrize(
    "kinds", [{**_KINDS, "score_pct": STR}, {**_KINDS, "competency": NUM}, {**_KINDS, "group": NUM}]
)
def test_deficits_of_other_kinds_are_gathered(kinds: dict[str, str]) -> None:
    block = _block("R1", [0], competency=([0], [True]), severity=([2], [True]))
    assert engine_module._deficit_columns(_outcome([block], kinds)) is None


def test_a_deficit_without_a_competency_is_gathered() -> None:
    block = _block("R1", [0, 1], competency=([0, 0], [True, False]), severity=([2, 2], [True] * 2))
    assert engine_module._deficit_columns(_outcome([block], _KINDS)) is None


def test_provenance_runs_are_coded_as_their_provenances(engine: Engine) -> None:
    rows = _rows(engine, 150, 47)
    unnamed = [row for row in rows if all(len(r) == 3 for r in row["results"])]
    # a chunk that names no origin keeps its runs; one that does, its Provenances
    for chunk in (unnamed, rows):
        diagnosed = engine.diagnose_many(copy.deepcopy(chunk), slim=True)
        runs = cohort_module._SpillCodes("cohort.jsonl")
        made = cohort_module._SpillCodes("cohort.jsonl")
        coded = 0
        for profile, result in diagnosed:
            if profile is None or not result.ok:
                continue
            kept = result.__dict__["provenance"]
            coded += type(kept) is PlainProvenance
            by_runs = runs.result(result)
            read = copy.copy(result)
            read.__dict__["provenance"] = result.provenance  # the Provenances, made
            assert type(read.__dict__["provenance"]) is tuple
            assert repr(by_runs) == repr(made.result(read))
        assert repr(runs.tables(())) == repr(made.tables(()))
        assert coded == (len(unnamed) if chunk is unnamed else 0)


def test_provenance_runs_read_back_from_the_spill(engine: Engine) -> None:
    rows = [row for row in _rows(engine, 60, 53) if all(len(r) == 3 for r in row["results"])]
    codes = cohort_module._SpillCodes("cohort.jsonl")
    table = RowTable()
    kept = []
    diagnosed = engine.diagnose_many(copy.deepcopy(rows), slim=True)
    for profile, result in diagnosed:
        assert profile is not None and type(result.__dict__["provenance"]) is PlainProvenance
        table.add(engine.kb, profile, result)
        kept.append(codes.result(result))
    reader = cohort_module._SpillReader(codes.tables(table.need_values()))
    for n, ((_profile, result), coded) in enumerate(zip(diagnosed, kept, strict=True)):
        back: Result = reader.result(coded, table.need_positions(n))
        assert repr(back.provenance) == repr(result.provenance)
        assert back.to_dict() == result.to_dict()


def test_a_text_folding_leaves_is_the_rows_own(engine: Engine) -> None:
    # as pydantic's way keeps it: the spill then pickles it once with the row's record
    data = next(iter(synthetic_profiles(engine.kb, 1, 61)))
    data["person"]["municipality"] = "Арсеньевский ГО"
    data["person"]["organization"] = "Apceньевская школа"  # Latin look-alikes: folded
    text = "".join(list(data["person"]["municipality"]))  # equal, another object
    assert profile_module._folded(text) is not data["person"]["municipality"]  # kept
    for fields_set_kept in (True, False):
        profile, _results = profile_module.parsed_apart_or_whole(
            data, engine.kb, fields_set_kept=fields_set_kept
        )
        person = profile.person
        assert person.municipality is data["person"]["municipality"]
        assert person.organization == profile_module._folded(data["person"]["organization"])
        assert person.organization != data["person"]["organization"]
