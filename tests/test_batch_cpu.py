"""The batch's per-person work made cheaper, with the same output byte for byte.

Differential: on 2,000 seeded synthetic profiles (deficit_engine.synthetic: no real
person's data), evaluated and routed, each faster piece is held to a reference
written here the plain way, as the code was before it was made faster:

- a part (JSONL and Parquet) against the part written from ``str`` columns by
  ``pyarrow.Table.from_pydict`` (the file's bytes), also past the size where the
  JSON texts no longer go to Arrow as bytes;
- a JSONL part's lines written by ``os.writev`` against the lines joined, with writes
  cut short and more lines than one call takes;
- the route's hours in ``Result.to_dict`` against the arithmetic done every time
  (remembered by value now: ``8`` and ``8.0`` are one key);
- ``Result.severities`` and ``Recommendation.rules`` (made once now) against a fresh
  computation, and the GC pause of the part writers restored as it was;
- a validated profile's one-pass check of its ids against the placed checks;
- ``Recommendation.get`` against a dict of its attributes;
- a worker's part task (``cohort._write_rows``) makes its digests with the collector
  paused, as the Results' dicts, and they are the digests made the plain way;
- a part whose shared needs, recommendations and unmet entries have their dicts
  made once (``parts.Pieces``) against the part written from plain ``Result.to_dict`` dicts, on
  a planned cohort (its recommendations shared as in a batch), and with a lone
  surrogate in a piece and beside the pieces;
- a deficit's and a provenance's dict (a copy of the instance's ``__dict__``) against
  their fields, however they were made; the route's and steps' dicts and a digest
  (made without its ``__init__``) against the plain ones.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine import cohort as cohort_module
from deficit_engine import parts as parts_module
from deficit_engine import profile as profile_module
from deficit_engine.engine import route_planned
from deficit_engine.errors import SourceError
from deficit_engine.gcpause import paused_gc
from deficit_engine.models import Deficit, Need, Result, Route, Step, json_number
from deficit_engine.models import route as route_module
from deficit_engine.months import month_range
from deficit_engine.outputs import PERSON_FIELDS, person_record
from deficit_engine.parts import PartRow, Pieces, write_part
from deficit_engine.planner import plan_cohort

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

COHORT = 2_000
SEED = 1616
CHUNK = 256  # as cohort.PART_CHUNK: a Parquet part is one row group of a chunk


@pytest.fixture(scope="module")
def evaluated() -> list[tuple[dict[str, Any], Result]]:
    engine = Engine.from_path(backend="fast")
    profiles = list(synthetic_profiles(engine.kb, COHORT, seed=SEED))
    return [(p, engine.evaluate(p)) for p in profiles]


@pytest.fixture(scope="module")
def rows(evaluated: list[tuple[dict[str, Any], Result]]) -> list[PartRow]:
    return [
        PartRow(result.profile, person_record(profile), result.to_dict(trace=False))
        for profile, result in evaluated
        if result.ok
    ]


# --- the reference writers: the plain way --------------------------------------------


def _reference_text(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_reference_text(item) for item in value]
    return value


def _reference_json(result: Any) -> str:
    try:
        return orjson.dumps(result).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(result, ensure_ascii=True, separators=(",", ":"))


def _reference_parquet(path: Path, rows: Sequence[PartRow]) -> None:
    """The part as ``str`` columns through ``Table.from_pydict``, with the writer's options."""
    schema = parts_module._schema(())
    columns: dict[str, list[Any]] = {"profile": [_reference_text(r.profile) for r in rows]}
    for name in PERSON_FIELDS:
        columns[name] = [_reference_text(r.person.get(name)) for r in rows]
    columns["experience_years"] = [
        None if v is None else float(v) for v in columns["experience_years"]
    ]
    deficits = [r.result.get("deficits") or [] for r in rows]
    columns["deficits"] = [[_reference_text(d.get("competency")) for d in ds] for ds in deficits]
    columns["severities"] = [[_reference_text(d.get("severity")) for d in ds] for ds in deficits]
    columns["result"] = [_reference_json(r.result) for r in rows]
    pq.write_table(
        pa.Table.from_pydict(columns, schema=schema),
        path,
        row_group_size=max(1, len(rows)),
        compression="zstd",
        use_dictionary=[
            parts_module._leaf(f) for f in schema if f.name not in parts_module._NO_DICTIONARY
        ],
    )


def _chunks(rows: Sequence[PartRow]) -> list[Sequence[PartRow]]:
    return [rows[at : at + CHUNK] for at in range(0, len(rows), CHUNK)]


# --- parts ----------------------------------------------------------------------------


def test_parquet_parts_are_the_reference_bytes(rows: list[PartRow], tmp_path: Path) -> None:
    assert len(rows) == COHORT  # every synthetic profile evaluated
    for n, chunk in enumerate(_chunks(rows)):
        mine, theirs = tmp_path / f"mine-{n}.parquet", tmp_path / f"ref-{n}.parquet"
        write_part(mine, chunk, "parquet")
        _reference_parquet(theirs, chunk)
        assert mine.read_bytes() == theirs.read_bytes(), f"part {n}"


def test_parquet_past_the_offsets_limit_is_the_same(
    rows: list[PartRow], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts beyond what 32-bit offsets address go to Arrow as ``str``: same file."""
    chunk = rows[:CHUNK]
    monkeypatch.setattr(parts_module, "_STRING_BYTES", 10_000)  # a few Results' worth
    write_part(tmp_path / "mine.parquet", chunk, "parquet")
    _reference_parquet(tmp_path / "ref.parquet", chunk)
    assert (tmp_path / "mine.parquet").read_bytes() == (tmp_path / "ref.parquet").read_bytes()


def test_odd_text_is_escaped_as_the_reference(tmp_path: Path) -> None:
    """A lone surrogate in an id, a field and a Result; Cyrillic and ASCII beside it."""
    odd = [
        PartRow(
            "T-\udc80",
            {"role": "teacher", "municipality": "Тверь\ud800", "subjects": ["math", "х\udfff"]},
            {"profile": "T-\udc80", "deficits": [{"competency": "c\udc81", "severity": "high"}]},
        ),
        PartRow("Т-1", {"organization": "Школа № 1"}, {"profile": "Т-1", "deficits": []}),
        PartRow("", {}, {}),
    ]
    write_part(tmp_path / "mine.parquet", odd, "parquet")
    _reference_parquet(tmp_path / "ref.parquet", odd)
    assert (tmp_path / "mine.parquet").read_bytes() == (tmp_path / "ref.parquet").read_bytes()
    table = pq.read_table(tmp_path / "mine.parquet")
    assert table.column("profile").to_pylist() == ["T-\\udc80", "Т-1", ""]


def test_jsonl_parts_are_the_records_as_orjson_writes_them(
    rows: list[PartRow], tmp_path: Path
) -> None:
    chunk = rows[:CHUNK]
    write_part(tmp_path / "p.jsonl", chunk, "jsonl")
    want = b"".join(
        orjson.dumps(
            {"profile": r.profile, "person": dict(r.person), **r.result},
            option=orjson.OPT_APPEND_NEWLINE,
        )
        for r in chunk
    )
    assert (tmp_path / "p.jsonl").read_bytes() == want


@pytest.mark.parametrize("most", [None, 1, 7, 40_000])
def test_jsonl_lines_written_by_writev_are_the_lines_joined(
    most: int | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``parts._write_lines`` (``os.writev``, a few lines a call) writes the lines
    joined, also when each write stops short (``most`` bytes at most: mid-line), with
    more lines than one call takes, and over a file that was longer."""
    lines = [f'{{"n": {n}, "t": "Т-{n}"}}\n'.encode() for n in range(2_500)]
    lines[3] = b"x" * 100_000 + b"\n"
    writev = os.writev
    calls: list[int] = []

    def short(fd: int, buffers: Sequence[bytes]) -> int:
        calls.append(len(buffers))
        assert len(buffers) <= parts_module._IOV_MAX
        if most is None:
            return writev(fd, buffers)
        return os.write(fd, b"".join(buffers)[:most])

    monkeypatch.setattr(os, "writev", short)
    path = tmp_path / "p.jsonl"
    path.write_bytes(b"old" * 1_000_000)
    parts_module._write_lines(path, list(lines))
    assert path.read_bytes() == b"".join(lines)
    assert calls and (most is not None or len(calls) == 3)  # 2,500 lines: 1,024 a call


def test_jsonl_lines_without_writev_are_joined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where ``os.writev`` is missing (Windows), the lines are joined and written."""
    monkeypatch.delattr(os, "writev")
    parts_module._write_lines(tmp_path / "p.jsonl", [b"a\n", b"bc\n"])
    assert (tmp_path / "p.jsonl").read_bytes() == b"a\nbc\n"


def test_a_write_that_writes_nothing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "writev", lambda fd, buffers: 0)
    with pytest.raises(OSError, match="nothing written"):
        parts_module._write_lines(tmp_path / "p.jsonl", [b"a\n"])


@pytest.mark.parametrize("enabled", [True, False])
def test_the_gc_pause_restores_the_collector_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with pytest.raises(RuntimeError), paused_gc():
            assert not gc.isenabled()
            raise RuntimeError("a part failed")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_a_part_task_makes_its_digests_with_the_collector_paused(
    evaluated: list[tuple[dict[str, Any], Result]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The digests' tuples make no cycles, and a collection they triggered walked the
    whole cohort a worker holds (py-spy: more CPU than the Results' dicts)."""
    results = [(result, person_record(profile)) for profile, result in evaluated[:CHUNK]]
    seen: list[tuple[bool, int]] = []
    plain = cohort_module.digest
    made = cohort_module.digests

    def watched(items: list[Result], trace: bool = False, *, line: bool = True) -> Any:
        seen.append((gc.isenabled(), len(items)))
        return made(items, trace, line=line)

    monkeypatch.setattr(cohort_module, "digests", watched)
    for fmt, lines in (("jsonl", False), ("parquet", True)):
        seen.clear()
        options = cohort_module._PartOptions(fmt, False, (), lines)
        sent = cohort_module._write_rows(str(tmp_path / fmt), 0, results, options)
        assert seen == [(False, len(results))]  # every digest made in the pause
        assert gc.isenabled()  # restored after the task
        assert sent == [plain(result, False, line=lines) for result, _person in results]


# --- the Result's pieces made once ----------------------------------------------------


def _reference_hours(hours: float) -> float | int:
    c = round(float(hours) * 100)
    return c // 100 if c % 100 == 0 else c / 100


def _reference_route_hours(route: Route) -> dict[str, Any]:
    return {
        "hours_per_month": _reference_hours(route.hours_per_month),
        "steps": [
            (_reference_hours(s.hours), {m: _reference_hours(h) for m, h in s.allocation})
            for s in route.steps
        ],
    }


def test_route_hours_are_the_arithmetic_done_each_time(
    evaluated: list[tuple[dict[str, Any], Result]],
) -> None:
    routed = 0
    for _profile, result in evaluated:
        if result.route is None:
            continue
        data = result.to_dict(trace=False)["route"]
        mine = {
            "hours_per_month": data["hours_per_month"],
            "steps": [(s["hours"], s["allocation"]) for s in data["steps"]],
        }
        # orjson bytes: 8 and 8.0 are equal in Python, not in the JSON
        assert orjson.dumps(mine) == orjson.dumps(_reference_route_hours(result.route))
        routed += 1
    assert routed > COHORT // 2


def test_remembered_hours_keep_their_json_type() -> None:
    """The memo is keyed by value: 8.0 after 8 (equal keys) still shows as 8, 8.5 as 8.5."""
    for hours in (8, 8.0, 8.5, 0.125, 1e-9, -0.0, 2.675, 10**6 + 0.5):
        for _ in range(2):  # computed, then remembered
            assert orjson.dumps(route_module._json_hours(hours)) == orjson.dumps(
                _reference_hours(hours)
            )


def test_the_memo_of_hours_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(route_module, "_HOURS_JSON", {})
    monkeypatch.setattr(route_module, "_HOURS_KEPT", 10)
    for n in range(50):
        assert route_module._json_hours(n + 0.25) == _reference_hours(n + 0.25)
    assert len(route_module._HOURS_JSON) == 10


def test_severities_and_rules_are_made_once_and_right(
    evaluated: list[tuple[dict[str, Any], Result]],
) -> None:
    for _profile, result in evaluated[:300]:
        assert result.severities == {d.competency: d.severity for d in result.deficits}
        assert result.severities is result.severities
        for rec in result.recommendations:
            assert rec.rules == tuple(dict.fromkeys(n.rule for n in rec.needs))
            assert rec.rules is rec.rules
            assert rec.to_dict()["rules"] == list(rec.rules)


def test_a_recommendations_attribute_is_the_dicts(
    evaluated: list[tuple[dict[str, Any], Result]],
) -> None:
    asked = 0
    for _profile, result in evaluated[:300]:
        for rec in result.recommendations:
            for name in (*(key for key, _v in rec.attrs), "hours", "nothing"):
                assert rec.get(name, "-") == dict(rec.attrs).get(name, "-")
                asked += 1
    assert asked > 1_000
    twice = dataclasses.replace(rec, attrs=(("hours", 1), ("hours", 2)))
    assert twice.get("hours") == 2  # the last pair, as a dict of them keeps


def _variants(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """The profile, and copies each with one reference wrong in its own way."""
    results = profile.get("results") or []
    out = [profile]
    if results:
        first = results[0]
        out.append({**profile, "results": [*results, dict(first)]})  # a repeat
        out.append({**profile, "results": [*results, {**first, "date": "2026-01-01"}]})
        unknown = {k: v for k, v in first.items() if k not in ("competency", "indicator")}
        out.append({**profile, "results": [*results, {**unknown, "competency": "no.such"}]})
        out.append({**profile, "results": [*results, {**unknown, "indicator": "no.such"}]})
    out.append({**profile, "requests": ["no.such"]})
    person = profile.get("person") or {}
    out.append({**profile, "person": {**person, "subjects": ["no_such_subject"]}})
    return out


def test_the_one_pass_check_agrees_with_the_placed_checks(
    evaluated: list[tuple[dict[str, Any], Result]],
) -> None:
    """``_references_known`` is True exactly where the placed checks find nothing."""
    kb = Engine.from_path().kb
    told = {True: 0, False: 0}
    for profile, _result in evaluated[:400]:
        for variant in _variants(profile):
            model = profile_module.Profile.model_validate(variant)
            issues = [
                *profile_module._subject_issues(model.person.subjects, kb, ""),
                *profile_module._reference_issues(model.results, model.requests, kb, ""),
            ]
            known = profile_module._references_known(model, kb)
            assert known == (not issues), variant.get("id")
            told[known] += 1
            if issues:
                with pytest.raises(SourceError) as caught:
                    profile_module.parse_profile(variant, kb)
                assert [i.message for i in caught.value.issues] == [i.message for i in issues]
    assert told[True] >= 400 and told[False] >= 1_000


# --- shared pieces written once per part ----------------------------------------------


@pytest.fixture(scope="module")
def planned(
    evaluated: list[tuple[dict[str, Any], Result]],
) -> list[tuple[Result, dict[str, Any]]]:
    """The cohort planned and routed as a planned batch does it: the plan interns its
    recommendations, so people share them, as the engine shares their needs."""
    engine = Engine.from_path(backend="fast")
    diagnosed = list(engine.diagnose_many([profile for profile, _result in evaluated]))
    plan = plan_cohort(engine.kb, diagnosed)
    return [
        (route_planned(engine.kb, profile, result, resolution), person_record(raw))
        for (profile, result), resolution, (raw, _evaluated) in zip(
            diagnosed, plan.resolutions, evaluated, strict=True
        )
    ]


def _shared(people: Sequence[tuple[Result, dict[str, Any]]]) -> int:
    """How many of the people's needs and recommendations are another's object too."""
    seen: set[int] = set()
    repeated = 0
    for result, _person in people:
        for piece in (*result.needs, *result.recommendations):
            repeated += id(piece) in seen
            seen.add(id(piece))
    return repeated


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_part_of_shared_pieces_is_the_plain_parts_bytes(
    planned: list[tuple[Result, dict[str, Any]]], fmt: str, tmp_path: Path
) -> None:
    """``_write_rows`` (each shared piece's dict made once) writes the bytes of the
    part written from the plain dicts, part after part of the planned cohort."""
    assert sum(result.route is not None for result, _person in planned) > COHORT // 2
    options = cohort_module._PartOptions(fmt, False, ())
    for index, at in enumerate(range(0, len(planned), CHUNK)):
        chunk = planned[at : at + CHUNK]
        assert _shared(chunk) > len(chunk)  # the pieces are reused, not only made
        cohort_module._write_rows(str(tmp_path), index, chunk, options)
        plain = [PartRow(r.profile, p, r.to_dict(trace=False)) for r, p in chunk if r.ok]
        write_part(tmp_path / f"plain-{index}.{fmt}", plain, fmt)
        mine = parts_module.part_path(tmp_path, index, fmt).read_bytes()
        assert mine == (tmp_path / f"plain-{index}.{fmt}").read_bytes(), f"part {index}"


def test_pieces_are_told_apart_by_identity_while_they_live() -> None:
    """Needs made and dropped one after another could take each other's id: the
    Pieces keep each one alive, so each one's dict is its own."""
    pieces = Pieces()
    for n in range(200):
        need = Need("program", f"c.{n}", (("delivery", "online"),), f"R-{n}")
        (written,) = pieces.each([need])
        assert written == need.to_dict()
        del need, written  # freed but for the Pieces: its id may not be reused


def _surrogate_result(result: Result, profile: str, rule: str) -> Result:
    need = dataclasses.replace(result.needs[0], rule=rule)
    return dataclasses.replace(result, profile=profile, needs=(need, *result.needs))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize(
    "profile, rule", [("T-\udc80", "R-1"), ("T-1", "R-\udc80"), ("T-\ud800", "R-\udfff")]
)
def test_a_lone_surrogate_beside_or_in_a_piece_is_written_as_plainly(
    planned: list[tuple[Result, dict[str, Any]]], fmt: str, profile: str, rule: str, tmp_path: Path
) -> None:
    """orjson refuses a lone surrogate, in a shared piece or beside them (an id): the
    record then goes to ``json``, shared dicts and all, as the plain one does."""
    chunk = [(r, p) for r, p in planned[:20] if r.ok and r.needs]
    odd = _surrogate_result(chunk[0][0], profile, rule)
    chunk = [(odd, chunk[0][1]), *chunk, (odd, chunk[0][1])]
    cohort_module._write_rows(str(tmp_path), 0, chunk, cohort_module._PartOptions(fmt, False, ()))
    plain = [PartRow(r.profile, p, r.to_dict(trace=False)) for r, p in chunk]
    write_part(tmp_path / f"plain.{fmt}", plain, fmt)
    mine = parts_module.part_path(tmp_path, 0, fmt).read_bytes()
    assert mine == (tmp_path / f"plain.{fmt}").read_bytes()


# --- the Result's dicts and digests made for less -----------------------------------


def _fields_dict(value: Any) -> dict[str, Any]:
    """A dataclass's fields by name, in the class's order: what its to_dict writes."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def test_deficits_and_provenance_write_their_fields_however_made(
    evaluated: list[tuple[dict[str, Any], Result]],
) -> None:
    """Their ``to_dict`` copies the instance's ``__dict__`` when it holds the fields
    alone: made by ``__init__``, ``of``, a Result's unpickling or ``replace``, the
    keys are the fields in order; with anything more in it, the fields alone."""
    written = 0
    for _profile, result in evaluated[:300]:
        again = pickle.loads(pickle.dumps(result))
        for value in (*result.deficits, *result.provenance, *again.deficits, *again.provenance):
            for made in (value, dataclasses.replace(value), type(value)(**_fields_dict(value))):
                assert list(made.to_dict().items()) == list(_fields_dict(value).items())
                written += 1
    assert written > 1_000
    deficit = Deficit.of("c", "g", "high", 12.5, "R-1")
    object.__setattr__(deficit, "cached", 1)  # as a memo would keep something on it
    assert list(deficit.to_dict().items()) == list(_fields_dict(deficit).items())
    mine = deficit.to_dict()
    mine["competency"] = "x"  # a copy: the Deficit is not changed
    assert deficit.competency == "c"


def _reference_step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": step.id,
        "kind": step.kind,
        "ref": step.ref,
        "title": step.title,
        "competencies": list(step.competencies),
        "education": step.education,
        "phase": step.phase,
        "level": step.level,
        "start": step.start,
        "end": step.end,
        "hours": _reference_hours(step.hours),
        "allocation": {m: _reference_hours(h) for m, h in step.allocation},
        "after": list(step.after),
        "responsible": step.responsible,
        "rules": list(step.rules),
    }
    for key, value in step.extra:
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _reference_route(route: Route) -> dict[str, Any]:
    load: dict[str, int] = {}
    for s in route.steps:
        for m, h in s.allocation:
            load[m] = load.get(m, 0) + round(h * 100)
    total = sum(round(s.hours * 100) for s in route.steps)
    return {
        "period": {"start": route.period[0], "end": route.period[1]},
        "hours_per_month": _reference_hours(route.hours_per_month),
        "defaults": list(route.defaults),
        "start": route.start,
        "end": route.end,
        "total_hours": _reference_hours(total / 100),
        "steps": [_reference_step(s) for s in route.steps],
        "load": {m: _reference_hours(load[m] / 100) for m in sorted(load)},
        "overflow": None if route.overflow is None else route.overflow.to_dict(),
        "conflicts": [c.to_dict() for c in route.conflicts],
    }


def test_a_routes_dict_is_the_plain_one(evaluated: list[tuple[dict[str, Any], Result]]) -> None:
    """The route's and the steps' dicts (by index, one-month allocations and steps
    without extra fields apart) against the plain ones, as dicts and as JSON bytes
    (8 and 8.0 are equal in Python, not in the JSON); also odd hand-made steps."""
    routes = [r.route for _p, r in evaluated if r.route is not None]
    step = routes[0].steps[0]
    odd = (
        step._replace(hours=0.0, allocation=(("2026-09", 0.0),)),
        step._replace(hours=8, allocation=()),
        step._replace(allocation=(("2026-09", 1.5), ("2026-10", 2))),
        step._replace(extra=(("forms", ("a", "b")), ("free", True), ("title", "x"))),
    )
    routes.append(dataclasses.replace(routes[0], steps=odd))
    for route in routes:
        mine, plain = route.to_dict(), _reference_route(route)
        assert mine == plain
        assert orjson.dumps(mine) == orjson.dumps(plain)
    assert len(routes) > COHORT // 2


def _reference_digest(result: Result, trace: bool, line: bool) -> cohort_module.Digest:
    """The digest as it was made before: its __init__, month_range's length."""
    if not result.ok:
        return cohort_module.Digest(False, result.profile, result.errors, "", (), (), (), False)
    route = result.route
    spill = route.overflow if route is not None else None
    reason = ""
    if route is not None and spill is not None:
        budget = len(month_range(*route.period)) * route.hours_per_month
        needed = sum(step.hours for step in route.steps)
        reason = "hours" if needed > budget + 1e-9 else "calendar"
    return cohort_module.Digest(
        True,
        result.profile,
        (),
        json.dumps(result.to_dict(trace=trace), ensure_ascii=False) if line else "",
        tuple((d.competency, d.severity, d.group) for d in result.deficits),
        tuple(
            (r.kind, r.id, int(json_number(r.get("hours") or 0))) for r in result.recommendations
        ),
        tuple(
            (
                u.kind,
                u.competency or "—",
                getattr(u, "cause", "unaddressed"),
                tuple(getattr(u, "exhausted", ())),
            )
            for u in result.unmet
        ),
        spill is not None,
        reason,
        cohort_module._spilled_kinds(route) if route is not None and spill is not None else (),
        route is not None and spill is not None and bool(route.defaults),
    )


def test_a_digest_is_the_plain_one(evaluated: list[tuple[dict[str, Any], Result]]) -> None:
    """Made without the dataclass's __init__ and the period counted from month
    indexes: the same value, repr and pickle, with and without its line; also for a
    route whose period ends before it starts, one late with hours to spare, and a
    Result set aside."""
    results = [result for _profile, result in evaluated]
    late = next(r for r in results if r.route is not None and r.route.overflow is not None)
    route = late.route
    assert route is not None
    backwards = dataclasses.replace(route, period=(route.period[1], route.period[0]))
    roomy = dataclasses.replace(route, hours_per_month=10_000.0)  # late by the calendar
    results += [dataclasses.replace(late, route=r) for r in (backwards, roomy)]
    results.append(Result.failed("x", ["broken"]))
    reasons = set()
    for result in results:
        for trace, line in ((False, False), (True, True)):
            mine = cohort_module.digest(result, trace, line=line)
            plain = _reference_digest(result, trace, line)
            assert mine == plain
            assert repr(mine) == repr(plain)
            assert pickle.loads(pickle.dumps(mine)) == plain
            reasons.add(mine.overflow_reason)
    assert reasons == {"", "hours", "calendar"}
    for trace, line in ((False, False), (True, True)):  # many at once, pieces shared
        assert cohort_module.digests(results, trace, line=line) == [
            _reference_digest(result, trace, line) for result in results
        ]


class _Pair(NamedTuple):
    """A tuple's subclass, which orjson does not write by itself."""

    first: str
    second: str


def _odd_results(result: Result) -> list[Result]:
    """``result`` with values its JSON data must still write as ``to_dict`` does: a
    deficit and a provenance entry holding more than their fields, a NamedTuple and a
    list where the route's steps hold tuples, a float that is whole, errors."""
    assert result.route is not None and result.deficits and result.provenance
    deficit = Deficit.of(*_fields_dict(result.deficits[0]).values())
    object.__setattr__(deficit, "cached", 1)
    entry = dataclasses.replace(result.provenance[0])
    object.__setattr__(entry, "_memo", "x")
    step = result.route.steps[0]
    steps = (
        step._replace(competencies=_Pair("a", "b"), after=["s0"], rules=_Pair("R-1", "R-2")),
        step._replace(hours=8, allocation=(("2026-09", 8.0),), extra=(("forms", _Pair("a", "b")),)),
        *result.route.steps[1:],
    )
    route = dataclasses.replace(result.route, steps=steps, defaults=_Pair("period", "x"))
    return [
        dataclasses.replace(result, deficits=(deficit, *result.deficits[1:])),
        dataclasses.replace(result, provenance=(*result.provenance, entry)),
        dataclasses.replace(result, route=route, errors=("x",)),
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_the_json_data_is_written_as_the_dicts(
    planned: list[tuple[Result, dict[str, Any]]], fmt: str, tmp_path: Path
) -> None:
    """``Result.json_data`` (the Result's own deficits, provenance entries and tuples
    where ``to_dict`` copies them) gives the same JSON as ``to_dict`` by orjson and by
    ``json`` (a lone surrogate), and the same part, also with odd values: a deficit
    holding more than its fields, a tuple's subclass orjson does not write itself."""
    people = [(r, p) for r, p in planned[:300] if r.route is not None]
    odd = [(o, p) for r, p in people[:3] for o in _odd_results(r)]
    odd.append((dataclasses.replace(odd[0][0], profile="T-\udc80"), odd[0][1]))
    for result, _person in [*people, *odd]:
        for trace in (False, True):
            plain = result.to_dict(trace=trace)
            mine = result.json_data(trace=trace)
            assert json.loads(parts_module._result_json(mine)) == plain
            assert parts_module._result_json(mine) == parts_module._result_json(plain)
    for result, _person in people:
        route = result.route
        assert route is not None
        assert orjson.dumps(route.json_data()) == orjson.dumps(route.to_dict())
    chunk = [*people[:40], *odd]
    cohort_module._write_rows(str(tmp_path), 0, chunk, cohort_module._PartOptions(fmt, False, ()))
    plain_rows = [PartRow(r.profile, p, r.to_dict(trace=False)) for r, p in chunk if r.ok]
    write_part(tmp_path / f"plain.{fmt}", plain_rows, fmt)
    mine_bytes = parts_module.part_path(tmp_path, 0, fmt).read_bytes()
    assert mine_bytes == (tmp_path / f"plain.{fmt}").read_bytes()
