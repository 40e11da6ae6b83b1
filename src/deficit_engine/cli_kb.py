"""Finding your way in a knowledge base: ``deficit-engine kb`` and ``schema profile --kb``.

``deficit-engine kb competencies|programmes|mentors|formats|rules [--grep TEXT]``
lists the KB's ids with their titles, so that a methodologist writing a
profile or a rule can find the id they mean. ``--grep`` keeps the entries
whose id, title or synonyms contain the text (case-insensitive, ё as е) or a
form of each of its words (``--grep медиац`` finds ``communicative.conflict``
by its synonym «медиация»; see :func:`deficit_engine.suggest.text_matches`).
Mentors are listed by organisation, municipality and strengths, never by name.

``deficit-engine schema profile --kb DIR`` prints the profile's JSON Schema
with a description of every field and the KB's ids as enums (competencies,
indicators, subjects), for an editor to complete and check profiles with.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import KnowledgeBaseError, UsageError

if TYPE_CHECKING:  # the command line imports the KB's modules only when a command runs
    from .kb import KnowledgeBase

__all__ = ["LISTS", "Entry", "add_parser", "entries", "listing", "profile_schema"]


class Entry(NamedTuple):
    """One listed item: its id, its title and what ``--grep`` searches besides them."""

    id: str
    title: str
    also: tuple[str, ...] = ()


def _competencies(kb: KnowledgeBase) -> list[Entry]:
    return [Entry(c.id, c.title, tuple(c.synonyms)) for c in kb.ontology.competencies.values()]


def _programmes(kb: KnowledgeBase) -> list[Entry]:
    return [Entry(p.id, p.title, tuple(p.covers)) for p in kb.programs.values()]


def _mentors(kb: KnowledgeBase) -> list[Entry]:
    # no names: a mentor is found by where they work and what they are strong in
    return [
        Entry(m.id, f"{m.organization}, {m.municipality}: {', '.join(m.strengths)}")
        for m in kb.mentors.values()
    ]


def _formats(kb: KnowledgeBase) -> list[Entry]:
    return [Entry(f.id, f.title) for f in kb.formats.values()]


def _rules(kb: KnowledgeBase) -> list[Entry]:
    return [Entry(r.id, r.title) for r in kb.rules]


#: What ``deficit-engine kb`` lists -> how to list it.
LISTS: dict[str, Callable[[KnowledgeBase], list[Entry]]] = {
    "competencies": _competencies,
    "programmes": _programmes,
    "mentors": _mentors,
    "formats": _formats,
    "rules": _rules,
}


def entries(kb: KnowledgeBase, what: str, grep: str | None = None) -> list[Entry]:
    """The entries of one kind, in the KB's order, those ``grep`` finds when given.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base.
    what : str
        One of :data:`LISTS`.
    grep : str, optional
        Keep the entries whose id, title or synonyms match it
        (:func:`~deficit_engine.suggest.text_matches`).

    Returns
    -------
    list of Entry

    Raises
    ------
    UsageError
        When ``what`` is not one of :data:`LISTS`.
    """
    from .suggest import text_matches

    make = LISTS.get(what)
    if make is None:
        raise UsageError(f"unknown list {what!r}: expected one of {', '.join(LISTS)}")
    found = make(kb)
    if grep is None:
        return found
    return [e for e in found if text_matches(grep, (e.id, e.title, *e.also))]


def listing(found: Sequence[Entry]) -> list[str]:
    """Lines of ``id  title``, the ids padded to one width.

    Parameters
    ----------
    found : sequence of Entry
        What :func:`entries` gave.

    Returns
    -------
    list of str
    """
    width = max((len(e.id) for e in found), default=0)
    return [f"{e.id.ljust(width)}  {e.title}" for e in found]


#: Descriptions of the profile's fields, shown by editors (in Russian: the
#: people who fill profiles in are methodologists).
_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("Profile", "id"): "Идентификатор профиля (не ФИО: персональные данные не нужны)",
    ("Profile", "person"): "Педагог или руководитель: должность, стаж, место работы",
    ("Profile", "results"): "Результаты диагностики по компетенциям или индикаторам",
    ("Profile", "requests"): "Запросы педагога: компетенции, по которым он просит поддержки",
    ("Profile", "preferences"): "Предпочтения: форма обучения, часы в месяц, период маршрута",
    ("Person", "role"): "Должность (роль) — от неё зависят правила и программы",
    ("Person", "experience_years"): "Педагогический (управленческий) стаж, лет",
    ("Person", "category"): (
        "Квалификационная категория: без категории, первая, высшая, "
        "«педагог-методист», «педагог-наставник»"
    ),
    ("Person", "subjects"): "Преподаваемые предметы (идентификаторы subjects.yaml)",
    ("Person", "levels"): "Уровни образования, на которых работает педагог",
    ("Person", "organization"): "Образовательная организация",
    ("Person", "municipality"): "Муниципалитет: наставник подбирается ближе к педагогу",
    ("Person", "name"): "ФИО (необязательно; не попадает в журналы и сводки)",
    ("Person", "education"): "Образование (для шапки ИОМ), например «высшее педагогическое»",
    ("Person", "last_course"): "Дата последнего повышения квалификации, ГГГГ-ММ-ДД",
    ("Person", "self_education_topic"): "Тема самообразования (для шапки ИОМ)",
    ("ProfileResult", "competency"): "Компетенция (или укажите indicator)",
    ("ProfileResult", "indicator"): "Индикатор компетенции (или укажите competency)",
    ("ProfileResult", "score"): "Набранный балл",
    ("ProfileResult", "max"): "Максимальный балл (по умолчанию 100: балл в процентах)",
    ("ProfileResult", "instrument"): "Диагностический инструмент (источник результата)",
    ("ProfileResult", "date"): "Дата диагностики, ГГГГ-ММ-ДД",
    ("ProfileResult", "assessor"): (
        "Кто оценивал (методический совет, тьютор); в результат и журналы не попадает"
    ),
    ("ProfileResult", "source"): (
        "Вид диагностики: тест ЦОПМКП/ЦНППМ, самооценка, посещение урока, ЕФОМ"
    ),
    ("Preferences", "delivery"): "Желаемые формы обучения по программам ДПП",
    ("Preferences", "hours_per_month"): "Часов в месяц на маршрут (по умолчанию 16)",
    ("Preferences", "period"): "Период маршрута (по умолчанию учебный год сентябрь – май)",
    ("Period", "start"): "Первый месяц, ГГГГ-ММ",
    ("Period", "end"): "Последний месяц, ГГГГ-ММ",
}


def _describe(schema: dict[str, Any]) -> None:
    """Put :data:`_DESCRIPTIONS` into the schema's models (root and ``$defs``)."""
    models = {"Profile": schema, **schema.get("$defs", {})}
    for (model, field), text in _DESCRIPTIONS.items():
        prop = models.get(model, {}).get("properties", {}).get(field)
        if prop is not None:
            prop["description"] = text


def _with_enum(prop: dict[str, Any], ids: Sequence[str]) -> None:
    """Restrict a string property (or its string branch, or its items) to ``ids``."""
    target = prop.get("items", prop)
    for branch in target.get("anyOf", [target]):
        if branch.get("type") == "string":
            branch.pop("pattern", None)  # the enum says more, and an editor lists it
            branch["enum"] = list(ids)


def profile_schema(kb: KnowledgeBase) -> dict[str, Any]:
    """The profile's JSON Schema, with descriptions and the KB's ids as enums.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base whose competencies, indicators and subjects a
        profile may name.

    Returns
    -------
    dict
        A JSON Schema (draft 2020-12): the profile model's, each field
        described, ``results[].competency`` and ``requests`` limited to the
        competency ids, ``results[].indicator`` to the indicator ids and
        ``person.subjects`` to the subject ids (when the KB has subjects).
    """
    from .schema import json_schema

    schema = copy.deepcopy(json_schema("profile"))
    _describe(schema)
    defs = schema["$defs"]
    competencies = list(kb.ontology.competencies)
    _with_enum(defs["ProfileResult"]["properties"]["competency"], competencies)
    _with_enum(defs["ProfileResult"]["properties"]["indicator"], list(kb.ontology.indicators))
    _with_enum(schema["properties"]["requests"], competencies)
    if kb.subjects:
        _with_enum(defs["Person"]["properties"]["subjects"], list(kb.subjects))
    schema["description"] = f"Профиль педагога для базы знаний {kb.root.name}"
    return schema


def _load(value: str | None) -> KnowledgeBase:
    """The KB of ``--kb`` (the shipped one without it)."""
    from .loader import load_kb

    if value is not None and not Path(value).is_dir():
        raise UsageError(f"--kb {value}: not a directory")
    return load_kb(None if value is None else Path(value))


def _invalid_kb(exc: KnowledgeBaseError) -> int:
    """Print an invalid KB's problems; exit 1, as every command does for one."""
    for line in exc.lines():
        print(line, file=sys.stderr)
    print(
        f"deficit-engine: the knowledge base has {len(exc.issues)} problem(s); "
        "run 'deficit-engine check'",
        file=sys.stderr,
    )
    return 1


def cmd_kb(args: argparse.Namespace) -> int:
    """``deficit-engine kb WHAT [--grep TEXT]``: print ids and titles; exit 1 when
    ``--grep`` finds nothing (as grep does).

    Raises
    ------
    UsageError
        When ``--kb`` is not a directory.
    """
    try:
        kb = _load(args.kb)
    except KnowledgeBaseError as exc:
        return _invalid_kb(exc)
    found = entries(kb, args.what, args.grep)
    for line in listing(found):
        print(line)
    if not found and args.grep is not None:
        print(f"deficit-engine: no {args.what} match {args.grep!r}", file=sys.stderr)
        return 1
    return 0


def cmd_schema_kb(args: argparse.Namespace) -> int:
    """``deficit-engine schema profile --kb DIR``: the schema with the KB's ids.

    Raises
    ------
    UsageError
        When ``--kb`` is not a directory or the kind is not ``profile``.
    """
    if args.kind != "profile":
        raise UsageError("--kb applies to 'schema profile' only")
    try:
        kb = _load(args.kb)
    except KnowledgeBaseError as exc:
        return _invalid_kb(exc)
    print(json.dumps(profile_schema(kb), ensure_ascii=False, indent=2))
    return 0


def add_parser(sub: Any) -> None:
    """Add ``kb`` to the command's subparsers.

    Parameters
    ----------
    sub : argparse subparsers action
        What ``ArgumentParser.add_subparsers`` returned.
    """
    kb = sub.add_parser(
        "kb",
        help="list the KB's competencies, programmes, mentors, formats or rules (ids and titles)",
    )
    kb.add_argument("what", choices=list(LISTS))
    kb.add_argument(
        "--grep",
        metavar="TEXT",
        help="only entries whose id, title or synonyms contain TEXT or its word forms",
    )
    kb.add_argument("--kb", metavar="DIR", help="knowledge base folder (default: the shipped one)")
    kb.set_defaults(func=cmd_kb)
