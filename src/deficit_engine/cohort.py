"""Cohorts: read profiles from CSV, JSONL or XLSX, run them, write results and analytics.

``run_batch`` streams the input through ``Engine.evaluate_many`` (bounded
memory), sets bad rows aside with their reasons, aggregates cohort analytics as
it goes, and publishes the output folder whole or not at all.

The wide table format (CSV and XLSX) has one row per person:

======================  =========================================================
column                  meaning
======================  =========================================================
id                      the profile id (required)
role                    teacher | manager | methodist | psychologist | tutor | counselor
experience_years        years of experience
organization            school
municipality            municipality
subjects                subjects, separated by ``;``
requests                requested competency ids, separated by ``;``
delivery                preferred deliveries, separated by ``;``
hours_per_month         monthly hours for the route
period_start            ``YYYY-MM``
period_end              ``YYYY-MM``
<competency id>         a result: a percent (``48``, ``48.5``) or ``score/max`` (``12/25``)
<indicator id>          an indicator result, the same way
======================  =========================================================

An empty cell means "not given".
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import tempfile
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine import Engine, evaluate_many
from .errors import DeficitEngineError, Issue, SourceError
from .models import Result, json_number
from .ontology import suggest

__all__ = ["BatchSummary", "Digest", "digest", "read_profiles", "run_batch"]

PERSON_COLUMNS = ("role", "experience_years", "organization", "municipality", "subjects")
OTHER_COLUMNS = ("id", "requests", "delivery", "hours_per_month", "period_start", "period_end")
KNOWN_COLUMNS = (*OTHER_COLUMNS[:1], *PERSON_COLUMNS, *OTHER_COLUMNS[1:])


class _RowError(Exception):
    """A row that cannot become a profile; the batch sets it aside."""


@dataclass(frozen=True)
class Digest:
    """What a batch keeps of one Result: its JSON line and the figures the summary
    counts. Made in the worker, so only this small value crosses processes."""

    ok: bool
    profile: str
    errors: tuple[str, ...]
    line: str  # the Result as one JSON line ("" when it could not be evaluated)
    deficits: tuple[tuple[str, str, str | None], ...]  # competency, severity, group
    recommendations: tuple[tuple[str, str, int], ...]  # kind, id, hours
    unmet: tuple[tuple[str, str], ...]  # kind, competency
    overflow: bool


def digest(result: Result, trace: bool = False) -> Digest:
    """The batch's view of one Result (a module-level function: it runs in workers)."""
    if not result.ok:
        return Digest(False, result.profile, result.errors, "", (), (), (), False)
    return Digest(
        True,
        result.profile,
        (),
        json.dumps(result.to_dict(trace=trace), ensure_ascii=False),
        tuple((d.competency, d.severity, d.group) for d in result.deficits),
        tuple(
            (r.kind, r.id, int(json_number(r.get("hours") or 0))) for r in result.recommendations
        ),
        tuple((u.kind, u.competency or "—") for u in result.unmet),
        result.route is not None and result.route.overflow is not None,
    )


@dataclass
class BatchSummary:
    """Cohort analytics, aggregated while the batch runs."""

    profiles: int = 0
    evaluated: int = 0
    set_aside: int = 0
    deficits: Counter[str] = field(default_factory=Counter)  # competency
    severities: Counter[str] = field(default_factory=Counter)  # "competency severity"
    groups: Counter[str] = field(default_factory=Counter)  # people with a deficit in the group
    municipalities: Counter[str] = field(default_factory=Counter)  # people with any deficit
    people_by_municipality: Counter[str] = field(default_factory=Counter)
    programmes: Counter[str] = field(default_factory=Counter)
    programme_hours: Counter[str] = field(default_factory=Counter)
    mentors: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    unmet: Counter[str] = field(default_factory=Counter)  # "kind competency"
    overflow: int = 0

    def add(self, item: Digest, municipality: str | None) -> None:
        self.profiles += 1
        if not item.ok:
            self.set_aside += 1
            return
        self.evaluated += 1
        place = municipality or "—"
        self.people_by_municipality[place] += 1
        if item.deficits:
            self.municipalities[place] += 1
        for group in {group for _c, _s, group in item.deficits if group}:
            self.groups[group] += 1
        for competency, severity, _group in item.deficits:
            self.deficits[competency] += 1
            self.severities[f"{competency} {severity}"] += 1
        for kind, ref, hours in item.recommendations:
            if kind == "program":
                self.programmes[ref] += 1
                self.programme_hours[ref] += hours
            elif kind == "mentor":
                self.mentors[ref] += 1
            elif kind == "format":
                self.formats[ref] += 1
        for kind, competency in item.unmet:
            self.unmet[f"{kind} {competency}"] += 1
        if item.overflow:
            self.overflow += 1

    def to_dict(self, engine: Engine) -> dict[str, Any]:
        kb = engine.kb
        mentors = []
        for mid, count in sorted(self.mentors.items(), key=lambda kv: (-kv[1], kv[0])):
            capacity = kb.mentors[mid].capacity if mid in kb.mentors else 0
            mentors.append(
                {
                    "id": mid,
                    "recommended": count,
                    "capacity": capacity,
                    "over_capacity": max(0, count - capacity),
                    "municipality": kb.mentors[mid].municipality if mid in kb.mentors else None,
                }
            )

        def ranked(counter: Counter[str]) -> list[list[Any]]:
            return [[k, v] for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]

        return {
            "profiles": self.profiles,
            "evaluated": self.evaluated,
            "set_aside": self.set_aside,
            "routes_over_period": self.overflow,
            "deficit_prevalence": ranked(self.deficits),
            "deficit_severity": ranked(self.severities),
            "groups_people": ranked(self.groups),
            "municipalities": [
                [m, self.people_by_municipality[m], self.municipalities[m]]
                for m in sorted(self.people_by_municipality)
            ],
            "programme_demand": [
                [p, n, self.programme_hours[p]] for p, n in ranked(self.programmes)
            ],
            "mentor_load": mentors,
            "format_demand": ranked(self.formats),
            "unmet": ranked(self.unmet),
        }


# --- reading ------------------------------------------------------------------------


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _number(cell: str, column: str) -> float:
    try:
        return float(cell.replace(",", "."))
    except ValueError:
        raise _RowError(f"{column}: '{cell}' is not a number") from None


def _row_profile(row: dict[str, str], result_columns: dict[str, str]) -> dict[str, Any]:
    """One table row to a profile dict (validation is the engine's)."""
    cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
    person: dict[str, Any] = {}
    if cells.get("role"):
        person["role"] = cells["role"]
    if cells.get("experience_years"):
        person["experience_years"] = _number(cells["experience_years"], "experience_years")
    for name in ("organization", "municipality"):
        if cells.get(name):
            person[name] = cells[name]
    if cells.get("subjects"):
        person["subjects"] = _split(cells["subjects"])
    profile: dict[str, Any] = {"person": person}
    if cells.get("id"):
        profile["id"] = cells["id"]
    preferences: dict[str, Any] = {}
    if cells.get("delivery"):
        preferences["delivery"] = _split(cells["delivery"])
    if cells.get("hours_per_month"):
        preferences["hours_per_month"] = _number(cells["hours_per_month"], "hours_per_month")
    if cells.get("period_start") or cells.get("period_end"):
        preferences["period"] = {
            "start": cells.get("period_start", ""),
            "end": cells.get("period_end", ""),
        }
    if preferences:
        profile["preferences"] = preferences
    if cells.get("requests"):
        profile["requests"] = _split(cells["requests"])
    results = []
    for column, kind in result_columns.items():
        cell = cells.get(column, "")
        if not cell:
            continue
        if "/" in cell:
            score, _, maximum = cell.partition("/")
            results.append(
                {kind: column, "score": _number(score, column), "max": _number(maximum, column)}
            )
        else:
            results.append({kind: column, "score": _number(cell, column), "max": 100.0})
    profile["results"] = results
    return profile


def _check_header(header: list[str], engine: Engine, source: str) -> dict[str, str]:
    """Map result columns to 'competency' or 'indicator'; refuse unknown columns."""
    onto = engine.kb.ontology
    issues = []
    result_columns: dict[str, str] = {}
    for col, name in enumerate(header, 1):
        if name in KNOWN_COLUMNS:
            continue
        if name in onto.competencies:
            result_columns[name] = "competency"
        elif name in onto.indicators:
            result_columns[name] = "indicator"
        else:
            known = [*KNOWN_COLUMNS, *onto.competencies, *onto.indicators]
            issues.append(
                Issue(
                    source,
                    1,
                    col,
                    "unknown-column",
                    f"unknown column '{name}'",
                    suggestion=suggest(name, known),
                )
            )
    if "id" not in header:
        issues.append(Issue(source, 1, 1, "missing-column", "the table needs an 'id' column"))
    if issues:
        raise SourceError(issues, "cohort table")
    return result_columns


def _table_rows(path: Path) -> Iterator[list[str]]:
    if path.suffix.lower() == ".xlsx":
        try:
            import openpyxl
        except ImportError:  # pragma: no cover - a dependency of the package
            raise DeficitEngineError("reading XLSX needs openpyxl") from None
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            for values in book.worksheets[0].iter_rows(values_only=True):
                yield ["" if v is None else str(v) for v in values]
        finally:
            book.close()
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        yield from csv.reader(handle, dialect)


def read_profiles(path: Path, engine: Engine) -> Iterator[tuple[int, Any]]:
    """(line, profile) pairs from a JSONL, CSV or XLSX file, streamed.

    A line that cannot become a profile yields a ``_RowError`` in place of the
    profile, so that the batch can set it aside and go on.
    """
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8-sig") as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield line_no, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield line_no, _RowError(f"line {line_no}:{exc.colno}: {exc.msg}")
        return
    if suffix not in (".csv", ".tsv", ".xlsx"):
        raise SourceError(
            [Issue(source, 0, 0, "unknown-format", "expected a .csv, .jsonl or .xlsx file")],
            "cohort",
        )
    rows = _table_rows(path)
    header = [h.strip() for h in next(rows, [])]
    result_columns = _check_header(header, engine, source)
    for line_no, values in enumerate(rows, 2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            yield (
                line_no,
                _RowError(f"line {line_no}: {len(values)} cells for {len(header)} columns"),
            )
            continue
        row = dict(zip(header, values, strict=False))
        try:
            yield line_no, _row_profile(row, result_columns)
        except _RowError as exc:
            yield line_no, _RowError(f"line {line_no}: {exc}")


# --- running ------------------------------------------------------------------------


def _municipality(profile: Any) -> str | None:
    if isinstance(profile, dict) and isinstance(profile.get("person"), dict):
        value = profile["person"].get("municipality")
        return value if isinstance(value, str) else None
    return None


def run_batch(
    engine: Engine,
    source: Path,
    outdir: Path,
    *,
    workers: int | None = None,
    trace: bool = False,
) -> BatchSummary:
    """Evaluate a cohort file into ``outdir`` (results.jsonl, errors.jsonl, summary.json).

    The folder appears whole or not at all: everything is written to a
    temporary folder beside it and renamed at the end.
    """
    if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())):
        raise SourceError(
            [Issue(str(outdir), 0, 0, "exists", "the output folder exists and is not empty")],
            "output folder",
        )
    parent = outdir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=parent))
    summary = BatchSummary()
    lines: deque[tuple[int, str | None]] = deque()  # (line, municipality) of profiles in flight
    try:

        def profiles() -> Iterable[Any]:
            for line_no, item in read_profiles(source, engine):
                lines.append((line_no, _municipality(item)))
                yield item

        with (
            (staging / "results.jsonl").open("w", encoding="utf-8") as results,
            (staging / "errors.jsonl").open("w", encoding="utf-8") as errors,
        ):
            digests = evaluate_many(
                engine, profiles(), workers, transform=functools.partial(digest, trace=trace)
            )
            for item in digests:
                line_no, place = lines.popleft()  # results come back in input order
                summary.add(item, place)
                if item.ok:
                    results.write(item.line + "\n")
                else:
                    record = {"line": line_no, "profile": item.profile, "errors": list(item.errors)}
                    errors.write(json.dumps(record, ensure_ascii=False) + "\n")
        (staging / "summary.json").write_text(
            json.dumps(summary.to_dict(engine), ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
        if outdir.exists():
            outdir.rmdir()  # empty, checked above
        os.replace(staging, outdir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary
