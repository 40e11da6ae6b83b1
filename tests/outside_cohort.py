"""A cohort generator written apart from ``deficit_engine.synthetic``.

Issue 16 is checked on "a cohort generated outside the project". This module is
that outsider: it was written from the profile's schema (``schema.Profile`` and
its fields' bounds), the KB's id lists (competencies, indicators, subjects,
instruments and their aliases) and the docs (docs/provenance.md, the table
format in ``tables``), without calling or copying ``synthetic_profiles``. It
makes the shapes that generator never does: 5-40 results, indicator results,
several instruments of one competency named by id, title or alias in any case,
scores at 0, at the scale's boundaries and at their max on odd scales, every
role and category, unicode and emoji in ids and free text, decomposed letters,
duplicate ids, rows without an id, and a few rows that are not profiles at all.

Everything is synthetic: no real person's data.
"""

from __future__ import annotations

import csv
import io
import json
import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deficit_engine.kb import KnowledgeBase
from deficit_engine.schema import (
    DELIVERIES,
    EDUCATION_LEVELS,
    QUALIFICATION_CATEGORIES,
    RESULT_SOURCES,
    ROLES,
)
from deficit_engine.tables import KNOWN_COLUMNS

__all__ = ["outside_lines", "outside_profiles", "table_cohort", "write_workbook"]

#: Scores in percent that sit on, just under and just over the scale's bounds
#: (scale.yaml: 30, 50, 75) and the rules' own thresholds (85, 60, 40...).
_EDGES = (0, 0.01, 29.99, 30, 30.01, 39.99, 40, 49.99, 50, 59.99, 60, 74.99, 75, 84.99, 85, 100)
#: The ``max`` of a result: percent, the regional tests' 20 and 25, odd scales.
_MAXES = (100.0, 100, 20, 25, 1, 7, 3.5, 1000, 12)
_MUNICIPALITIES = (
    "Артёмовский ГО",
    "Чугуевский МО",
    "г. Владивосток",
    "Яковлевский МО",
    # a Latin "o" and "e" among Cyrillic letters, as copied from a web form
    "Спaсский MО",
    # decomposed й (NFD), as a Mac may send it
    unicodedata.normalize("NFD", "Хорольский МО"),
    "Муниципальное образование " + "очень длинное название " * 10 + "ё",
)
_SCHOOLS = (
    "МБОУ СОШ № 5",
    "МБОУ «Школа № 1»",
    "МАДОУ детский сад «Ёлочка»",
    "КГОБУ ЦППМСП 🌱",
    'МБОУ "Лицей" №2, корпус 3',
    "Школа\tс табуляцией",
    "Школа\nс переносом строки",
)
_FREE_TEXT = (
    "Самообразование: смешанное обучение 📚",
    "Ёмкие задания по функциональной грамотности",
    "Проект «Наставничество» — 2026/27 🙂",
    "x" * 300,
)
_NAMES = ("Тестова Анна", "Ёлкин Пётр 👩‍🏫", "Иванов-Петров И. И.", "O'Neil Мария")


def _id(rng: random.Random, n: int) -> str:
    """A profile id: the id field is any printable text (schema.Profile)."""
    style = rng.randrange(6)
    if style == 0:
        return f"учитель-ё-{n}"
    if style == 1:
        return f"OUT {n} 🙂"  # inner spaces and an emoji are allowed
    if style == 2:
        return f"{n:07d}"  # a number-looking id stays text
    return f"OUT-{n:06d}"


def _scale(rng: random.Random) -> tuple[float, float]:
    """(score, max): on a scale edge, at 0, at the max, or anywhere."""
    maximum = rng.choice(_MAXES)
    kind = rng.random()
    if kind < 0.45:
        score = round(rng.choice(_EDGES) * maximum / 100, 4)
    elif kind < 0.55:
        score = 0
    elif kind < 0.62:
        score = maximum
    else:
        score = round(rng.uniform(0, maximum), rng.choice((0, 1, 2)))
    return min(score, maximum), maximum


def _instrument_names(kb: KnowledgeBase) -> list[str | None]:
    """Every name a profile may give an instrument (id, title, alias, other case,
    ё written as е), an instrument the KB does not know, and none."""
    names: list[str | None] = [None, None, "Анкета школы", "ЦНППМ-2025"]
    for instrument in kb.instruments.values():
        for name in (instrument.id, instrument.title, *instrument.aliases):
            names += [name, name.upper(), name.lower().replace("ё", "е")]
    return names


def _result(
    rng: random.Random, kind: str, target: str, instrument: str | None, date: str | None
) -> dict[str, Any]:
    score, maximum = _scale(rng)
    result: dict[str, Any] = {kind: target, "score": score}
    if maximum != 100 or rng.random() < 0.3:  # max is optional: 100 by default
        result["max"] = maximum
    if instrument is not None:
        result["instrument"] = instrument
    if date is not None:
        result["date"] = date
    if rng.random() < 0.1:
        result["source"] = rng.choice(RESULT_SOURCES)
    if rng.random() < 0.05:
        result["assessor"] = "Методический совет 🏫"
    return result


def _results(rng: random.Random, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """5-40 results: competencies and indicators, some measured by several
    instruments (docs/provenance.md), never two of one instrument and date."""
    competencies = list(kb.ontology.competencies)
    indicators = list(kb.ontology.indicators)
    instruments = _instrument_names(kb)
    wanted = rng.randint(5, 40)
    results: list[dict[str, Any]] = []
    taken: set[tuple[str, str, str]] = set()
    while len(results) < wanted:
        if indicators and rng.random() < 0.25:
            kind, target = "indicator", rng.choice(indicators)
        else:
            kind, target = "competency", rng.choice(competencies)
        instrument = rng.choice(instruments)
        date = rng.choice((None, None, "2026-03-01", "2026-10-15", "2025-12-31"))
        # what makes two results "the same" (profile._reference_issues): the KB's
        # instrument, whatever name it was given; a name it does not know by case
        known = _known_instrument(kb, instrument)
        key = (target, known, str(date))
        if key in taken:
            continue
        taken.add(key)
        results.append(_result(rng, kind, target, instrument, date))
    return results


def _known_instrument(kb: KnowledgeBase, name: str | None) -> str:
    if name is None:
        return ""
    folded = name.lower().replace("ё", "е")
    for instrument in kb.instruments.values():
        for known in (instrument.id, instrument.title, *instrument.aliases):
            if known.lower().replace("ё", "е") == folded:
                return instrument.id
    return folded


def _person(rng: random.Random, kb: KnowledgeBase) -> dict[str, Any]:
    person: dict[str, Any] = {
        "role": rng.choice(ROLES),
        "experience_years": rng.choice((0, 0.5, 2, 2.99, 3, 3.0, 4.5, 5, 12, 35.25, 70)),
    }
    if rng.random() < 0.6:
        person["category"] = rng.choice(QUALIFICATION_CATEGORIES)
    if rng.random() < 0.8:
        person["subjects"] = rng.sample(sorted(kb.subjects), rng.randint(0, 3))
    if rng.random() < 0.5:
        person["levels"] = rng.sample(EDUCATION_LEVELS, rng.randint(1, len(EDUCATION_LEVELS)))
    if rng.random() < 0.9:
        person["municipality"] = rng.choice(_MUNICIPALITIES)
    if rng.random() < 0.9:
        person["organization"] = rng.choice(_SCHOOLS)
    if rng.random() < 0.3:
        person["name"] = rng.choice(_NAMES)
    if rng.random() < 0.2:
        person["education"] = "высшее педагогическое"
        person["last_course"] = rng.choice(("2024-05-17", "2019-12-01"))
    if rng.random() < 0.2:
        person["self_education_topic"] = rng.choice(_FREE_TEXT)
    return person


def _preferences(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < 0.3:
        return None  # all optional: the defaults
    preferences: dict[str, Any] = {}
    if rng.random() < 0.7:
        preferences["delivery"] = rng.sample(DELIVERIES, rng.randint(0, len(DELIVERIES)))
    if rng.random() < 0.5:
        preferences["hours_per_month"] = rng.choice((1, 1.5, 8, 16, 40, 300))
    if rng.random() < 0.4:
        start = rng.choice(("2026-09", "2027-01", "2026-07", "2030-12"))
        months = rng.choice((1, 2, 9, 12, 24, 120))
        year, month = int(start[:4]), int(start[5:]) + months - 1
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        preferences["period"] = {"start": start, "end": f"{year:04d}-{month:02d}"}
    return preferences


def outside_profiles(kb: KnowledgeBase, n: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` valid profiles (as JSON objects), each from its own seed.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB whose ids the profiles name.
    n : int
        How many.
    seed : int
        The same seed gives the same profiles.

    Yields
    ------
    dict
        A profile, keys in a varied order (an outside tool writes its own).
    """
    for index in range(n):
        rng = random.Random(f"{seed}/{index}")
        profile: dict[str, Any] = {
            "id": _id(rng, index),
            "person": _person(rng, kb),
            "results": _results(rng, kb),
        }
        if (preferences := _preferences(rng)) is not None:
            profile["preferences"] = preferences
        if rng.random() < 0.4:
            requests = rng.sample(list(kb.ontology.competencies), rng.randint(0, 5))
            profile["requests"] = requests
        keys = list(profile)
        rng.shuffle(keys)
        yield {key: profile[key] for key in keys}


#: Lines that are not valid profiles: each must be set aside (errors.jsonl) the
#: same way by every mode.
_BROKEN = (
    "{not json",
    "[1, 2, 3]",
    '"a string"',
    '{"id": "BAD-role", "person": {"role": "director", "experience_years": 3}}',
    '{"id": "BAD-years", "person": {"role": "teacher", "experience_years": 71}}',
    '{"id": "BAD-text", "person": {"role": "teacher", "experience_years": "3"}}',
    '{"id": " BAD-space", "person": {"role": "teacher", "experience_years": 3}}',
    '{"id": "BAD-extra", "person": {"role": "teacher", "experience_years": 3}, "age": 40}',
    '{"id": "BAD-above", "person": {"role": "tutor", "experience_years": 1},'
    ' "results": [{"competency": "normative.fgos", "score": 30, "max": 20}]}',
    '{"id": "BAD-unknown", "person": {"role": "tutor", "experience_years": 1},'
    ' "results": [{"competency": "normative.fgoss", "score": 3}]}',
    '{"id": "BAD-date", "person": {"role": "tutor", "experience_years": 1},'
    ' "results": [{"competency": "normative.fgos", "score": 3, "date": "2026-3-1"}]}',
    '{"id": "BAD-both", "person": {"role": "tutor", "experience_years": 1},'
    ' "results": [{"competency": "normative.fgos", "indicator": "x", "score": 3}]}',
    '{"id": "BAD-subject", "person": {"role": "teacher", "experience_years": 1,'
    ' "subjects": ["Математика"]}}',
    '{"id": "BAD-period", "person": {"role": "teacher", "experience_years": 1},'
    ' "preferences": {"period": {"start": "2027-05", "end": "2026-09"}}}',
    '{"id": "BAD-nan", "person": {"role": "teacher", "experience_years": NaN}}',
    '{"person": {"role": "teacher", "experience_years": 2}}',  # no id: labelled #N
    '{"id": "BAD-twice", "id": "BAD-twice-2", "person": {"role": "teacher"}}',
    "",  # a blank line
)


def _odd(rng: random.Random, profile: dict[str, Any]) -> dict[str, Any]:
    """The profile with what the schema allows and a table cannot say: repeated
    subjects, levels, deliveries and requests, scores as integers beyond 64 bits
    (``max`` has no upper bound), a tiny ``max``, experience a hair under 3 years,
    no results at all, or indicator results only."""
    person = profile["person"]
    for field in ("subjects", "levels"):
        if person.get(field):
            person[field] = [*person[field], person[field][0]]
    preferences = profile.get("preferences") or {}
    if preferences.get("delivery"):
        preferences["delivery"] = preferences["delivery"] * 2
    first = profile["results"][0]
    profile["requests"] = [
        *profile.get("requests", []),
        *[first.get("competency", "normative.fgos")] * 2,
    ]
    kind = rng.randrange(5)
    for result in profile["results"]:
        if kind == 0:  # the same percent, on a scale of 10**20
            result["score"] = int(result["score"] * 10**6) * 10**14
            result["max"] = int(result.get("max", 100) * 10**6) * 10**14
        elif kind == 1 and result["score"] == 0:
            result["max"] = 1e-300
    if kind == 2:
        person["experience_years"] = 2.9999999999999996
    elif kind == 3:  # results are optional: a person with requests only
        profile["results"] = []
    elif kind == 4:  # competencies known by their indicators alone
        profile["results"] = [r for r in profile["results"] if "indicator" in r]
    return profile


def outside_lines(kb: KnowledgeBase, n: int, seed: int) -> list[str]:
    """A JSONL cohort of about ``n`` lines: valid profiles, duplicate ids (a later
    profile under an earlier id, also of a row set aside), and the broken lines
    above, spread through the file.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB whose ids the profiles name.
    n : int
        How many valid profiles.
    seed : int
        The same seed gives the same lines.

    Returns
    -------
    list of str
        The file's lines, without line ends.
    """
    rng = random.Random(seed)
    profiles = [_odd(rng, p) if rng.random() < 0.15 else p for p in outside_profiles(kb, n, seed)]
    lines = [json.dumps(p, ensure_ascii=rng.random() < 0.3) for p in profiles]
    for _ in range(max(1, n // 50)):  # a later profile under an earlier id
        at = rng.randrange(1, len(lines))
        twin = dict(profiles[rng.randrange(len(profiles))])
        twin["id"] = profiles[rng.randrange(at)]["id"]
        lines.insert(at, json.dumps(twin, ensure_ascii=False))
    for broken in _BROKEN:
        lines.insert(rng.randrange(len(lines) + 1), broken)
    lines.append('{"id": "BAD-role", "person": {"role": "teacher", "experience_years": 3}}')
    return lines


def table_cohort(kb: KnowledgeBase, n: int, seed: int) -> tuple[str, list[str]]:
    """The same people as a wide CSV table (tables.py) and as JSONL lines.

    A table holds one result a competency or indicator, without an instrument or a
    date, and gives every number as a float: the JSONL profiles are made to say
    exactly that, their results in the table's column order, so that both files
    must give the same Results. The table names subjects by title or alias in any
    case (the JSONL by id), writes percents as ``48``, ``48,5`` or ``48%`` and other
    scales as ``12/25``, and picks its delimiter and byte-order mark by the seed.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB whose ids the profiles name.
    n : int
        How many people.
    seed : int
        The same seed gives the same files.

    Returns
    -------
    csv_text : str
        The table, header first.
    jsonl : list of str
        The same people as JSONL lines.
    """
    rng = random.Random(f"table/{seed}")
    people = [_table_profile(p) for p in outside_profiles(kb, n, seed)]
    columns = sorted({_target(r) for p in people for r in p["results"]})
    rng.shuffle(columns)  # results in column order, however the columns come
    order = {column: at for at, column in enumerate(columns)}
    header = ["id", *_TABLE_FIELDS, *columns]
    rows = []
    for profile in people:
        profile["results"].sort(key=lambda r: order[_target(r)])
        rows.append(_table_row(rng, kb, profile, header))
    buffer = io.StringIO()
    delimiter = rng.choice((",", ";"))
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=rng.choice(("\n", "\r\n")))
    writer.writerows([header, *rows])
    bom = "\ufeff" if rng.random() < 0.5 else ""
    jsonl = [json.dumps(p, ensure_ascii=False) for p in people]
    return bom + buffer.getvalue(), jsonl


#: The table's person and preference columns, in its order (the format's schema).
_TABLE_FIELDS = tuple(column for column in KNOWN_COLUMNS if column != "id")


def _target(result: dict[str, Any]) -> str:
    return str(result.get("competency") or result["indicator"])


def _table_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """A generated profile cut to what a table holds, its numbers as floats."""
    results: dict[str, dict[str, Any]] = {}
    for result in profile["results"]:
        kind = "competency" if "competency" in result else "indicator"
        results.setdefault(
            _target(result),
            {
                kind: _target(result),
                "score": float(result["score"]),
                "max": float(result.get("max", 100)),
            },
        )
    person = {
        k: float(v) if k == "experience_years" else v
        for k, v in profile["person"].items()
        if k in _TABLE_FIELDS and k != "subjects"
    }
    subjects = profile["person"].get("subjects")
    if subjects:
        person["subjects"] = subjects  # an empty cell gives no subjects at all
    table: dict[str, Any] = {"id": profile["id"], "person": person}
    preferences = {
        k: float(v) if k == "hours_per_month" else v
        for k, v in (profile.get("preferences") or {}).items()
        if v or k != "delivery"
    }
    if preferences:
        table["preferences"] = preferences
    if profile.get("requests"):
        table["requests"] = profile["requests"]
    table["results"] = list(results.values())
    return table


def _table_row(
    rng: random.Random, kb: KnowledgeBase, profile: dict[str, Any], header: list[str]
) -> list[str]:
    person = profile["person"]
    preferences = profile.get("preferences", {})
    period = preferences.get("period", {})
    cells = {
        "id": profile["id"],
        **{k: _cell_number(v) if isinstance(v, float) else v for k, v in person.items()},
        "subjects": "; ".join(_subject_name(rng, kb, s) for s in person.get("subjects", [])),
        "requests": ";".join(profile.get("requests", [])),
        "delivery": ";".join(preferences.get("delivery", [])),
        "hours_per_month": _cell_number(preferences.get("hours_per_month")),
        "period_start": period.get("start", ""),
        "period_end": period.get("end", ""),
    }
    for result in profile["results"]:
        cells[_target(result)] = _score_cell(rng, result["score"], result["max"])
    return [cells.get(column, "") for column in header]


def _cell_number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else repr(value).replace(".", ",")


def _score_cell(rng: random.Random, score: float, maximum: float) -> str:
    if maximum != 100:
        return f"{_cell_number(score)}/{_cell_number(maximum)}"
    return _cell_number(score) + rng.choice(("", "%", " %"))


def _subject_name(rng: random.Random, kb: KnowledgeBase, subject: str) -> str:
    """A subject as a table may name it: its id, title or an alias, in any case."""
    known = kb.subjects[subject]
    name = rng.choice((known.id, known.title, *known.aliases))
    return rng.choice((name, name.upper(), name.lower().replace("ё", "е")))


def write_workbook(path: Path, table: str) -> None:
    """The CSV text of :func:`table_cohort` as an XLSX workbook, as Excel saves it:
    a cell holding a plain number is a number cell, the rest (``48%``, ``12/25``,
    ``48,5``, names) text cells.

    Parameters
    ----------
    path : Path
        Where to write the workbook.
    table : str
        The CSV text (its delimiter is detected as the batch does: ``,`` or ``;``).
    """
    from openpyxl import Workbook

    text = table.lstrip("\ufeff")
    delimiter = (
        ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    )
    book = Workbook()
    sheet = book.active
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        # the id stays text (a number-looking id would lose its zeros as a number)
        sheet.append([cell if at == 0 else _workbook_cell(cell) for at, cell in enumerate(row)])
    book.save(path)


def _workbook_cell(cell: str) -> str | float:
    try:
        return float(cell) if cell.strip() == cell and cell else cell
    except ValueError:
        return cell
