"""A worker's diagnosis task holds its share's dicts only until they are validated.

``cohort._diagnose_spilled`` hands the rows' dicts over (``_handed_over``) instead of
keeping them in its rows, so it tells a row labelled by its index from what the row
named before the diagnosis (``_own_name``); ``Engine.diagnose_many`` drops each input of
its own copy once validated, never the caller's.
"""

from __future__ import annotations

from typing import Any

import pytest

from deficit_engine import Engine
from deficit_engine import cohort as cohort_module
from deficit_engine.models import Result
from deficit_engine.synthetic import synthetic_profiles


def _labelled_before(profile: Any, result: Result, index: int) -> bool:
    """The label test as it read the row's own profile (before the dicts were handed over)."""
    label = f"#{index}"
    if result.profile != label:
        return False
    if isinstance(profile, Exception):
        return not getattr(profile, "profile_id", "")
    return not (isinstance(profile, dict) and profile.get("id") == label)


@pytest.mark.parametrize(
    "profile",
    [
        {"id": "#3"},
        {"id": "P-1"},
        {"id": 3},
        {"id": None},
        {},
        None,
        cohort_module._SetAside("cohort.jsonl:4: not JSON"),
        cohort_module._SetAside("cohort.jsonl:4: duplicate id", "P-1"),
        cohort_module._SetAside("cohort.jsonl:4: duplicate id", "#3"),
    ],
)
@pytest.mark.parametrize("label", ["#3", "#4", "P-1"])
def test_own_name_tells_what_the_profile_told(profile: Any, label: str) -> None:
    result = Result.failed(label, ["why"])
    named = cohort_module._own_name(profile)
    assert cohort_module._labelled_by_index(named, result, 3) == _labelled_before(
        profile, result, 3
    )


def test_handed_over_items_leave_the_list() -> None:
    items = [{"id": "a"}, {"id": "b"}, None]
    taken = []
    for item in cohort_module._handed_over(items):
        taken.append(item)
        assert len(items) == 3 - len(taken)  # no longer held by the list
    assert taken == [{"id": "a"}, {"id": "b"}, None] and items == []


def test_diagnose_many_leaves_the_callers_list_whole() -> None:
    engine = Engine.from_path(backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 20, 5))
    given = list(profiles)
    diagnosed = engine.diagnose_many(given)
    assert given == profiles and all(a is b for a, b in zip(given, profiles, strict=True))
    assert [result.profile for _p, result in diagnosed] == [p["id"] for p in profiles]


def test_a_share_diagnosed_in_pieces_spills_what_it_spilled_at_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task diagnoses its share a piece at a time (DIAGNOSIS_PIECE), so that only
    a piece's profiles and diagnoses are held at once: the spill file's items, the
    lines, the ids and the plan rows are those of the share diagnosed whole (value
    for value, as their reprs print them), rows labelled by their index (no id) and
    rows set aside in pieces other than the first included. Only which equal
    values are one object differs (a columnar run shares its own)."""
    import json
    from pathlib import Path

    from deficit_engine.tables import read_rows
    from deficit_engine.workers import unspill

    engine = Engine.from_path()
    lines = [json.dumps(p, ensure_ascii=False) for p in synthetic_profiles(engine.kb, 60, seed=9)]
    for n in (0, 13, 41):
        profile = json.loads(lines[n])
        del profile["id"]
        lines[n] = json.dumps(profile, ensure_ascii=False)
    lines[29] = "{not json"
    lines[50] = lines[3]  # a duplicate id: the parent sets it aside, not the task
    source = Path(tmp_path) / "cohort.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def spilled(piece: int) -> tuple[str, ...]:
        monkeypatch.setattr(cohort_module, "DIAGNOSIS_PIECE", piece)
        with read_rows(source, engine.kb) as table:
            shares = table.shares(1000)
            assert shares is not None
            [share] = list(shares)
        path = Path(tmp_path) / f"spill-{piece}.pickle"
        lines_, idents, rows = cohort_module._diagnose_spilled(
            engine, share, str(path), "columnar", (), False, True
        )
        items = unspill(path, 0, len(lines_) + 1)
        return repr(items), repr((lines_, idents)), repr(rows.__getstate__())

    whole = spilled(10_000)
    assert spilled(7) == whole
    assert spilled(1) == whole
