"""The quick JSON parse of a profile row vouches only for what the full scan would accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine import Engine, synthetic_profiles
from deficit_engine._yaml import MAX_DEPTH
from deficit_engine.errors import ProfileError
from deficit_engine.profile import (
    _NOT_VOUCHED,
    _BigInt,
    _orjson_load,
    _parse_int,
    _quick_load,
    _RepeatedKey,
    _unique_pairs,
    load_json_text,
)

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


# --- the orjson path vouches only for what the json module reads alike ---------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab:é"\\{[\x01Ж'), max_size=6)
)


def _pairs_object(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # an object as its pairs, keys from a small alphabet: some repeat within one object
    return st.lists(st.tuples(st.sampled_from(["a", "b", "c:d", "é"]), values), max_size=4).map(
        _Object
    )


class _Object(list):  # type: ignore[type-arg]
    """An object's (key, value) pairs as written, repeated keys kept."""


_DOCUMENTS = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | _pairs_object(inner), max_leaves=12
)


def _write(value: Any, spaced: bool, ascii_only: bool) -> str:
    comma, colon = (", ", ": ") if spaced else (",", ":")
    if isinstance(value, _Object):
        items = (
            f"{_write(k, spaced, ascii_only)}{colon}{_write(v, spaced, ascii_only)}"
            for k, v in value
        )
        return "{" + comma.join(items) + "}"
    if isinstance(value, list):
        return "[" + comma.join(_write(v, spaced, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _json_module(text: str) -> Any:
    """What the json module alone vouches for (the quick path before orjson)."""
    if text.count("{") + text.count("[") > MAX_DEPTH:
        return _NOT_VOUCHED
    try:
        return json.loads(text, parse_int=_parse_int, object_pairs_hook=_unique_pairs)
    except (ValueError, _BigInt, _RepeatedKey, RecursionError):
        return _NOT_VOUCHED


@settings(max_examples=400, deadline=None)
@given(_DOCUMENTS, st.booleans(), st.booleans())
def test_orjson_path_equals_the_json_module(document: Any, spaced: bool, ascii_only: bool) -> None:
    text = _write(document, spaced, ascii_only)
    expected = _json_module(text)
    fast = _orjson_load(text)
    if expected is _NOT_VOUCHED:
        assert fast is _NOT_VOUCHED  # a repeated key, an integer past the limit
    elif fast is not _NOT_VOUCHED:
        assert repr(fast) == repr(expected)  # types, -0.0, key order alike
    assert repr(_quick_load(text)) == repr(expected)


@pytest.mark.parametrize(
    "text",
    [
        '{"n":123456789012345678901}',  # orjson: a float
        '{"n": -9223372036854775809}',
        '{"a":1,"a":2}',
        '{"a": {"b": 1, "b": 1}}',
        '{"x":NaN}',
        '{"x": 1e400}',
        '{"s":"\\ud800"}',
    ],
)
def test_orjson_path_leaves_what_it_reads_otherwise_to_the_json_module(text: str) -> None:
    assert _orjson_load(text) is _NOT_VOUCHED
    assert repr(_quick_load(text)) == repr(_json_module(text))


def test_generated_rows_take_the_orjson_path_compact_and_spaced() -> None:
    kb = Engine.from_path(ROOT, backend="python").kb
    for profile in synthetic_profiles(kb, 100, seed=7):
        for text in (
            json.dumps(profile, ensure_ascii=False, separators=(",", ":")),
            json.dumps(profile),
        ):
            fast = _orjson_load(text)
            assert fast is not _NOT_VOUCHED
            assert repr(fast) == repr(json.loads(text))
