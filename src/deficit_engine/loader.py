"""Files to a validated knowledge base, with every problem collected and placed.

``load_kb`` reads a KB folder (``ontology/*.yaml`` and ``rules/*.yaml``),
validates each file and each list item on its own (so one bad item does not
hide the others), then checks cross-references, unique ids, prerequisite
cycles and the scale, one small function per file and check. All problems are
raised together in one :class:`~deficit_engine.errors.KnowledgeBaseError`.

The loader does all the reading: it finds and reads the rule files and hands
the documents, with the :class:`~deficit_engine.rules.Vocabulary` of the ids
the ontology defines, to :func:`~deficit_engine.rules.parse_rules`, which does
no I/O. Then it builds the frozen :class:`~deficit_engine.kb.KnowledgeBase`
once, rules included. When the ontology is broken the rules are still parsed
in the same pass, against no vocabulary, so their own problems are reported
too without false "unknown id" errors.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, get_args

import jinja2
import networkx as nx
from pydantic import BaseModel, ValidationError

from ._yaml import MAX_FILE_BYTES, Loaded, PathKey, load_yaml_file
from .errors import Issue, KnowledgeBaseError, display_path
from .folding import person_text
from .kb import KnowledgeBase
from .ontology import Ontology, Scale, suggest
from .rules import Rule, Vocabulary, Where, parse_rules
from .rules.model import where_of
from .schema import (
    Competency,
    Format,
    Group,
    Instrument,
    Level,
    Mentor,
    Planning,
    PlanningFile,
    Program,
    SchoolRule,
    Subject,
    model_named,
)

__all__ = [
    "ONTOLOGY_FILES",
    "OPTIONAL_FILES",
    "KnowledgeBase",
    "check_kb",
    "content_hash",
    "default_kb_path",
    "find_rule_files",
    "load_kb",
    "load_rules",
    "name_key",
    "pydantic_issues",
    "rule_files",
    "subject_names",
    "suggest_subject",
    "vocabulary_of",
]

ONTOLOGY_FILES: dict[str, tuple[str, ...]] = {
    "competencies": ("groups", "competencies", "version"),
    "scale": ("levels",),
    "formats": ("formats",),
    "programs": ("programs",),
    "mentors": ("mentors",),
}
"""Each file of ``ontology/`` (by stem, in reading order) -> its top-level sections."""

#: Sections a required file may leave out: the KB's ``version`` (in competencies.yaml).
_OPTIONAL_SECTIONS = frozenset({"version"})

OPTIONAL_FILES: dict[str, tuple[str, ...]] = {
    "subjects": ("subjects",),
    "planning": ("planning", "school_rules"),
    "instruments": ("instruments",),
}
"""The files of ``ontology/`` a KB may leave out -> their top-level sections.

Without ``subjects.yaml`` the KB has no subject vocabulary (any subject id is
taken as written); without ``planning.yaml`` cohort plans use the defaults of
:class:`~deficit_engine.schema.PlanningFile`. In ``planning.yaml`` both sections
are optional too.
"""

M = TypeVar("M", bound=BaseModel)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=_HasId)


def default_kb_path() -> Path:
    """The shipped KB: package data when installed, the repository in a checkout.

    Returns
    -------
    Path
        The folder holding the shipped ``ontology/`` and ``rules/``.

    Raises
    ------
    KnowledgeBaseError
        If neither the package data nor a checkout holds the KB.
    """
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
        suggestion = None
        if kind == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'"
            suggestion = suggest(str(loc[-1]), _fields_at(exc.title, loc[:-1]))
        elif kind == "missing":
            msg = f"missing required field '{loc[-1]}'"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif code == "wrong-type" or code == "out-of-range" or code == "invalid-value":
            msg = f"{loc[-1] if loc else 'value'}: {msg[0].lower()}{msg[1:]}"
        out.append(doc.issue(path, code, msg, key=kind == "extra_forbidden", suggestion=suggestion))
    return out


def _fields_at(model_name: str, loc: Sequence[str | int]) -> list[str]:
    """The field names allowed at ``loc`` inside the schema model ``model_name``
    (what an unknown field there may be a misspelling of; none if not found)."""
    model = model_named(model_name)
    if model is None:
        return []
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:  # a list index, or a union branch's name: the model stays
            continue
        inner = _model_in(field.annotation)
        if inner is None:
            return []
        model = inner
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's type (``list[Result]``, ``Period | None``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


class _Collector:
    """One :func:`check_kb` pass: every issue found, and where each valid item is.

    Each file and each list item is validated on its own, so one bad item does
    not hide the others; the helpers below add what they find and go on.
    """

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.positions: dict[tuple[str, str], Where] = {}
        self.files: dict[str, str] = {}

    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.issues)

    def read(
        self, root: Path, stem: str, max_bytes: int, *, optional: bool = False
    ) -> Loaded | None:
        """Read ``ontology/<stem>.yaml``; None if it is missing, unreadable or not a mapping.

        A missing ``optional`` file is no problem (and is not listed in ``files``).
        """
        path = root / "ontology" / f"{stem}.yaml"
        display = display_path(path)
        if optional and not path.exists():
            return None
        self.files[stem] = display
        if not path.is_file():
            self.issues.append(Issue(display, 0, 0, "missing-file", "file not found"))
            return None
        doc = load_yaml_file(path, display, max_bytes)
        self.issues.extend(doc.issues)
        if doc.data is None:
            if not doc.issues:
                self.issues.append(Issue(display, 1, 1, "empty", "file is empty"))
            return None
        if not isinstance(doc.data, dict):
            self.issues.append(doc.issue((), "wrong-type", "the top level must be a mapping"))
            return None
        return doc

    def sections(self, doc: Loaded | None, keys: tuple[str, ...], *, required: bool = True) -> None:
        """Report unknown top-level keys, and missing ones when they are ``required``."""
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
        for key in keys if required else ():
            if key not in doc.data and key not in _OPTIONAL_SECTIONS:
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
        """The first item of each id; a later one is a ``duplicate-id``.

        ``taken`` holds the ids already used in the same namespace (with their
        paths) and receives the new ones.
        """
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

    def ref(self, doc: Loaded, path: PathKey, kind: str, value: str, known: Iterable[str]) -> None:
        """Report ``value`` at ``path`` if it is not one of the ``known`` ids."""
        known_list = list(known)
        if value in known_list:
            return
        self.issues.append(
            doc.issue(
                path,
                "unknown-ref",
                f"unknown {kind} '{value}'",
                suggestion=suggest(value, known_list),
            )
        )

    def place(
        self,
        doc: Loaded | None,
        kind: str,
        entries: Iterable[tuple[PathKey, ItemT]],
        kept: Mapping[str, ItemT],
    ) -> None:
        """Record where each kept item of ``entries`` is defined."""
        if doc is None:
            return
        for path, item in entries:
            if kept.get(item.id) is item:
                self.positions[(kind, item.id)] = where_of(doc, path)


# --- one check per file ---------------------------------------------------------


def _check_competencies(
    col: _Collector, doc: Loaded | None
) -> tuple[dict[str, Group], dict[str, Competency]]:
    """competencies.yaml: the valid groups and competencies, their ids unique (indicators
    share the competencies' namespace), their references known and acyclic."""
    group_items = col.items(doc, "groups", Group)
    groups = col.unique(doc, "group", group_items)
    comp_paths: dict[str, PathKey] = {}
    comp_items = col.items(doc, "competencies", Competency)
    competencies = col.unique(doc, "competency", comp_items, comp_paths)
    entries = [(p, c) for p, c in comp_items if competencies.get(c.id) is c]
    indicator_entries = [
        ((*p, "indicators", j), ind) for p, c in entries for j, ind in enumerate(c.indicators)
    ]
    # indicators share the id namespace with competencies: a result names either
    indicators = col.unique(doc, "indicator or competency", indicator_entries, dict(comp_paths))
    if doc is not None:
        _check_competency_refs(col, doc, entries, groups, competencies)
        _check_prerequisite_cycles(col, doc, entries, competencies, comp_paths)
    col.place(doc, "group", group_items, groups)
    col.place(doc, "competency", entries, competencies)
    col.place(doc, "indicator", indicator_entries, indicators)
    return groups, competencies


def _check_competency_refs(
    col: _Collector,
    doc: Loaded,
    entries: Sequence[tuple[PathKey, Competency]],
    groups: Mapping[str, Group],
    competencies: Mapping[str, Competency],
) -> None:
    """Each competency's group exists, and each competency it requires (not itself)."""
    for path, comp in entries:
        col.ref(doc, (*path, "group"), "group", comp.group, groups)
        for j, req in enumerate(comp.requires):
            if req == comp.id:
                col.issues.append(
                    doc.issue(
                        (*path, "requires", j), "cycle", f"competency '{comp.id}' requires itself"
                    )
                )
            else:
                col.ref(doc, (*path, "requires", j), "competency", req, competencies)


def _check_prerequisite_cycles(
    col: _Collector,
    doc: Loaded,
    entries: Sequence[tuple[PathKey, Competency]],
    competencies: Mapping[str, Competency],
    paths: Mapping[str, PathKey],
) -> None:
    """One cycle of ``requires`` per strongly connected component, in a fixed order.

    Every simple cycle would be exponentially many in a dense component (a few
    dozen mutually requiring competencies already exhaust memory); one cycle
    per component names every competency to untangle, in time linear in the
    graph, and the report is capped at :data:`_MAX_CYCLE_REPORTS` lines.
    """
    graph: nx.DiGraph = nx.DiGraph()
    for _path, comp in entries:
        for req in comp.requires:
            if req in competencies and req != comp.id:
                graph.add_edge(req, comp.id)
    components = sorted(
        (sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1),
        key=lambda c: c[0],
    )
    for count, members in enumerate(components):
        ring = _cycle_through(graph, members)
        # the ring lists a -> b meaning a is required by b; report at b's requires entry
        dependent = ring[1]
        where = (*paths[dependent], "requires", competencies[dependent].requires.index(ring[0]))
        if count == _MAX_CYCLE_REPORTS:
            rest = len(components) - count
            message = f"{rest} more prerequisite cycles not listed; the next one is here"
            col.issues.append(doc.issue(where, "cycle", message))
            break
        names = " -> ".join([*ring, ring[0]])
        if len(members) > len(ring):
            names += f" (in a knot with {_off_ring(members, ring)})"
        col.issues.append(doc.issue(where, "cycle", f"prerequisite cycle: {names}"))


#: At most this many prerequisite cycles are reported (one per strongly
#: connected component); the rest are counted in one more line.
_MAX_CYCLE_REPORTS = 50


def _cycle_through(graph: nx.DiGraph, members: Sequence[str]) -> list[str]:
    """A cycle of a strongly connected component, from its smallest id, deterministic.

    ``find_cycle`` from the smallest member on the component's subgraph (edges
    visited in sorted order) gives the same ring whatever order the file listed
    them in.
    """
    sub: nx.DiGraph = nx.DiGraph()
    sub.add_nodes_from(members)
    sub.add_edges_from(sorted(graph.subgraph(members).edges()))
    edges = nx.find_cycle(sub, source=members[0])
    ring = [u for u, _v in edges]
    start = ring.index(min(ring))
    return ring[start:] + ring[:start]


def _off_ring(members: Sequence[str], ring: Sequence[str], shown: int = 5) -> str:
    """The component's ids off the ring: the first ``shown`` of them and a count of the rest."""
    on = set(ring)
    off = [m for m in members if m not in on]
    text = ", ".join(off[:shown])
    return text + (f" and {len(off) - shown} more" if len(off) > shown else "")


def _check_scale(col: _Collector, doc: Loaded | None) -> list[Level]:
    """scale.yaml: the valid levels, ids unique, bounds ascending to an open last level."""
    level_items = col.items(doc, "levels", Level)
    levels = col.unique(doc, "level", level_items)
    entries = [(p, lvl) for p, lvl in level_items if levels.get(lvl.id) is lvl]
    if doc is not None:
        _check_scale_order(col, doc, entries)
    col.place(doc, "level", entries, levels)
    return [lvl for _p, lvl in entries]


def _check_scale_order(
    col: _Collector, doc: Loaded, entries: Sequence[tuple[PathKey, Level]]
) -> None:
    """Every level but the last has a ``below`` bound, each above the one before."""
    last_bound = None
    for i, (path, lvl) in enumerate(entries):
        is_last = i == len(entries) - 1
        if is_last and lvl.below is not None:
            col.issues.append(
                doc.issue(
                    (*path, "below"), "scale-order", "the last level must have no 'below' bound"
                )
            )
        elif not is_last and lvl.below is None:
            col.issues.append(
                doc.issue(
                    path,
                    "scale-order",
                    f"level '{lvl.id}' needs a 'below' bound (only the last has none)",
                )
            )
        elif lvl.below is not None:
            if last_bound is not None and lvl.below <= last_bound:
                col.issues.append(
                    doc.issue(
                        (*path, "below"),
                        "scale-order",
                        f"levels must ascend: {lvl.below:g} is not above {last_bound:g}",
                    )
                )
            last_bound = lvl.below


def _check_catalogues(
    col: _Collector,
    docs: Mapping[str, Loaded | None],
    competencies: Mapping[str, Competency],
    subjects: Mapping[str, Subject] | None,
) -> tuple[dict[str, Format], dict[str, Program], dict[str, Mentor]]:
    """formats.yaml, programs.yaml, mentors.yaml: the valid items, ids unique, the
    competencies programmes cover and mentors are strong in known, their subjects
    known (when the KB has ``subjects``; None: any id) and a programme's groups
    each starting in a month of its own."""
    fmt_doc, prog_doc, ment_doc = docs["formats"], docs["programs"], docs["mentors"]
    fmt_items = col.items(fmt_doc, "formats", Format)
    formats = col.unique(fmt_doc, "format", fmt_items)
    prog_items = col.items(prog_doc, "programs", Program)
    programs = col.unique(prog_doc, "programme", prog_items)
    ment_items = col.items(ment_doc, "mentors", Mentor)
    mentors = col.unique(ment_doc, "mentor", ment_items)
    if prog_doc is not None:
        for path, prog in prog_items:
            _check_competency_list(col, prog_doc, (*path, "covers"), prog.covers, competencies)
            _check_subject_list(col, prog_doc, (*path, "subjects"), prog.subjects, subjects)
            _check_group_starts(col, prog_doc, path, prog)
    if ment_doc is not None:
        for path, mentor in ment_items:
            _check_competency_list(
                col, ment_doc, (*path, "strengths"), mentor.strengths, competencies
            )
            _check_subject_list(col, ment_doc, (*path, "subjects"), mentor.subjects, subjects)
    col.place(fmt_doc, "format", fmt_items, formats)
    col.place(prog_doc, "programme", prog_items, programs)
    col.place(ment_doc, "mentor", ment_items, mentors)
    return formats, programs, {mid: _folded_mentor(m) for mid, m in mentors.items()}


def _folded_mentor(mentor: Mentor) -> Mentor:
    """The mentor with its municipality and organisation read as a profile's are
    (NFC, Latin look-alikes in Cyrillic read as Cyrillic), so that they meet."""
    update = {
        name: folded
        for name in ("municipality", "organization")
        if (folded := person_text(getattr(mentor, name))) != getattr(mentor, name)
    }
    return mentor.model_copy(update=update) if update else mentor


def _check_competency_list(
    col: _Collector,
    doc: Loaded,
    path: PathKey,
    ids: Sequence[str],
    competencies: Mapping[str, Competency],
) -> None:
    for j, comp_id in enumerate(ids):
        col.ref(doc, (*path, j), "competency", comp_id, competencies)


def _check_subject_list(
    col: _Collector,
    doc: Loaded,
    path: PathKey,
    ids: Sequence[str],
    subjects: Mapping[str, Subject] | None,
) -> None:
    """Each subject id is one of ``subjects``; None (the KB has no subjects.yaml): any id."""
    if subjects is None:
        return
    for j, subject in enumerate(ids):
        if subject not in subjects:
            col.issues.append(
                doc.issue(
                    (*path, j),
                    "unknown-ref",
                    f"unknown subject '{subject}'",
                    suggestion=suggest_subject(subject, subjects),
                )
            )


def _check_group_starts(col: _Collector, doc: Loaded, path: PathKey, prog: Program) -> None:
    """A programme's cohort groups start in different months.

    An error, not a warning: a plan names a group by its programme and start month,
    so two groups starting together could not be told apart; the author gives one
    group with the seats of both instead.
    """
    first: dict[str, int] = {}
    for j, group in enumerate(prog.groups):
        if group.start in first:
            line, _ = doc.positions.of((*path, "groups", first[group.start]))
            col.issues.append(
                doc.issue(
                    (*path, "groups", j, "start"),
                    "duplicate",
                    f"programme '{prog.id}' has a second group starting {group.start} "
                    f"(first at line {line}): give one group with the seats of both",
                )
            )
        else:
            first[group.start] = j


# --- subjects and planning (optional files) ----------------------------------------


def name_key(text: str) -> str:
    """How subject names are compared: stripped, case-folded, ё as е, spaces single.

    Parameters
    ----------
    text : str
        An id, title or alias as written (``" Математика "``, ``"Ёлка"``).

    Returns
    -------
    str
        The comparison key (``"математика"``, ``"елка"``).
    """
    return " ".join(text.casefold().replace("ё", "е").split())


def subject_names(subjects: Mapping[str, Subject] | Mapping[str, Instrument]) -> dict[str, str]:
    """Every name of every subject (id, title, aliases, by :func:`name_key`) -> its id.

    Instruments have names alike, and are named the same way.

    Parameters
    ----------
    subjects : Mapping
        The subjects (or instruments) by id, in file order (the loader has made the
        names unique across them; were they not, the first one keeps a name).

    Returns
    -------
    dict of str to str
        ``{"математика": "mathematics", "алгебра": "mathematics", ...}``.
    """
    names: dict[str, str] = {}
    for subject in subjects.values():
        for name in (subject.id, subject.title, *subject.aliases):
            names.setdefault(name_key(name), subject.id)
    return names


def suggest_subject(text: str, subjects: Mapping[str, Subject]) -> str | None:
    """The subject id an unknown subject most likely means.

    A title or alias typed for the id (``Математика``) gives its subject; else the
    nearest id, else the subject of the nearest name (a misspelt alias).

    Parameters
    ----------
    text : str
        The unknown subject, as written.
    subjects : Mapping
        The KB's subjects by id.

    Returns
    -------
    str or None
        A subject id, or None when nothing is close.
    """
    names = subject_names(subjects)
    key = name_key(text)
    if key in names:
        return names[key]
    nearest = suggest(text, subjects) or suggest(key, names)
    if nearest is None:
        return None
    return nearest if nearest in subjects else names[nearest]


def _check_subjects(col: _Collector, doc: Loaded | None) -> dict[str, Subject] | None:
    """subjects.yaml: the valid subjects, ids unique, and no name (id, title or alias,
    compared by :func:`name_key`) shared by two subjects: a table cell ``Математика``
    must mean one subject. None when the KB has no such file."""
    if doc is None:
        return None
    if doc.data.get("subjects") == []:
        col.issues.append(doc.issue(("subjects",), "invalid-value", "'subjects' lists none"))
    return _named_items(col, doc, "subjects", "subject", Subject)


NamedT = TypeVar("NamedT", Subject, Instrument)


def _named_items(
    col: _Collector, doc: Loaded, section: str, kind: str, model: type[NamedT]
) -> dict[str, NamedT]:
    """The valid items of a section of named things (subjects, instruments) by id:
    ids unique, no name shared by two (:func:`_check_names`), each placed."""
    items = col.items(doc, section, model)
    kept = col.unique(doc, kind, items)
    entries = [(p, item) for p, item in items if kept.get(item.id) is item]
    _check_names(col, doc, kind, entries)
    col.place(doc, kind, entries, kept)
    return kept


def _check_names(
    col: _Collector, doc: Loaded, kind: str, entries: Sequence[tuple[PathKey, Subject | Instrument]]
) -> None:
    """No name (id, title or alias, compared by :func:`name_key`) shared by two items:
    a table cell or a profile's ``instrument`` must mean one item."""
    owner: dict[str, tuple[str, PathKey]] = {}
    for path, item in entries:
        named = [((*path, "id"), item.id), ((*path, "title"), item.title)]
        named += [((*path, "aliases", j), alias) for j, alias in enumerate(item.aliases)]
        for where, name in named:
            key = name_key(name)
            other = owner.setdefault(key, (item.id, where))
            if other[0] != item.id:
                line, _ = doc.positions.of(other[1])
                col.issues.append(
                    doc.issue(
                        where,
                        "duplicate-alias",
                        f"'{name}' already names {kind} '{other[0]}' (line {line})",
                    )
                )


def _check_instruments(col: _Collector, doc: Loaded | None) -> dict[str, Instrument]:
    """instruments.yaml: the valid instruments, ids unique, no name shared by two
    (a profile's ``instrument`` must mean one). Empty when the KB has no such file."""
    if doc is None:
        return {}
    return _named_items(col, doc, "instruments", "instrument", Instrument)


def content_hash(root: Path, stems: Iterable[str]) -> str:
    """The SHA-256 of a KB's files: what a Result names as ``kb_hash``.

    Parameters
    ----------
    root : Path
        The KB folder.
    stems : iterable of str
        The ``ontology/`` files that were read, by stem.

    Returns
    -------
    str
        ``sha256:`` and the hex digest of each file's path (relative to ``root``,
        with ``/``) and bytes, files in path order; the rule files and the
        document templates (``templates/*.j2``) are included, since a template
        changes the signed document. Two copies of one KB in different folders
        have one hash.
    """
    paths = [root / "ontology" / f"{stem}.yaml" for stem in stems] + rule_files(root)
    templates = root / "templates"
    if templates.is_dir():
        paths += sorted(p for p in templates.glob(f"*{TEMPLATE_SUFFIX}") if p.is_file())
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        name = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        # lengths first: no two different sets of files can give the same stream
        digest.update(b"%d:%s%d:" % (len(name), name, len(data)))
        digest.update(data)
    return "sha256:" + digest.hexdigest()


def _check_planning(
    col: _Collector,
    doc: Loaded | None,
    groups: Mapping[str, Group],
    levels: Sequence[Level],
    mentors: Mapping[str, Mentor],
) -> PlanningFile:
    """planning.yaml: the planning settings (their scale level known) and the school
    rules (ids unique, groups known); the defaults when the KB has no such file."""
    if doc is None:
        return PlanningFile()
    planning = _planning_settings(col, doc, levels)
    items = col.items(doc, "school_rules", SchoolRule)
    rules = col.unique(doc, "school rule", items)
    entries = [(p, r) for p, r in items if rules.get(r.id) is r]
    forms = {form for mentor in mentors.values() for form in mentor.forms}
    for path, rule in entries:
        for j, group in enumerate(rule.groups):
            col.ref(doc, (*path, "groups", j), "group", group, groups)
        if mentors and rule.form not in forms:
            # the rule may still flag schools; the plan can only report them unserved
            col.issues.append(
                doc.issue(
                    (*path, "form"),
                    "no-mentor",
                    f"school rule '{rule.id}' asks for '{rule.form}' mentors; "
                    "no mentor in mentors.yaml has that form",
                    severity="warning",
                )
            )
    col.place(doc, "school_rule", entries, rules)
    return PlanningFile(planning=planning, school_rules=[r for _p, r in entries])


def _planning_settings(col: _Collector, doc: Loaded, levels: Sequence[Level]) -> Planning:
    """The ``planning:`` section (the defaults when it is absent or invalid)."""
    raw = doc.data.get("planning")
    if raw is None:
        return Planning()
    try:
        planning = Planning.model_validate(raw)
    except ValidationError as exc:
        col.issues.extend(pydantic_issues(doc, ("planning",), exc))
        return Planning()
    if planning.colleague_level is not None and levels:
        col.ref(
            doc,
            ("planning", "colleague_level"),
            "scale level",
            planning.colleague_level,
            [lvl.id for lvl in levels],
        )
    return planning


def _kb_version(col: _Collector, doc: Loaded | None) -> str | None:
    """The ``version:`` of competencies.yaml (None when it has none)."""
    if doc is None or doc.data.get("version") is None:
        return None
    version = doc.data["version"]
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        version = str(version)  # ``version: 2`` or ``1.5`` as YAML reads them
    if not isinstance(version, str) or not version.strip() or len(version) > 300:
        message = "'version' must be text of 1 to 300 characters"
        col.issues.append(doc.issue(("version",), "wrong-type", message))
        return None
    return version


def _hash_or_issue(col: _Collector, root: Path) -> str:
    """:func:`content_hash` of the files read; an issue if one vanished since."""
    try:
        return content_hash(root, col.files)
    except OSError as exc:
        col.issues.append(Issue(str(root), 0, 0, "unreadable", _os_reason(exc)))
        return ""


# --- rules ------------------------------------------------------------------------


#: Rule files by suffix, compared case-insensitively: ``10_deficits.YAML`` is read too.
RULE_SUFFIXES = (".yaml", ".yml")


def rule_files(root: Path) -> list[Path]:
    """The rule files of a KB folder: ``rules/*.yaml`` and ``*.yml``, in file-name order.

    Parameters
    ----------
    root : Path
        The KB folder.

    Returns
    -------
    list of Path
        The readable files (none if there is no ``rules`` folder); what is left
        out, and why, is in :func:`find_rule_files`.
    """
    return find_rule_files(root)[0]


def find_rule_files(root: Path) -> tuple[list[Path], list[Issue]]:
    """The rule files of a KB folder, and a placed issue for every entry not read.

    The suffix is compared case-insensitively. A ``*.yaml`` entry that cannot be read
    as a file (a folder, a FIFO, a symlink loop, a dangling link) is an error; any
    other entry is a warning that it is not read. Hidden entries (``.gitkeep``, an
    editor's swap file) are passed over: they are never meant as rules.

    Parameters
    ----------
    root : Path
        The KB folder.

    Returns
    -------
    files : list of Path
        The rule files, in file-name order.
    issues : list of Issue
        The ``rules`` folder unreadable or not a folder (an error), and the entries
        left out.
    """
    folder = root / "rules"
    try:
        entries = sorted(folder.iterdir())
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [Issue(display_path(folder), 0, 0, "unreadable", _os_reason(exc))]
    files: list[Path] = []
    issues: list[Issue] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        issue = _rule_entry_issue(entry)
        if issue is None:
            files.append(entry)
        else:
            issues.append(issue)
    return files, issues


def _rule_entry_issue(entry: Path) -> Issue | None:
    """Why ``entry`` of ``rules/`` is not read as a rule file; None when it is."""
    where = display_path(entry)
    if entry.suffix.lower() not in RULE_SUFFIXES:
        return Issue(
            where,
            0,
            0,
            "not-read",
            "not read: only *.yaml and *.yml files are rule files",
            severity="warning",
        )
    try:
        # stat follows links: a loop or a dangling link is an OSError naming why
        mode = entry.stat().st_mode
    except OSError as exc:
        return Issue(where, 0, 0, "unreadable", _os_reason(exc))
    if stat.S_ISDIR(mode):
        return Issue(where, 0, 0, "not-a-file", "a folder named like a rule file is not read")
    if not stat.S_ISREG(mode):
        # never opened: reading a FIFO would block
        return Issue(where, 0, 0, "not-a-file", "not a regular file (a FIFO or device): not read")
    return None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def load_rules(
    root: Path, vocabulary: Vocabulary | None, max_bytes: int = MAX_FILE_BYTES
) -> tuple[tuple[Rule, ...], list[Issue]]:
    """Read a KB folder's rule files and parse them against ``vocabulary``.

    The loader reads, :func:`~deficit_engine.rules.parse_rules` parses (it does no I/O).
    A KB asked for rules must have some: a missing or empty ``rules/`` is an error
    (a KB without rules is loaded with ``with_rules=False``).

    Parameters
    ----------
    root : Path
        The KB folder.
    vocabulary : Vocabulary or None
        The KB's ids; None when its ontology is broken (see ``parse_rules``).
    max_bytes : int
        Files larger than this are refused.

    Returns
    -------
    rules : tuple of Rule
        The valid rules, stratified.
    issues : list of Issue
        Every problem of the rules folder and of every rule file.
    """
    paths, found = find_rule_files(root)
    docs = [load_yaml_file(path, display_path(path), max_bytes) for path in paths]
    rules, issues = parse_rules(docs, vocabulary)
    issues = [*found, *issues]
    if not rules and not any(i.severity == "error" for i in issues):
        folder = display_path(root / "rules")
        what = "holds no rule file" if not paths else "defines no rule"
        issues.append(
            Issue(
                folder,
                0,
                0,
                "no-rules",
                f"the rules folder {what}; a KB without rules is loaded with with_rules=False",
            )
        )
    return rules, issues


def vocabulary_of(ontology: Ontology, scale: Scale, formats: Mapping[str, Format]) -> Vocabulary:
    """The ids rule literals are checked against: sorted, levels in scale order.

    Parameters
    ----------
    ontology : Ontology
        Groups, competencies and indicators.
    scale : Scale
        The levels.
    formats : Mapping
        The format catalogue.

    Returns
    -------
    Vocabulary
        The ids as rule parsing takes them.
    """
    return Vocabulary(
        competencies=tuple(sorted(ontology.competencies)),
        groups=tuple(sorted(ontology.groups)),
        indicators=tuple(sorted(ontology.indicators)),
        levels=scale.ids,
        formats=tuple(sorted(formats)),
    )


# --- the whole KB -----------------------------------------------------------------


def check_kb(
    root: Path | str | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    with_rules: bool = True,
) -> tuple[KnowledgeBase | None, list[Issue]]:
    """Validate a KB folder (ontology, then rules); return the KB if usable, and every issue.

    Parameters
    ----------
    root : Path or str, optional
        The KB folder; the shipped KB when omitted.
    max_bytes : int
        Files larger than this are refused.
    with_rules : bool
        Also read and check ``rules/`` (False: a KB without rules).

    Returns
    -------
    kb : KnowledgeBase or None
        The KB, built once and whole; None if any problem is an error.
    issues : list of Issue
        Every problem found, ordered by file, line, column and code.

    Raises
    ------
    KnowledgeBaseError
        If ``root`` is omitted and the shipped KB is not installed.
    """
    kb_root = Path(root) if root is not None else default_kb_path()
    if not kb_root.is_dir():
        return None, [Issue(str(kb_root), 0, 0, "missing-kb", "knowledge base folder not found")]
    col = _Collector()
    docs: dict[str, Loaded | None] = {}
    for stem, sections in ONTOLOGY_FILES.items():
        docs[stem] = col.read(kb_root, stem, max_bytes)
        col.sections(docs[stem], sections)
    for stem, sections in OPTIONAL_FILES.items():
        docs[stem] = col.read(kb_root, stem, max_bytes, optional=True)
        col.sections(docs[stem], sections, required=stem != "planning")
    groups, competencies = _check_competencies(col, docs["competencies"])
    levels = _check_scale(col, docs["scale"])
    subjects = _check_subjects(col, docs["subjects"])
    formats, programs, mentors = _check_catalogues(col, docs, competencies, subjects)
    planning = _check_planning(col, docs["planning"], groups, levels, mentors)
    instruments = _check_instruments(col, docs["instruments"])
    version = _kb_version(col, docs["competencies"])
    if col.has_errors():
        # The ontology or a catalogue has errors: the rules are still checked in this
        # pass, for everything but the ids the KB defines (a broken file would make
        # its ids look unknown). Only errors: analysis of a partial KB would mislead.
        if with_rules:
            _rules, rule_issues = load_rules(kb_root, None, max_bytes)
            col.issues.extend(i for i in rule_issues if i.severity == "error")
        return None, sorted(col.issues, key=_issue_order)
    ontology = Ontology(list(groups.values()), list(competencies.values()))
    scale = Scale(levels)
    rules: tuple[Rule, ...] = ()
    rule_issues = []
    if with_rules:
        rules, rule_issues = load_rules(kb_root, vocabulary_of(ontology, scale, formats), max_bytes)
        col.issues.extend(rule_issues)
    digest = _hash_or_issue(col, kb_root)
    templates = _check_templates(col, kb_root, max_bytes)
    issues = sorted(col.issues, key=_issue_order)
    if col.has_errors():
        return None, issues
    kb = KnowledgeBase(
        root=kb_root,
        ontology=ontology,
        scale=scale,
        formats=formats,
        programs=programs,
        mentors=mentors,
        rules=rules,
        subjects=subjects or {},
        planning=planning,
        instruments=instruments,
        version=version,
        content_hash=digest,
        warnings=tuple(i for i in rule_issues if i.severity == "warning"),
        positions=col.positions,
        files=col.files,
        templates=templates,
    )
    return kb, issues


TEMPLATE_SUFFIX = ".j2"
"""The suffix of a document template in a KB's ``templates/`` folder."""


def _check_templates(col: _Collector, kb_root: Path, max_bytes: int) -> Path | None:
    """The KB's ``templates/`` folder, each template in it parsed; None if it has none.

    Only the syntax is checked here (a filter or a variable is known only when
    the document is rendered): a template that does not parse is an error at its
    ``file:line``, so ``check`` finds it before any document is made.
    """
    folder = kb_root / "templates"
    if not folder.exists():
        return None
    display = display_path(folder)
    if not folder.is_dir():
        col.issues.append(Issue(display, 0, 0, "not-a-folder", "templates must be a folder"))
        return None
    env = jinja2.Environment(autoescape=False)
    for path in sorted(folder.rglob(f"*{TEMPLATE_SUFFIX}")):
        col.issues.extend(_template_issues(env, path, max_bytes))
    return folder


def _template_issues(env: jinja2.Environment, path: Path, max_bytes: int) -> list[Issue]:
    """The problems of one template file: unreadable, too large, not UTF-8, bad syntax."""
    display = display_path(path)
    try:
        if path.stat().st_size > max_bytes:
            return [Issue(display, 0, 0, "too-large", f"larger than {max_bytes} bytes")]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Issue(display, 0, 0, "unreadable", f"cannot read the template: {exc}")]
    try:
        env.parse(text, name=path.name, filename=display)
    except jinja2.TemplateSyntaxError as exc:
        return [Issue(display, exc.lineno or 0, 0, "template-syntax", exc.message or str(exc))]
    return []


def _issue_order(issue: Issue) -> tuple[str, int, int, str]:
    return (issue.file, issue.line, issue.col, issue.code)


def load_kb(root: Path | str | None = None, **kwargs: Any) -> KnowledgeBase:
    """Load and validate a KB folder; raise KnowledgeBaseError listing every problem.

    Parameters
    ----------
    root : Path or str, optional
        The KB folder; the shipped KB when omitted.
    **kwargs
        ``max_bytes`` and ``with_rules``, as for :func:`check_kb`.

    Returns
    -------
    KnowledgeBase
        The validated KB.

    Raises
    ------
    KnowledgeBaseError
        With every error found, each with its place.
    """
    kb, issues = check_kb(root, **kwargs)
    if kb is None:
        raise KnowledgeBaseError([i for i in issues if i.severity == "error"])
    return kb
