"""The quick JSON parse of a profile row vouches only for what the full scan would accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine._yaml import MAX_DEPTH
from deficit_engine.errors import ProfileError
from deficit_engine.profile import _NOT_VOUCHED, _quick_load, load_json_text

ROOT = Path(__file__).resolve().parents[1]


def _full(text: str) -> object:
    return json.loads(text)


def test_quick_parse_equals_the_json_module_on_generated_profiles() -> None:
    kb = Engine.from_path(ROOT, backend="python").kb
    for profile in synthetic_profiles(kb, 300, seed=5):
        text = json.dumps(profile, ensure_ascii=False)
        quick = _quick_load(text)
        assert quick is not _NOT_VOUCHED
        assert quick == _full(text)
        assert json.dumps(quick) == json.dumps(_full(text))  # same key order too


@pytest.mark.parametrize(
    "text",
    [
        '{"id": "a", "id": "b"}',
        '{"person": {"role": "teacher", "role": "manager"}}',
        '{"n": ' + "9" * 101 + "}",
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        '{"id": "a",}',
    ],
    ids=["repeated-key", "nested-repeated-key", "huge-integer", "too-deep", "syntax"],
)
def test_quick_parse_declines_what_the_full_scan_must_place(text: str) -> None:
    assert _quick_load(text) is _NOT_VOUCHED
    with pytest.raises(ProfileError) as info:
        load_json_text(text, "row")
    issue = info.value.issues[0]
    assert issue.line is not None and issue.col is not None


def test_many_brackets_in_strings_only_take_the_full_path() -> None:
    text = json.dumps({"id": "{" * (MAX_DEPTH + 5), "results": []})
    assert _quick_load(text) is _NOT_VOUCHED
    assert load_json_text(text, "row") == json.loads(text)
