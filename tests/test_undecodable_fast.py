"""A row's undecodable bytes are found by UTF-8 encoding first: the same answer as the
search over every character, which now runs only for a text that cannot encode."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine.tables import _UNDECODABLE, _undecodable

# ASCII, Cyrillic, marked bytes (U+DC00-U+DCFF) and other lone surrogates
_CHARS = st.sampled_from(["a", "{", "Ж", "№", "\udc80", "\udcff", "\udc00", "\ud800", "\U0001f600"])


def _searched(text: str) -> str | None:
    found = _UNDECODABLE.search(text)
    return f"0x{ord(found.group()) - 0xDC00:02X}" if found else None


@settings(max_examples=300, deadline=None)
@given(st.lists(_CHARS, max_size=30).map("".join))
def test_undecodable_equals_the_search(text: str) -> None:
    assert _undecodable(text) == _searched(text)


def test_a_marked_byte_after_text_is_named() -> None:
    assert _undecodable('{"id": "Ж"}\udcc3') == "0xC3"
    assert _undecodable('{"id": "Ж"}') is None
