"""The types inside a batch's ``summary.json``, checked before ``report`` reads it.

``report`` reads a file a person may have edited or another version written. A
part it lacks is left out of the справка; a part of the wrong type (a count that
is text, a ranking that is not a list of pairs) is one line naming its JSON path,
exit 2, never a traceback deep inside the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import UsageError

__all__ = ["check_summary"]

Checker = Callable[[Any], bool]


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or v is None


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


_RANKED = ("list of [name, count]", [_str, _int])
_OBJECT_COUNTS = {"people": _int, "with_deficit": _int}

#: Field -> what it must be: a checker, ("list of ...", item spec) or a nested dict.
_SPEC: dict[str, Any] = {
    "profiles": _int,
    "evaluated": _int,
    "set_aside": _int,
    "routes_over_period": _int,
    "with_deficit": _int,
    "overflow_defaulted": _int,
    "allocated": _bool,
    "deficit_prevalence": _RANKED,
    "deficit_severity": _RANKED,
    "groups_people": _RANKED,
    "format_demand": _RANKED,
    "unmet": _RANKED,
    "unmet_causes": _RANKED,
    "severity_people": _RANKED,
    "overflow_reasons": _RANKED,
    "overflow_step_kinds": _RANKED,
    "municipalities": ("list of [municipality, people, count]", [_str, _int, _int]),
    "programme_demand": ("list of [programme, people, hours]", [_str, _int, _num]),
    "unmet_by_cause": ("list of rows of names and a count", "row"),
    "mentor_load": (
        "list of mentor objects",
        {
            "id": _str,
            "recommended": _int,
            "schools": _int,
            "capacity": _int,
            "over_capacity": _int,
            "municipality": _opt_str,
        },
    ),
    "capacity_shortfalls": ("list of objects", "object"),
    "warnings": ("list", "any"),
    "plan": "object",
    "breakdowns": "breakdowns",
}


def check_summary(summary: Mapping[str, Any], file: str) -> None:
    """Check the types of the known parts of a summary (unknown parts are left alone).

    Parameters
    ----------
    summary : mapping
        The decoded ``summary.json`` (a JSON object).
    file : str
        Its path, for the message.

    Raises
    ------
    UsageError
        Naming the first part of a wrong type by its JSON path, and what it must be.
    """
    for name, spec in _SPEC.items():
        if name in summary:
            _check(summary[name], spec, f"${'.'}{name}", file)


def _fail(file: str, path: str, what: str) -> UsageError:
    return UsageError(f"{file}: {path}: must be {what} (not what 'deficit-engine batch' writes)")


def _check(value: Any, spec: Any, path: str, file: str) -> None:
    if callable(spec):
        if not spec(value):
            raise _fail(file, path, _NAMES.get(spec, "a value of another type"))
    elif spec == "object":
        _object(value, path, file)
    elif spec == "breakdowns":
        _breakdowns(value, path, file)
    else:
        what, item = spec
        if not isinstance(value, list):
            raise _fail(file, path, f"a {what}")
        for i, element in enumerate(value):
            _item(element, item, f"{path}[{i}]", what, file)


def _item(element: Any, item: Any, path: str, what: str, file: str) -> None:
    if item == "any":
        return
    if item == "object":
        _object(element, path, file)
    elif item == "row":
        if not (
            isinstance(element, list)
            and element
            and all(_scalar(x) for x in element[:-1])
            and _int(element[-1])
        ):
            raise _fail(file, path, "a row of names ending in a count")
    elif isinstance(item, dict):
        _fields(element, item, path, file)
    else:  # a fixed-length row: each position its own type
        if not isinstance(element, list) or len(element) < len(item):
            raise _fail(file, path, f"a row of {len(item)} values (in a {what})")
        for j, check in enumerate(item):
            _check(element[j], check, f"{path}[{j}]", file)


def _object(value: Any, path: str, file: str) -> None:
    if not isinstance(value, dict) or not all(_scalar(v) for v in value.values()):
        raise _fail(file, path, "an object of plain values")


def _fields(value: Any, fields: Mapping[str, Checker], path: str, file: str) -> None:
    if not isinstance(value, dict):
        raise _fail(file, path, "an object")
    for name, check in fields.items():
        if name in value:
            _check(value[name], check, f"{path}.{name}", file)


def _breakdowns(value: Any, path: str, file: str) -> None:
    """``{dimension: [{key, people, with_deficit, groups: {id: n}, competencies: ...}]}``."""
    if not isinstance(value, dict):
        raise _fail(file, path, "an object of breakdowns")
    for dim, rows in value.items():
        if not isinstance(rows, list):
            raise _fail(file, f"{path}.{dim}", "a list of rows")
        for i, row in enumerate(rows):
            where = f"{path}.{dim}[{i}]"
            _fields(row, {"key": _opt_str, **_OBJECT_COUNTS}, where, file)
            for part in ("groups", "competencies"):
                counts = row.get(part, {})
                if not isinstance(counts, dict) or not all(_int(n) for n in counts.values()):
                    raise _fail(file, f"{where}.{part}", "an object of counts")


_NAMES: dict[Checker, str] = {
    _int: "an integer",
    _num: "a number",
    _str: "text",
    _bool: "true or false",
    _opt_str: "text or null",
}
