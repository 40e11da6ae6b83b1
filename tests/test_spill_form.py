"""What a worker keeps of a person in its share's spill file, and gets back.

The planned batch spills each row, validated profile and diagnosis coded
(``cohort._SpillCodes``): each distinct part once in the share's tables, a person
their own values and the parts' positions; the diagnosis without its needs (their
positions in the share's RowTable of plan rows) and its scores (read by the plan
row already). Back from the file (``cohort._SpillReader``), each must be what it
was, value for value and type for type, and print the same JSON, byte for byte.
What the code does not cover is kept as itself. The share's RowTable goes to the
parent, which merges it into its own: that must equal appending the rows one by
one. The cohort is synthetic (no real person's data).
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from typing import Any

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.cohort import (
    PersonKeys,
    _Input,
    _SpillCodes,
    _SpillReader,
    _unspilled_result,
)
from deficit_engine.kb import KnowledgeBase
from deficit_engine.models import Need, Provenance, Result
from deficit_engine.planner import PlanRow, RowTable, plan_row
from deficit_engine.schema import Profile


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


def _through_a_file(value: object) -> Any:
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _same_model(a: Any, b: Any) -> None:
    """Two pydantic models alike in every part a pickle keeps, recursively."""
    assert type(a) is type(b)
    assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
    assert a.__pydantic_extra__ == b.__pydantic_extra__
    assert a.__pydantic_private__ == b.__pydantic_private__
    assert list(a.__dict__) == list(b.__dict__)
    for name, value in a.__dict__.items():
        other = b.__dict__[name]
        if hasattr(value, "__pydantic_fields_set__"):
            _same_model(value, other)
        else:
            assert type(value) is type(other) and value == other, name
            if isinstance(value, list):
                assert value is not other  # a list of its own


def _same_result(a: Result, b: Result) -> None:
    assert a == b
    assert list(a.__dict__) == list(b.__dict__)
    for x, y in zip(a.deficits + a.provenance, b.deficits + b.provenance, strict=True):
        assert list(vars(x).items()) == list(vars(y).items())
        assert [type(v) for v in vars(x).values()] == [type(v) for v in vars(y).values()]
    assert json.dumps(a.to_dict(), ensure_ascii=False) == json.dumps(
        b.to_dict(), ensure_ascii=False
    )


def _spilled(
    kb: KnowledgeBase, people: list[tuple[_Input, Profile, Result]], slim: bool
) -> list[Any]:
    """Each person coded, the share's tables and rows through a file, then read back."""
    table, codes = RowTable(), _SpillCodes("cohort.jsonl")
    kept = []
    for n, (row, profile, result) in enumerate(people):
        table.append(plan_row(kb, profile, result))
        kept.append(codes.person(row, profile, result, table, n, False, slim))
    tables, kept = _through_a_file((codes.tables(table.need_values()), kept))
    reader = _SpillReader(tables)
    return [
        (reader.row(r), reader.profile(p), reader.result(d, positions))
        for r, p, d, positions, _by_index in kept
    ]


def _row(n: int, profile: Profile) -> _Input:
    keys = PersonKeys(profile.person.municipality, profile.person.organization, "teacher", 3.0)
    return _Input(n + 1, None, {"role": "teacher", "n": n}, keys, f"cohort.jsonl:{n + 1}")


@pytest.mark.parametrize("slim", [True, False])
def test_spilled_people_come_back_the_same_but_for_their_scores(engine: Engine, slim: bool) -> None:
    kb = engine.kb
    diagnosed = engine.diagnose_many(list(synthetic_profiles(kb, 500, seed=24)))
    people = [(_row(n, p), p, r) for n, (p, r) in enumerate(diagnosed) if p is not None]
    assert len(people) == 500
    assert any(p.requests for _row_, p, _r in people) and any(r.facts for *_pr, r in people)
    back = _spilled(kb, people, slim)
    coded = 0
    for (row, profile, result), (row_back, profile_back, result_back) in zip(
        people, back, strict=True
    ):
        assert row_back == row and type(row_back.keys) is PersonKeys
        assert isinstance(profile_back, Profile)
        expected = profile.model_copy(update={"results": []}) if slim else profile
        _same_model(profile_back, expected)
        _same_result(result_back, dataclasses.replace(result, scores=None))
        coded += not profile.results or slim
    assert coded  # some went through the code, not only as themselves


def test_what_the_code_does_not_cover_is_kept_as_itself(engine: Engine) -> None:
    kb = engine.kb
    (profile, result), *_ = engine.diagnose_many(list(synthetic_profiles(kb, 1, seed=3)))
    assert profile is not None
    codes = _SpillCodes("cohort.jsonl")
    traced = dataclasses.replace(result, trace=result.trace or ((),))  # type: ignore[arg-type]
    assert isinstance(codes.result(traced), Result)
    assert profile.results and codes.profile(profile, slim=False) is profile
    moved = _row(0, profile)
    moved = dataclasses.replace(moved, place="other.jsonl:1")
    assert _SpillReader(codes.tables([])).row(codes.row(moved)) == moved


def test_provenance_keeps_its_own_numbers_and_their_types() -> None:
    given = (
        Provenance("a.b", "competency", 40.0, set_aside=2),
        Provenance("a.b", "competency", 40, set_aside=True),  # type: ignore[arg-type]
        Provenance("a.c", "indicator", 12.5, "Test", "T-1", "self", "2026-01-02"),
    )
    result = Result("p", (), (), (), (), provenance=given)
    codes = _SpillCodes("cohort.jsonl")
    kept = _through_a_file(codes.result(result))
    back = _SpillReader(_through_a_file(codes.tables([]))).result(kept, ())
    _same_result(back, result)
    assert [type(p.set_aside) for p in back.provenance] == [int, bool, int]
    assert [type(p.score_pct) for p in back.provenance] == [float, int, float]


def test_needs_equal_in_python_but_printed_otherwise_keep_their_own_places() -> None:
    as_int = Need("program", "normative.fgos", (("max_hours", 36),), "R-1")
    as_float = Need("program", "normative.fgos", (("max_hours", 36.0),), "R-1")
    text = Need("program", "normative.fgos", (("education", "formal"),), "R-1")
    rows = [
        _plan_row("a", (as_int, text)),
        _plan_row("b", (as_float, Need(*dataclasses.astuple(text)))),
    ]
    table = _through_a_file(RowTable(rows))
    needs = table.need_values()
    assert len(needs) == 3  # the text need once
    back = [
        _unspilled_result(Result(r.id, (), (), (), ()), table.need_positions(n), needs)
        for n, r in enumerate(rows)
    ]
    assert '"max_hours": 36,' in json.dumps(back[0].to_dict())
    assert '"max_hours": 36.0,' in json.dumps(back[1].to_dict())
    assert back[0].needs[1] is back[1].needs[1]


def test_a_diagnosis_spilled_whole_comes_back_as_it_was() -> None:
    failed = Result.failed("#3", ["line 4: not JSON"])
    assert _SpillReader(_SpillCodes("x").tables([])).result(failed, None) is failed


def _plan_row(ident: str, needs: tuple[Need, ...], **changed: Any) -> PlanRow:
    row = PlanRow(
        id=ident,
        role="teacher",
        organization="School 1",
        municipality=None,
        subjects=frozenset({"math"}),
        levels=frozenset(),
        delivery=("online",),
        period=("2026-09", "2027-05"),
        period_hours=72.0,
        needs=needs,
        severities={"a.b": "high"},
        group_pct={"a": 40.0},
        deficits=(("a", "a.b", "high"),),
        strengths=(),
    )
    return row._replace(**changed)


def _typed(value: Any) -> Any:
    """A value with its type and its items' types (1, 1.0 and True are equal)."""
    if isinstance(value, dict):
        return value, [(k, type(v)) for k, v in value.items()]
    if isinstance(value, (tuple, frozenset)):
        return value, type(value), [_typed(v) for v in value]
    return value, type(value)


def _decoded(table: RowTable) -> list[Any]:
    """Every row of ``table``, field by field with its values' types."""
    return [None if row is None else [_typed(value) for value in row] for row in table]


def test_share_tables_merged_are_the_rows_appended_one_by_one(engine: Engine) -> None:
    kb = engine.kb
    diagnosed = engine.diagnose_many(list(synthetic_profiles(kb, 600, seed=31)))
    rows: list[PlanRow | None] = [
        plan_row(kb, p, r) if p is not None and r.ok else None for p, r in diagnosed
    ]
    need = rows[0].needs[0] if rows[0] is not None else Need("program", None, (), "R")
    odd = [
        None,
        _plan_row("x", (need,), group_pct={"a": 40}),  # an int score: the mapping held whole
        _plan_row("y", (need,), severities={"a.b": "low"}),  # not made from the deficits
        _plan_row("z", (), period_hours=72, organization=None),
    ]
    rows[100:100] = odd
    rows[450:450] = odd
    whole = RowTable(rows)
    merged = RowTable()
    shares = [rows[:256], rows[256:512], rows[512:]]
    dropped = {5, 17}  # of the second share: duplicates found in the parent
    for k, share in enumerate(shares):
        merged.merge(_through_a_file(RowTable(share)), dropped if k == 1 else set())
    expected = [
        None if 256 <= n < 512 and n - 256 in dropped else row for n, row in enumerate(rows)
    ]
    # through a file as the shares' tables come: an equal set rebuilt by unpickling
    # may list its items in another order (the batch's rows always came so)
    appended = RowTable(_through_a_file(expected))
    assert len(merged) == len(whole) == len(appended)
    assert _decoded(merged) == _decoded(appended)
    assert [merged.needs(n) for n in range(len(rows))] == [
        appended.needs(n) for n in range(len(rows))
    ]
    assert [merged.severities(n) for n in range(len(rows))] == [
        appended.severities(n) for n in range(len(rows))
    ]
    assert list(merged.school_entries()) == list(appended.school_entries())
