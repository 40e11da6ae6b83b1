"""JSON text exactly as ``json.dumps(data, ensure_ascii=False, indent=2)`` writes it, fast.

The standard library writes indented JSON with its pure-Python encoder (the C
encoder only writes one line): a Result with its trace took milliseconds. orjson
writes the same bytes for the values a Result holds, about 20 times faster, except
in a few places, which are checked for first and left to ``json.dumps``:

- a float that is NaN or infinite (``json`` writes ``NaN``/``Infinity``, orjson ``null``),
  or between 0 and 1e-4 in size (``json`` writes ``1e-05``, orjson ``0.00001``, and
  ``1e-09`` against ``1e-9``);
- a value of any type but dict, list, tuple, str, int, float, bool and None (orjson
  writes dataclasses, dates, enums and UUIDs that ``json`` refuses);
- what orjson refuses: a dict key that is not a string, an integer beyond 64 bits, a
  lone surrogate, nesting deeper than 255 levels.

``tests/test_jsontext.py`` holds the two writers to the same bytes on thousands of
Results and on each of these cases.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = ["dumps_indented"]

#: Floats smaller than this (and not 0) are written differently by the two writers.
_SMALLEST_SAFE = 1e-4
_SCALARS = frozenset((str, int, bool, type(None)))


def dumps_indented(data: Any) -> str:
    """``json.dumps(data, ensure_ascii=False, indent=2)``, by orjson where that is the same.

    Parameters
    ----------
    data : Any
        JSON-ready data (dicts, lists, tuples, strings, numbers, booleans, None).

    Returns
    -------
    str
        The JSON text, byte for byte what ``json.dumps`` gives, without a trailing
        newline.

    Raises
    ------
    TypeError
        If ``data`` holds a value JSON cannot write (as ``json.dumps``).
    ValueError
        If ``data`` refers to itself (as ``json.dumps``).
    """
    try:
        plain = _plain(data)
    except RecursionError:  # a cycle, or nesting past Python's own limit
        plain = False
    if plain:
        try:
            return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")
        except orjson.JSONEncodeError:
            pass  # a non-string key, a huge integer, a lone surrogate, deep nesting
    return json.dumps(data, ensure_ascii=False, indent=2)


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only the types both writers write alike, and no float
    they write differently (see the module's docstring)."""
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind in _SCALARS or (kind is float and _plain_float(value))
    for item in items:
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is float:
            if not _plain_float(item):
                return False
        elif not _plain(item):
            return False
    return True


def _plain_float(x: float) -> bool:
    return math.isfinite(x) and (x == 0.0 or abs(x) >= _SMALLEST_SAFE)
