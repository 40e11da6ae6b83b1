"""Cohorts: read profiles from CSV, JSONL or XLSX, run them, write results and analytics.

``run_batch`` streams the input through ``Engine.evaluate_many`` (bounded
memory), sets bad rows aside with their reasons, aggregates cohort analytics as
it goes, and publishes the output folder whole or not at all.

The input formats (CSV, JSONL, XLSX: the columns, encodings, delimiters and
how cells are read) are described in :mod:`deficit_engine.tables`.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine import Engine, evaluate_many
from .errors import Issue, SourceError
from .models import Result, json_number
from .tables import read_profiles

__all__ = ["BatchSummary", "Digest", "digest", "read_profiles", "run_batch"]


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

# The table reader is deficit_engine.tables (read_profiles and read_rows).


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
    encoding: str | None = None,
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
            for line_no, item in read_profiles(source, engine, encoding=encoding):
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
