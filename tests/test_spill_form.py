"""What a worker keeps of a diagnosis in its share's spill file, and gets back.

The planned batch spills each diagnosis without its needs (they go, each distinct one
once, to the share's table; the diagnosis keeps their positions) and without its
scores (read by the plan row already). Back from the file, the diagnosis must print
the same JSON as before, byte for byte. The cohort is synthetic (no real person's data).
"""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.cohort import _NeedTable, _spilled_result, _unspilled_result
from deficit_engine.models import Need, Result
from deficit_engine.planner import SharedValues, plan_row


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


def _through_a_file(value: object) -> object:
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def test_spilled_diagnoses_come_back_the_same_but_for_their_scores(engine: Engine) -> None:
    kb = engine.kb
    diagnosed = engine.diagnose_many(list(synthetic_profiles(kb, 1500, seed=24)))
    shared, table = SharedValues(), _NeedTable()
    spilled = []
    for profile, result in diagnosed:
        assert profile is not None and result.ok
        row = shared.row(plan_row(kb, profile, result))
        kept, positions = _spilled_result(result, row.needs, table)
        assert kept.needs == () and kept.scores is None and len(positions) == len(result.needs)
        spilled.append((result, _through_a_file(kept), positions))
    needs = _through_a_file(table.values)
    assert isinstance(needs, list)
    asked = sum(len(result.needs) for result, _kept, _positions in spilled)
    assert len(needs) * 10 < asked  # each distinct need once: most needs are shared
    for result, kept, positions in spilled:
        assert isinstance(kept, Result)
        back = _unspilled_result(kept, positions, needs)
        assert back == dataclasses.replace(result, scores=None)
        text = json.dumps(back.to_dict(), ensure_ascii=False)
        assert text == json.dumps(result.to_dict(), ensure_ascii=False)


def test_needs_equal_in_python_but_printed_otherwise_keep_their_own_places() -> None:
    shared, table = SharedValues(), _NeedTable()
    as_int = Need("program", "normative.fgos", (("max_hours", 36),), "R-1")
    as_float = Need("program", "normative.fgos", (("max_hours", 36.0),), "R-1")
    text = Need("program", "normative.fgos", (("education", "formal"),), "R-1")
    first = Result("a", (), (as_int, text), (), ())
    second = Result("b", (), (as_float, Need(*dataclasses.astuple(text))), (), ())
    kept = [
        _spilled_result(result, tuple(map(shared.need, result.needs)), table)
        for result in (first, second)
    ]
    needs = _through_a_file(table.values)
    assert isinstance(needs, list) and len(needs) == 3  # the text need once
    back = [_unspilled_result(result, positions, needs) for result, positions in kept]
    assert [json.dumps(r.to_dict()) for r in back] == [
        json.dumps(r.to_dict()) for r in (first, second)
    ]
    assert '"max_hours": 36,' in json.dumps(back[0].to_dict())
    assert '"max_hours": 36.0,' in json.dumps(back[1].to_dict())


def test_a_diagnosis_spilled_whole_comes_back_as_it_was() -> None:
    failed = Result.failed("#3", ["line 4: not JSON"])
    assert _unspilled_result(failed, None, []) is failed
