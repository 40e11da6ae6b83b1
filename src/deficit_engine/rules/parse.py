"""Rule documents to rule objects: phase 1 (structure), then the checks and strata.

:func:`parse_rules` is the entry point. It takes documents already read (the
loader finds and reads the files, :func:`deficit_engine.loader.load_rules`) and
the KB's :class:`~.model.Vocabulary`, and does no I/O, as rule-engine's
``parse(text, context)`` and ansible-rulebook's ``parse_rule_sets`` do.

Phase 1, here, turns each YAML value into a pattern, condition or action and
reports what is malformed in its own terms (a missing key, an operator that
does not exist, reversed bounds). Phase 2 (:mod:`.check`) judges what the
well-formed rules mean against each other and the KB; :mod:`.strata` orders
them. Nothing in a rule file can run code. Every problem of every file is
reported in one pass with its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from .._yaml import Loaded, PathKey
from ..errors import Issue
from ..ontology import suggest
from .check import check_rules
from .model import (
    FIELD_NAME,
    MAX_NUMBER,
    MIN_NUMBER,
    OPERATORS,
    Action,
    AnyGroup,
    Cond,
    Element,
    NotGroup,
    Pattern,
    Ref,
    Rule,
    Value,
    Vocabulary,
    Where,
    where_of,
)
from .strata import stratify

__all__ = ["parse_rules"]

_REF = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\.([a-z][a-z0-9_]*)$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RULE_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")

_FILE_KEYS = ("ruleset", "rules", "description")
_RULE_KEYS = ("id", "title", "source", "priority", "when", "then", "description")
_ACTIONS = ("deficit", "need", "fact")

T = TypeVar("T")

#: The most combinations of ``any:`` alternatives one rule may have: the
#: engines run each combination as its own rule, so the count multiplies across
#: a rule's ``any:`` groups (24 groups of two are 2**24 rules, beyond memory).
MAX_ANY_COMBINATIONS = 256


def parse_rules(
    docs: Sequence[Loaded], vocabulary: Vocabulary | None
) -> tuple[tuple[Rule, ...], list[Issue]]:
    """Parse and check already-loaded rule documents against a KB's ids.

    Parameters
    ----------
    docs : sequence of Loaded
        The rule files, read and YAML-parsed, in rule-set order (their own
        issues, such as YAML syntax errors, are reported first).
    vocabulary : Vocabulary or None
        The ids the KB defines. None when they are unknown because the ontology
        is broken: every check but "unknown id" still runs, so the rules' own
        problems are reported in the same pass as the ontology's.

    Returns
    -------
    rules : tuple of Rule
        The well-formed rules, in order, each with its stratum.
    issues : list of Issue
        Every problem found, each with its place (unsorted).
    """
    issues: list[Issue] = []
    for doc in docs:
        issues.extend(doc.issues)
    parsed: list[tuple[Rule, PathKey]] = []
    for doc in docs:
        if doc.data is None or any(i.code == "yaml-syntax" for i in doc.issues):
            continue
        parsed.extend(_parse_file(doc, issues, len(parsed)))
    rules = [rule for rule, _path in parsed]
    paths = {rule.order: path for rule, path in parsed}
    check_rules(rules, paths, {doc.file: doc for doc in docs}, vocabulary, issues)
    return tuple(stratify(rules, issues)), issues


# --- one file -----------------------------------------------------------------


def _parse_file(doc: Loaded, issues: list[Issue], start_order: int) -> list[tuple[Rule, PathKey]]:
    """The well-formed rules of one file, each with its path in the document."""
    parser = _DocumentParser(doc, issues)
    header = _file_header(parser, doc.data)
    if header is None:
        return []
    ruleset, raw_rules = header
    parsed: list[tuple[Rule, PathKey]] = []
    for i, raw in enumerate(raw_rules):
        rpath: PathKey = ("rules", i)
        rule = _parse_rule(parser, raw, rpath, ruleset, start_order + len(parsed))
        if rule is not None:
            parsed.append((rule, rpath))
    return parsed


def _file_header(parser: _DocumentParser, data: Any) -> tuple[str, list[Any]] | None:
    """The file's rule-set name and its raw rule list, or None if it has no list."""
    if data is None:
        return None
    if not isinstance(data, dict):
        parser.err((), "wrong-type", "a rule file is a mapping with 'ruleset' and 'rules'")
        return None
    parser.unknown_keys(data, (), _FILE_KEYS)
    ruleset = data.get("ruleset", "")
    if not isinstance(ruleset, str):
        parser.err(("ruleset",), "wrong-type", "'ruleset' must be a string")
        ruleset = ""
    raw_rules = data.get("rules")
    if isinstance(raw_rules, list):
        return ruleset, raw_rules
    if "rules" in data:
        parser.err(("rules",), "wrong-type", "'rules' must be a list of rules")
    else:
        parser.err((), "missing-field", "missing required field 'rules'")
    return None


def _parse_rule(
    parser: _DocumentParser, raw: Any, rpath: PathKey, ruleset: str, order: int
) -> Rule | None:
    """One rule, or None if it is malformed (its problems are reported)."""
    if not isinstance(raw, dict):
        parser.err(rpath, "wrong-type", "a rule is a mapping")
        return None
    parser.unknown_keys(raw, rpath, _RULE_KEYS)
    ok = True
    for key in ("id", "when", "then"):
        if key not in raw:
            parser.err(rpath, "missing-field", f"missing required field '{key}'")
            ok = False
    rid = raw.get("id")
    if rid is not None and (not isinstance(rid, str) or not _RULE_ID.match(rid)):
        parser.err(
            (*rpath, "id"), "wrong-type", "a rule id is a string of letters, digits, '-', '_', '.'"
        )
        ok = False
    title = _title(parser, raw, rpath, rid)
    source = _source(parser, raw, rpath)
    priority = _priority(parser, raw, rpath)
    when, when_ok = _each(parser, raw, rpath, "when", "pattern", parser.element)
    then, then_ok = _each(parser, raw, rpath, "then", "action", parser.action)
    if when_ok and not _combinations_fit(parser, when, rpath, rid):
        return None
    if not (ok and when_ok and then_ok):
        return None
    return Rule(
        str(rid),
        title,
        source,
        priority,
        tuple(cast("list[Element]", when)),  # mypy joins the union to object
        tuple(then),
        parser.doc.file,
        parser.doc.positions.of(rpath)[0],
        order,
        ruleset,
    )


def _combinations_fit(
    parser: _DocumentParser, when: Sequence[Any], rpath: PathKey, rid: Any
) -> bool:
    """Whether the rule's ``any:`` groups multiply to at most :data:`MAX_ANY_COMBINATIONS`.

    Counted as a product, with an early stop, before anything expands them.
    """
    count = 1
    for el in when:
        if isinstance(el, AnyGroup):
            count *= len(el.alternatives)
            if count > MAX_ANY_COMBINATIONS:
                name = f"rule '{rid}'" if isinstance(rid, str) else "the rule"
                parser.err(
                    (*rpath, "when"),
                    "too-many-alternatives",
                    f"{name}: its 'any:' groups combine into more than {MAX_ANY_COMBINATIONS} "
                    "alternatives; split it into several rules",
                    key=True,
                )
                return False
    return True


def _title(parser: _DocumentParser, raw: dict[str, Any], rpath: PathKey, rid: Any) -> str:
    """The rule's title; its id when it has none."""
    title = raw.get("title", rid if isinstance(rid, str) else "")
    if not isinstance(title, str):
        parser.err((*rpath, "title"), "wrong-type", "'title' must be a string")
        title = str(title)
    return title


def _source(parser: _DocumentParser, raw: dict[str, Any], rpath: PathKey) -> str | None:
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        parser.err((*rpath, "source"), "wrong-type", "'source' must be a string")
        return None
    return source


def _priority(parser: _DocumentParser, raw: dict[str, Any], rpath: PathKey) -> int:
    """The rule's priority, an integer from -1000 to 1000 (0 when absent or wrong)."""
    priority = raw.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or not -1000 <= priority <= 1000:
        parser.err(
            (*rpath, "priority"), "out-of-range", "'priority' is an integer from -1000 to 1000"
        )
        return 0
    return priority


def _each(
    parser: _DocumentParser,
    raw: dict[str, Any],
    rpath: PathKey,
    key: str,
    what: str,
    parse: Callable[[Any, PathKey], T | None],
) -> tuple[list[T], bool]:
    """Parse ``raw[key]`` (one item, or a list of items); False if any item is bad."""
    value = raw.get(key)
    items = value if isinstance(value, list) else [value]
    out: list[T] = []
    ok = True
    for j, item in enumerate(items):
        parsed = parse(item, (*rpath, key, j) if isinstance(value, list) else (*rpath, key))
        if parsed is None:
            ok = False
        else:
            out.append(parsed)
    if key in raw and not items:
        parser.err((*rpath, key), "wrong-type", f"'{key}' needs at least one {what}")
        ok = False
    return out, ok


# --- the parts of a rule --------------------------------------------------------


class _DocumentParser:
    """Parses the values of one rule document, reporting each problem at its place."""

    def __init__(self, doc: Loaded, issues: list[Issue]) -> None:
        self.doc = doc
        self.issues = issues

    def err(
        self,
        path: PathKey,
        code: str,
        message: str,
        *,
        key: bool = False,
        suggestion: str | None = None,
    ) -> None:
        self.issues.append(self.doc.issue(path, code, message, key=key, suggestion=suggestion))

    def unknown_keys(self, raw: dict[Any, Any], path: PathKey, allowed: Sequence[str]) -> None:
        """Report each key of the mapping ``raw`` that is not ``allowed``."""
        for key in raw:
            if key not in allowed:
                self.err(
                    (*path, key),
                    "unknown-field",
                    f"unknown field '{key}'",
                    key=True,
                    suggestion=suggest(str(key), allowed),
                )

    def value(self, raw: Any, path: PathKey) -> Value:
        """A literal or reference; numbers become floats."""
        if isinstance(raw, str) and raw.startswith("$"):
            m = _REF.match(raw)
            if not m:
                self.err(
                    path, "bad-reference", f"'{raw}' is not a reference of the form $alias.field"
                )
                return None
            return Ref(m.group(1), m.group(2))
        if isinstance(raw, (bool, str)):
            return raw
        if isinstance(raw, (int, float)):
            number = float(raw)
            if number != 0 and not (MIN_NUMBER <= abs(number) < MAX_NUMBER):
                self.err(
                    path,
                    "out-of-range",
                    f"{raw!r}: numbers in rules are 0 or between "
                    f"{MIN_NUMBER:g} and {MAX_NUMBER:g} in size",
                )
            return number
        if isinstance(raw, list):
            return [self.value(item, (*path, i)) for i, item in enumerate(raw)]
        if raw is None:
            self.err(path, "wrong-type", "a value is required here (got null)")
            return None
        self.err(
            path,
            "wrong-type",
            f"a value must be a string, number, boolean or list, not {type(raw).__name__}",
        )
        return None

    def conds(self, raw: Any, path: PathKey) -> tuple[Cond, ...]:
        """A pattern's conditions: ``field: value`` (eq) or ``field: {op: operand, ...}``."""
        if raw is None:
            return ()
        if not isinstance(raw, dict):
            self.err(
                path, "wrong-type", "a pattern's conditions must be a mapping of field: condition"
            )
            return ()
        out: list[Cond] = []
        for fname, spec in raw.items():
            fpath = (*path, fname)
            if not isinstance(fname, str) or not FIELD_NAME.match(fname):
                self.err(fpath, "bad-field", f"'{fname}' is not a field name", key=True)
                continue
            where = where_of(self.doc, fpath, key=True)
            if isinstance(spec, dict):
                out.extend(self.operators(fname, spec, fpath, where))
            else:
                out.append(
                    Cond(fname, "eq", self.value(spec, fpath), where, where_of(self.doc, fpath))
                )
        return tuple(out)

    def operators(
        self, fname: str, spec: dict[Any, Any], fpath: PathKey, where: Where
    ) -> list[Cond]:
        """The conditions of ``field: {op: operand, ...}``."""
        if not spec:
            self.err(fpath, "wrong-type", f"no operator given for '{fname}'")
        out: list[Cond] = []
        for op, arg in spec.items():
            opath = (*fpath, op)
            if op not in OPERATORS:
                self.err(
                    opath,
                    "unknown-operator",
                    f"unknown operator '{op}'",
                    key=True,
                    suggestion=suggest(str(op), OPERATORS),
                )
                continue
            out.append(self.cond(fname, op, arg, opath, where))
        return out

    def cond(self, fname: str, op: str, arg: Any, path: PathKey, where: Where) -> Cond:
        value = self.value(arg, path)
        problem = _operand_problem(op, value)
        if problem is not None:
            self.err(path, *problem)
        return Cond(fname, op, value, where, where_of(self.doc, path))

    def pattern(self, raw: Any, path: PathKey) -> Pattern | None:
        if not isinstance(raw, dict):
            self.err(path, "wrong-type", "a pattern is a mapping {<fact type>: {conditions}}")
            return None
        alias = raw.get("as")
        types = [k for k in raw if k != "as"]
        if len(types) != 1:
            self.err(
                path,
                "bad-pattern",
                "a pattern names exactly one fact type "
                f"(found {', '.join(map(str, types)) or 'none'})",
            )
            return None
        ftype = types[0]
        if not isinstance(ftype, str) or not FIELD_NAME.match(ftype):
            self.err((*path, ftype), "bad-pattern", f"'{ftype}' is not a fact type name", key=True)
            return None
        if alias is not None and (not isinstance(alias, str) or not _ALIAS.match(alias)):
            self.err((*path, "as"), "bad-alias", f"alias '{alias}' must be a plain name")
            alias = None
        conds = self.conds(raw[ftype], (*path, ftype))
        return Pattern(ftype, alias or ftype, conds, where_of(self.doc, (*path, ftype), key=True))

    def patterns(self, raw: Any, path: PathKey) -> tuple[Pattern, ...]:
        """One pattern, or a list of them."""
        items = raw if isinstance(raw, list) else [raw]
        listed = isinstance(raw, list)
        out = []
        for i, item in enumerate(items):
            p = self.pattern(item, (*path, i) if listed else path)
            if p is not None:
                out.append(p)
        return tuple(out)

    def element(self, raw: Any, path: PathKey) -> Element | None:
        """A ``when:`` item: a pattern, an ``any:`` group or a ``not:`` group."""
        if isinstance(raw, dict) and set(raw) == {"any"}:
            return self.any_group(raw["any"], (*path, "any"))
        if isinstance(raw, dict) and set(raw) == {"not"}:
            return self.not_group(raw["not"], (*path, "not"))
        if isinstance(raw, dict) and ("any" in raw or "not" in raw):
            self.err(path, "bad-pattern", "'any' and 'not' stand alone in their list item")
            return None
        return self.pattern(raw, path)

    def any_group(self, alts: Any, path: PathKey) -> AnyGroup | None:
        if not isinstance(alts, list) or not alts:
            self.err(path, "wrong-type", "'any' takes a non-empty list of alternatives")
            return None
        return AnyGroup(tuple(self.patterns(alt, (*path, j)) for j, alt in enumerate(alts)))

    def not_group(self, raw: Any, path: PathKey) -> NotGroup | None:
        if isinstance(raw, list) and len(raw) != 1:
            self.err(
                path, "bad-pattern", "'not' takes one pattern; write one 'not' item per pattern"
            )
            return None
        pats = self.patterns(raw, path)
        return NotGroup(pats) if pats else None

    def action(self, raw: Any, path: PathKey) -> Action | None:
        """A ``then:`` item: ``{deficit|need|fact: {field: value, ...}}``."""
        if not isinstance(raw, dict) or len(raw) != 1:
            self.err(
                path, "bad-action", "an action is a mapping with one key: deficit, need or fact"
            )
            return None
        ((kind, body),) = raw.items()
        if kind not in _ACTIONS:
            self.err(
                (*path, kind),
                "unknown-action",
                f"unknown action '{kind}'",
                key=True,
                suggestion=suggest(str(kind), _ACTIONS),
            )
            return None
        if not isinstance(body, dict):
            self.err((*path, kind), "wrong-type", f"'{kind}' takes a mapping of fields")
            return None
        fields: list[tuple[str, Value]] = []
        for fname, raw_value in body.items():
            fpath = (*path, kind, fname)
            if not isinstance(fname, str) or not FIELD_NAME.match(fname):
                self.err(fpath, "bad-field", f"'{fname}' is not a field name", key=True)
                continue
            fields.append((fname, self.value(raw_value, fpath)))
        return Action(kind, tuple(fields), where_of(self.doc, (*path, kind), key=True))


def _operand_problem(op: str, value: Value) -> tuple[str, str] | None:
    """What is wrong with ``value`` as the operand of ``op``: (code, message), or None."""
    if op in ("in", "not_in"):
        return None if isinstance(value, list) else ("wrong-type", f"'{op}' takes a list")
    if op == "between":
        return _between_problem(value)
    if op == "exists":
        return None if isinstance(value, bool) else ("wrong-type", "'exists' takes true or false")
    if op == "contains":
        if isinstance(value, (list, Ref)):
            return ("wrong-type", "'contains' takes a literal value")
        return None
    if isinstance(value, list):
        return ("wrong-type", f"'{op}' takes a single value, not a list")
    return None


def _between_problem(value: Value) -> tuple[str, str] | None:
    if not isinstance(value, list) or len(value) != 2:
        return ("wrong-type", "'between' takes a list of two bounds [low, high]")
    if all(isinstance(v, float) for v in value) and value[0] > value[1]:
        return ("between-reversed", f"'between' bounds are reversed: {value[0]:g} > {value[1]:g}")
    if not all(isinstance(v, (float, Ref)) for v in value):
        return ("wrong-type", "'between' bounds must be numbers")
    return None
