"""Files to a validated knowledge base, with every problem collected and placed.

``load_kb`` reads a KB folder (``ontology/*.yaml`` and ``rules/*.yaml``),
validates each file and each list item on its own (so one bad item does not
hide the others), then checks cross-references, unique ids, prerequisite
cycles and the scale. All problems are raised together in one
:class:`~deficit_engine.errors.KnowledgeBaseError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import networkx as nx
from pydantic import BaseModel, ValidationError

from ._yaml import MAX_FILE_BYTES, Loaded, PathKey, load_yaml_file
from .errors import Issue, KnowledgeBaseError
from .ontology import Ontology, Scale, suggest
from .rules import Rule, load_rules
from .schema import Competency, Format, Group, Level, Mentor, Program

__all__ = ["KnowledgeBase", "check_kb", "default_kb_path", "load_kb", "pydantic_issues"]

M = TypeVar("M", bound=BaseModel)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=_HasId)


def default_kb_path() -> Path:
    """The shipped KB: package data when installed, the repository in a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "kb"
    if (packaged / "ontology").is_dir():
        return packaged
    checkout = here.parents[1]
    if (checkout / "ontology").is_dir():
        return checkout
    raise KnowledgeBaseError(
        [Issue(str(packaged), 0, 0, "missing-kb", "the shipped knowledge base is not installed")]
    )


@dataclass
class KnowledgeBase:
    """A validated knowledge base. Build it with :func:`load_kb`."""

    root: Path
    ontology: Ontology
    scale: Scale
    formats: dict[str, Format]
    programs: dict[str, Program]
    mentors: dict[str, Mentor]
    rules: list[Rule] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def summary(self) -> str:
        onto = self.ontology
        return (
            f"{len(onto.groups)} groups, {len(onto.competencies)} competencies, "
            f"{len(onto.indicators)} indicators, {onto.graph.number_of_edges()} prerequisites, "
            f"{len(self.scale.levels)} levels, {len(self.formats)} formats, "
            f"{len(self.programs)} programmes, {len(self.mentors)} mentors, {len(self.rules)} rules"
        )


_CODES = {
    "extra_forbidden": "unknown-field",
    "missing": "missing-field",
    "greater_than": "out-of-range",
    "greater_than_equal": "out-of-range",
    "less_than": "out-of-range",
    "less_than_equal": "out-of-range",
    "literal_error": "invalid-value",
    "string_pattern_mismatch": "invalid-value",
    "string_too_short": "invalid-value",
    "string_too_long": "invalid-value",
    "too_short": "invalid-value",
    "too_long": "invalid-value",
    "value_error": "invalid-value",
}


def pydantic_issues(doc: Loaded, base: PathKey, exc: ValidationError) -> list[Issue]:
    """Turn a ValidationError on the value at ``base`` into placed issues."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(part for part in err["loc"] if isinstance(part, (str, int)))
        # Union branches and validators add non-field parts; keep the real path.
        path = (*base, *loc)
        kind = err["type"]
        code = _CODES.get(kind, "wrong-type")
        msg = err["msg"]
        if kind == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'"
        elif kind == "missing":
            msg = f"missing required field '{loc[-1]}'"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif code == "wrong-type" or code == "out-of-range" or code == "invalid-value":
            msg = f"{loc[-1] if loc else 'value'}: {msg[0].lower()}{msg[1:]}"
        out.append(doc.issue(path, code, msg, key=kind == "extra_forbidden"))
    return out


class _Collector:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.issues: list[Issue] = []
        self.docs: dict[str, Loaded] = {}

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def read(self, name: str, max_bytes: int) -> Loaded | None:
        path = self.root / "ontology" / f"{name}.yaml"
        display = self.rel(path)
        if not path.is_file():
            self.issues.append(Issue(display, 0, 0, "missing-file", "file not found"))
            return None
        doc = load_yaml_file(path, display, max_bytes)
        self.issues.extend(doc.issues)
        self.docs[name] = doc
        if doc.data is None:
            if not doc.issues:
                self.issues.append(Issue(display, 1, 1, "empty", "file is empty"))
            return None
        if not isinstance(doc.data, dict):
            self.issues.append(doc.issue((), "wrong-type", "the top level must be a mapping"))
            return None
        return doc

    def sections(self, doc: Loaded | None, keys: tuple[str, ...]) -> None:
        """Report unknown and missing top-level keys."""
        if doc is None:
            return
        for key in doc.data:
            if key not in keys:
                self.issues.append(
                    doc.issue(
                        (key,),
                        "unknown-field",
                        f"unknown field '{key}'",
                        key=True,
                        suggestion=suggest(str(key), keys),
                    )
                )
        for key in keys:
            if key not in doc.data:
                self.issues.append(
                    doc.issue((), "missing-field", f"missing required field '{key}'")
                )

    def items(self, doc: Loaded | None, key: str, model: type[M]) -> list[tuple[PathKey, M]]:
        """Validate each item of a list section on its own; keep the valid ones."""
        out: list[tuple[PathKey, M]] = []
        if doc is None or doc.data.get(key) is None:
            return out
        value = doc.data[key]
        if not isinstance(value, list):
            self.issues.append(doc.issue((key,), "wrong-type", f"'{key}' must be a list"))
            return out
        for i, item in enumerate(value):
            try:
                out.append(((key, i), model.model_validate(item)))
            except ValidationError as exc:
                self.issues.extend(pydantic_issues(doc, (key, i), exc))
        return out

    def unique(
        self,
        doc: Loaded | None,
        kind: str,
        entries: Iterable[tuple[PathKey, ItemT]],
        taken: dict[str, PathKey] | None = None,
    ) -> dict[str, ItemT]:
        seen: dict[str, ItemT] = {}
        first: dict[str, PathKey] = {} if taken is None else taken
        for path, item in entries:
            if item.id in first:
                assert doc is not None
                line, _ = doc.positions.of(first[item.id])
                self.issues.append(
                    doc.issue(
                        (*path, "id"),
                        "duplicate-id",
                        f"duplicate {kind} id '{item.id}' (first at line {line})",
                    )
                )
                continue
            first[item.id] = path
            seen[item.id] = item
        return seen

    def ref(self, doc: Loaded, path: PathKey, kind: str, value: str, known: Iterable[str]) -> bool:
        known_list = list(known)
        if value in known_list:
            return True
        self.issues.append(
            doc.issue(
                path,
                "unknown-ref",
                f"unknown {kind} '{value}'",
                suggestion=suggest(value, known_list),
            )
        )
        return False


def check_kb(
    root: Path | str | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    with_rules: bool = True,
) -> tuple[KnowledgeBase | None, list[Issue]]:
    """Validate a KB folder (ontology, then rules); return the KB if usable, and every issue."""
    kb_root = Path(root) if root is not None else default_kb_path()
    col = _Collector(kb_root)
    if not kb_root.is_dir():
        return None, [Issue(str(kb_root), 0, 0, "missing-kb", "knowledge base folder not found")]

    comp_doc = col.read("competencies", max_bytes)
    col.sections(comp_doc, ("groups", "competencies"))
    scale_doc = col.read("scale", max_bytes)
    col.sections(scale_doc, ("levels",))
    fmt_doc = col.read("formats", max_bytes)
    col.sections(fmt_doc, ("formats",))
    prog_doc = col.read("programs", max_bytes)
    col.sections(prog_doc, ("programs",))
    ment_doc = col.read("mentors", max_bytes)
    col.sections(ment_doc, ("mentors",))

    groups = col.unique(comp_doc, "group", col.items(comp_doc, "groups", Group))
    comp_paths: dict[str, PathKey] = {}
    comp_items = col.items(comp_doc, "competencies", Competency)
    competencies = col.unique(comp_doc, "competency", comp_items, comp_paths)
    comp_entries = [(p, c) for p, c in comp_items if competencies.get(c.id) is c]
    indicator_entries = [
        ((*p, "indicators", j), ind) for p, c in comp_entries for j, ind in enumerate(c.indicators)
    ]
    # indicators share the id namespace with competencies: a result names either
    col.unique(comp_doc, "indicator or competency", indicator_entries, dict(comp_paths))

    if comp_doc is not None:
        for path, comp in comp_entries:
            col.ref(comp_doc, (*path, "group"), "group", comp.group, groups)
            for j, req in enumerate(comp.requires):
                if req == comp.id:
                    col.issues.append(
                        comp_doc.issue(
                            (*path, "requires", j),
                            "cycle",
                            f"competency '{comp.id}' requires itself",
                        )
                    )
                else:
                    col.ref(comp_doc, (*path, "requires", j), "competency", req, competencies)
        graph: nx.DiGraph = nx.DiGraph()
        for _path, comp in comp_entries:
            for req in comp.requires:
                if req in competencies and req != comp.id:
                    graph.add_edge(req, comp.id)
        for cycle in sorted(nx.simple_cycles(graph), key=lambda c: sorted(c)):
            start = min(cycle)
            i = cycle.index(start)
            ring = cycle[i:] + cycle[:i]
            # cycle lists a -> b meaning a is required by b; report at b's requires entry
            dependent = ring[1 % len(ring)]
            dep_path = comp_paths[dependent]
            req_index = competencies[dependent].requires.index(ring[0])
            names = " -> ".join([*ring, ring[0]])
            col.issues.append(
                comp_doc.issue(
                    (*dep_path, "requires", req_index), "cycle", f"prerequisite cycle: {names}"
                )
            )

    level_items = col.items(scale_doc, "levels", Level)
    levels = col.unique(scale_doc, "level", level_items)
    level_list = [lvl for _p, lvl in level_items if levels.get(lvl.id) is lvl]
    if scale_doc is not None and level_list:
        last_bound = None
        for path, lvl in level_items:
            if levels.get(lvl.id) is not lvl:
                continue
            is_last = lvl is level_list[-1]
            if is_last and lvl.below is not None:
                col.issues.append(
                    scale_doc.issue(
                        (*path, "below"), "scale-order", "the last level must have no 'below' bound"
                    )
                )
            elif not is_last and lvl.below is None:
                col.issues.append(
                    scale_doc.issue(
                        path,
                        "scale-order",
                        f"level '{lvl.id}' needs a 'below' bound (only the last has none)",
                    )
                )
            elif lvl.below is not None:
                if last_bound is not None and lvl.below <= last_bound:
                    col.issues.append(
                        scale_doc.issue(
                            (*path, "below"),
                            "scale-order",
                            f"levels must ascend: {lvl.below:g} is not above {last_bound:g}",
                        )
                    )
                last_bound = lvl.below

    formats = col.unique(fmt_doc, "format", col.items(fmt_doc, "formats", Format))
    prog_items = col.items(prog_doc, "programs", Program)
    programs = col.unique(prog_doc, "programme", prog_items)
    ment_items = col.items(ment_doc, "mentors", Mentor)
    mentors = col.unique(ment_doc, "mentor", ment_items)
    if prog_doc is not None:
        for path, prog in prog_items:
            for j, comp_id in enumerate(prog.covers):
                col.ref(prog_doc, (*path, "covers", j), "competency", comp_id, competencies)
    if ment_doc is not None:
        for path, mentor in ment_items:
            for j, comp_id in enumerate(mentor.strengths):
                col.ref(ment_doc, (*path, "strengths", j), "competency", comp_id, competencies)

    errors = [i for i in col.issues if i.severity == "error"]
    kb: KnowledgeBase | None = None
    if not errors:
        kb = KnowledgeBase(
            root=kb_root,
            ontology=Ontology(list(groups.values()), list(competencies.values())),
            scale=Scale(level_list),
            formats=dict(formats),
            programs=dict(programs),
            mentors=dict(mentors),
        )
        if with_rules:
            rules, rule_issues = load_rules(kb_root, kb, max_bytes)
            col.issues.extend(rule_issues)
            kb.rules = rules
            kb.warnings = [i for i in rule_issues if i.severity == "warning"]
            if any(i.severity == "error" for i in rule_issues):
                kb = None
    elif with_rules:
        # The ontology or a catalogue has errors: the rules are still checked in this
        # pass, for everything but the ids the KB defines (a broken file would make
        # its ids look unknown). Only errors: analysis of a partial KB would mislead.
        partial = KnowledgeBase(
            root=kb_root,
            ontology=Ontology([], []),
            scale=Scale([]),
            formats={},
            programs={},
            mentors={},
        )
        _rules, rule_issues = load_rules(kb_root, partial, max_bytes, kb_ids=False)
        col.issues.extend(i for i in rule_issues if i.severity == "error")
    return kb, sorted(col.issues, key=_issue_order)


def _issue_order(issue: Issue) -> tuple[str, int, int, str]:
    return (issue.file, issue.line, issue.col, issue.code)


def load_kb(root: Path | str | None = None, **kwargs: Any) -> KnowledgeBase:
    """Load and validate a KB folder; raise KnowledgeBaseError listing every problem."""
    kb, issues = check_kb(root, **kwargs)
    if kb is None:
        raise KnowledgeBaseError([i for i in issues if i.severity == "error"])
    return kb
