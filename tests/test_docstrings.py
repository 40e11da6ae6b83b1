"""The public surface explains itself: numpydoc sections on every exported callable.

Each function in ``deficit_engine.__all__`` and each public method of an exported
class defined in the package must document its parameters (``Parameters``, each
one by name) and what it gives back (``Returns`` or ``Yields``) unless it returns
None; the exceptions its ``Raises`` section names must exist. Properties are
documented as attributes are, by a summary line (numpydoc asks no sections of them).
"""

from __future__ import annotations

import builtins
import functools
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import deficit_engine
from deficit_engine import errors

_HEADER = re.compile(r"^(\w+)\n-{3,}\n", re.MULTILINE)


def _sections(doc: str) -> dict[str, str]:
    """Section title -> its body, for every numpydoc section of ``doc``."""
    found: dict[str, str] = {}
    headers = list(_HEADER.finditer(doc))
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following is not None else len(doc)
        found[header.group(1)] = doc[header.end() : end]
    return found


def _entry_names(body: str) -> set[str]:
    """The names a Parameters section documents: ``a, b : int`` and ``**kwargs`` lines."""
    names: set[str] = set()
    for line in body.splitlines():
        if line and not line[0].isspace():
            for name in line.split(":", 1)[0].split(","):
                names.add(name.strip().lstrip("*"))
    return names


def _exported_classes() -> Iterator[tuple[str, type]]:
    for name in deficit_engine.__all__:
        obj = getattr(deficit_engine, name)
        if inspect.isclass(obj) and obj.__module__.startswith("deficit_engine."):
            yield name, obj


def _public_members(cls: type) -> Iterator[tuple[str, Any]]:
    """The class's own public attributes, as defined in its body."""
    for attr, value in vars(cls).items():
        if not attr.startswith("_"):
            yield attr, value


def _callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in deficit_engine.__all__:
        obj = getattr(deficit_engine, name)
        if inspect.isfunction(obj):
            yield name, obj
    for name, cls in _exported_classes():
        for attr, value in _public_members(cls):
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value):
                yield f"{name}.{attr}", value


def _properties() -> Iterator[tuple[str, Any]]:
    for name, cls in _exported_classes():
        for attr, value in _public_members(cls):
            if isinstance(value, (property, functools.cached_property)):
                yield f"{name}.{attr}", value


CALLABLES = dict(_callables())
PROPERTIES = dict(_properties())


def test_the_surface_is_found() -> None:
    """The scan sees the names it must (a scan that found nothing would pass everything)."""
    assert {"Engine.evaluate", "Engine.from_path", "Route.step", "render"} <= set(CALLABLES)
    assert {"Engine.rules", "Result.ok", "Route.graph"} <= set(PROPERTIES)


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_a_callable_documents_its_parameters_and_its_value(qualname: str) -> None:
    func = CALLABLES[qualname]
    doc = inspect.getdoc(func) or ""
    assert doc.strip(), f"{qualname} has no docstring"
    sections = _sections(doc)
    signature = inspect.signature(func)
    params = [p for p in signature.parameters if p not in ("self", "cls")]
    if params:
        assert "Parameters" in sections, f"{qualname}: no Parameters section"
        missing = set(params) - _entry_names(sections["Parameters"])
        assert not missing, f"{qualname}: Parameters does not name {sorted(missing)}"
    if signature.return_annotation not in (None, "None"):
        assert {"Returns", "Yields"} & set(sections), f"{qualname}: no Returns or Yields section"


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_the_exceptions_a_docstring_names_exist(qualname: str) -> None:
    body = _sections(inspect.getdoc(CALLABLES[qualname]) or "").get("Raises", "")
    for name in _entry_names(body):
        module, _dot, attr = name.rpartition(".")
        owner = importlib.import_module(module) if module else None
        found = (
            getattr(owner, attr, None)
            if owner is not None
            else getattr(errors, name, getattr(builtins, name, None))
        )
        assert inspect.isclass(found) and issubclass(found, BaseException), (
            f"{qualname}: Raises names {name!r}, which is no exception"
        )


@pytest.mark.parametrize("qualname", sorted(PROPERTIES))
def test_a_property_has_a_summary(qualname: str) -> None:
    assert (PROPERTIES[qualname].__doc__ or "").strip(), f"{qualname} has no docstring"
