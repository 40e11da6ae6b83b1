"""A part's shared pieces written as their JSON text, kept across a worker's parts.

``parts.Pieces`` gives a need, a recommendation or an unmet entry met a second time
in a part as an ``orjson.Fragment`` of its JSON, and keeps a need's or a
recommendation's for the worker's later parts (``parts._SHARED``, bounded). Each part
written so must be the bytes of the part written from each Result's plain
``to_dict`` (JSONL and Parquet), whatever the pieces hold (odd text, a lone surrogate
that orjson refuses, None), however the pieces are shared between people and parts,
when the kept texts are emptied midway, and for an empty part.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deficit_engine import cohort as cohort_module
from deficit_engine import parts as parts_module
from deficit_engine.models import Need, Recommendation, Result, Unmet
from deficit_engine.parts import PartRow, Pieces, forget_pieces, write_part

pytest.importorskip("pyarrow")

#: Text as ids, labels and reasons may hold it: ASCII, Cyrillic, empty, and lone
#: surrogates (an id read from a broken file), which orjson refuses.
TEXT = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["", "R-1", "Школа № 1", "T-\udc80", "\ud800x", 'a"b\\c\n']),
)


@st.composite
def cohorts(draw: st.DrawFn) -> tuple[list[list[Result]], list[str]]:
    """Parts of Results sharing a pool of needs, recommendations and unmet entries."""
    needs = [
        Need(
            draw(st.sampled_from(["program", "mentoring", "format"])),
            draw(st.none() | TEXT),
            tuple(draw(st.lists(st.tuples(TEXT, st.none() | TEXT | st.integers()), max_size=2))),
            draw(TEXT),
        )
        for _ in range(draw(st.integers(1, 6)))
    ]
    pick = st.lists(st.sampled_from(needs), max_size=3, unique_by=id).map(tuple)
    recs = [
        Recommendation(
            draw(st.sampled_from(["program", "mentor", "format"])),
            draw(TEXT),
            draw(TEXT),
            tuple(draw(st.lists(TEXT, max_size=2))),
            draw(pick),
            draw(TEXT),
            tuple(draw(st.lists(st.tuples(TEXT, st.none() | TEXT | st.floats(0, 99)), max_size=2))),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    unmet = [
        Unmet(draw(st.sampled_from(needs)), draw(TEXT), draw(TEXT))
        for _ in range(draw(st.integers(0, 3)))
    ]

    def person(n: int) -> Result:
        return Result(
            draw(TEXT) + str(n),
            (),
            tuple(draw(st.lists(st.sampled_from(needs), max_size=6))),
            (),
            (),
            recommendations=tuple(draw(st.lists(st.sampled_from(recs), max_size=4)))
            if recs
            else (),
            unmet=tuple(draw(st.lists(st.sampled_from(unmet), max_size=3))) if unmet else (),
        )

    sizes = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    people = iter(range(sum(sizes)))
    parts = [[person(next(people)) for _ in range(size)] for size in sizes]
    return parts, [draw(TEXT) for _ in range(3)]


def _plain_part(path: Path, results: list[Result], person: dict[str, Any], fmt: str) -> bytes:
    rows = [PartRow(r.profile, person, r.to_dict(trace=False)) for r in results]
    write_part(path, rows, fmt)
    return path.read_bytes()


@pytest.fixture
def no_kept_pieces() -> Iterator[None]:
    forget_pieces()
    yield
    forget_pieces()


def _kept_consistently() -> None:
    """Every kept text's item is kept alive under its id, and no more than the bound."""
    assert len(parts_module._SHARED) <= parts_module._SHARED_KEPT
    for ident in parts_module._SHARED:
        assert id(parts_module._SHARED_ITEMS[ident]) == ident


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("kept", [2, 4096])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohort=cohorts())
def test_parts_of_kept_texts_are_the_plain_parts_bytes(
    cohort: tuple[list[list[Result]], list[str]],
    fmt: str,
    kept: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Part after part (the texts kept across them, or emptied every two), each part
    is the bytes of the plain one, odd text, lone surrogates and empty parts too."""
    parts, (role, place, school) = cohort
    person = {"role": role, "municipality": place, "organization": school}
    folder = tmp_path_factory.mktemp("parts")
    options = cohort_module._PartOptions(fmt, False, ())
    forget_pieces()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parts_module, "_SHARED_KEPT", kept)
        for index, results in enumerate(parts):
            cohort_module._write_part_rows(
                str(folder), index, [(r, person) for r in results], options
            )
            _kept_consistently()
            mine = parts_module.part_path(folder, index, fmt).read_bytes()
            assert mine == _plain_part(folder / f"plain-{index}.{fmt}", results, person, fmt)
    forget_pieces()


def test_a_piece_met_again_is_its_text_and_kept_for_later_parts(no_kept_pieces: None) -> None:
    """Met once, a piece is its dict; met again, the fragment of its JSON, the same one
    for the part's later people; a need's and a recommendation's text is then kept for
    the next part (met there first as that text), an unmet entry's is not."""
    need = Need("program", "c.1", (("delivery", "online"),), "R-1")
    rec = Recommendation("program", "P-1", "Программа", ("c.1",), (need,), "R-1")
    unmet = Unmet(need, "нет программы")
    pieces = Pieces()
    first = pieces.each([need, rec, unmet])
    assert first == [need.to_dict(), rec.to_dict(), unmet.to_dict()]
    again = pieces.each([need, rec, unmet])
    assert all(type(piece) is orjson.Fragment for piece in again)
    assert orjson.dumps(again) == orjson.dumps(first)
    assert all(a is b for a, b in zip(pieces.each([need, rec, unmet]), again, strict=True))
    later = Pieces().each([need, rec, unmet])
    assert later[:2] == again[:2] and later[2] == unmet.to_dict()
    assert set(parts_module._SHARED) == {id(need), id(rec)}


def test_a_piece_orjson_refuses_stays_its_dict(no_kept_pieces: None) -> None:
    """A piece holding a lone surrogate is its dict however often it is met (json
    writes the record then), and is not kept for later parts."""
    need = Need("program", "c.\udc80", (), "R-1")
    pieces = Pieces()
    for _ in range(3):
        assert pieces.each([need]) == [need.to_dict()]
    assert not parts_module._SHARED


def test_the_kept_texts_are_emptied_when_full(
    no_kept_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the bound the kept texts are emptied, then kept again from there."""
    monkeypatch.setattr(parts_module, "_SHARED_KEPT", 3)
    needs = [Need("program", f"c.{n}", (), f"R-{n}") for n in range(7)]
    for need in needs:
        pieces = Pieces()
        pieces.each([need, need])
        _kept_consistently()
    assert set(parts_module._SHARED) == {id(needs[6])}


def test_a_batch_run_here_keeps_no_pieces(tmp_path: Path) -> None:
    """A batch run in this process (one worker) drops the texts it kept when done."""
    from deficit_engine import Engine, synthetic_profiles
    from deficit_engine.cli import main

    engine = Engine.from_path(backend="fast")
    source = tmp_path / "cohort.jsonl"
    source.write_bytes(
        b"".join(orjson.dumps(p) + b"\n" for p in synthetic_profiles(engine.kb, 300, seed=16))
    )
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / fmt
        command = ["batch", str(source), "-o", str(out), "--format", fmt, "--workers", "1"]
        assert main([*command, "--columnar", "--quiet"]) == 0
        assert not parts_module._SHARED and not parts_module._SHARED_ITEMS
