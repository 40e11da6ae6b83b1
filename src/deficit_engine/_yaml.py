"""The one YAML entry point: safe loading, node positions, duplicate keys, limits.

YAML is composed into nodes and converted by hand (no python tags can be
constructed), so that every value keeps its ``line:col`` and problems are
collected rather than raised one at a time.

Where PyYAML has libyaml (``yaml.CSafeLoader``), libyaml scans and parses and
this module composes the nodes from its events in a loop, not by recursion: the
C composer recurses on the C stack, where no depth limit could stop a
``[[[[...`` document. That is about ten times faster than the pure-Python
loader (benchmarks/yaml_load.py), which is used where libyaml is missing and
keeps its own depth check. Both give the same nodes, positions and issues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Issue, format_field_path

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "Loaded",
    "Positions",
    "load_yaml_bytes",
    "load_yaml_file",
    "load_yaml_text",
]

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Files larger than this are refused (a KB file is a few hundred KB)."""

MAX_NODES = 1_000_000
"""Upper bound on values built from one document (guards against alias bombs)."""

MAX_DEPTH = 100
"""Deepest nesting of collections accepted in one document (a KB file nests under 15).

Checked while composing and while building, before the next level is entered: a
deeper document would otherwise exhaust Python's recursion limit."""

MAX_INT_DIGITS = 100
"""Longest integer literal accepted, in characters. Python refuses to convert more
than 4,300 digits, and no score, hour or year needs more than a few."""

PathKey = tuple[str | int, ...]

_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

_SAFE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}


@dataclass
class Positions:
    """1-based (line, col) of every value (and every mapping key) by path."""

    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path``, or of its nearest known ancestor."""
        p = tuple(path)
        while True:
            if key and p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
            if not p:
                return (1, 1)
            p = p[:-1]


@dataclass
class Loaded:
    """A parsed document. ``placed`` is False for data that has no source text
    (a dict, JSON): its issues then name field paths only, not lines."""

    file: str
    data: Any
    positions: Positions
    issues: list[Issue]
    placed: bool = True

    def issue(
        self,
        path: PathKey,
        code: str,
        message: str,
        *,
        key: bool = False,
        suggestion: str | None = None,
        severity: str = "error",
    ) -> Issue:
        line, col = self.positions.of(path, key=key) if self.placed else (0, 0)
        return Issue(
            self.file,
            line,
            col,
            code,
            message,
            format_field_path(path),
            suggestion,
            severity,
        )


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        self.mark = mark


class _DepthLimitedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses to nest deeper than :data:`MAX_DEPTH`.

    PyYAML composes recursively (three frames a level); counting here stops a
    ``[[[[...`` document before Python's recursion limit does.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_END_EVENTS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)

_C_LOADER: type[Any] | None = getattr(yaml, "CSafeLoader", None)
"""libyaml's safe loader, when PyYAML was built with it (its parser, not its composer)."""


class _EventComposer:
    """Nodes from a parser's events, composed with an explicit stack.

    The events come from libyaml; the nodes are those PyYAML's composer makes
    (tags resolved the same way, anchors, aliases, marks), and nesting deeper than
    :data:`MAX_DEPTH` stops before the level is entered.

    Parameters
    ----------
    parser : yaml.CSafeLoader
        The loader over the text: its events and its tag resolver.
    """

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.anchors: dict[str, yaml.Node] = {}
        # plain scalars repeat (numbers, levels, ids): each text's tag is resolved once
        self.tags: dict[tuple[str, Any], str] = {}

    def compose(self) -> yaml.Node | None:
        """The single document's root node (None for an empty stream).

        Returns
        -------
        yaml.Node or None

        Raises
        ------
        yaml.MarkedYAMLError
            On a syntax error, an undefined or repeated anchor, or a second document.
        _TooDeep
            If collections nest deeper than :data:`MAX_DEPTH`.
        """
        get = self.parser.get_event
        get()  # StreamStart
        if isinstance(self.parser.peek_event(), yaml.StreamEndEvent):
            get()
            return None
        get()  # DocumentStart
        root = self._document()
        get()  # DocumentEnd
        event = get()
        if not isinstance(event, yaml.StreamEndEvent):
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                root.start_mark,
                "but found another document",
                event.start_mark,
            )
        return root

    def _document(self) -> yaml.Node:
        get = self.parser.get_event
        stack: list[yaml.Node] = []  # open collections, outermost first
        keys: list[yaml.Node | None] = []  # a mapping's key waiting for its value
        while True:
            event = get()
            if isinstance(event, _END_EVENTS):
                node = stack.pop()
                keys.pop()
                node.end_mark = event.end_mark
            else:
                node = self._open(event, len(stack))
                if isinstance(event, yaml.CollectionStartEvent):
                    stack.append(node)
                    keys.append(None)
                    continue
            if not stack:
                return node
            self._attach(stack[-1], keys, node)

    @staticmethod
    def _attach(parent: yaml.Node, keys: list[yaml.Node | None], node: yaml.Node) -> None:
        if isinstance(parent, yaml.SequenceNode):
            parent.value.append(node)
        elif keys[-1] is None:
            keys[-1] = node
        else:
            parent.value.append((keys[-1], node))
            keys[-1] = None

    def _open(self, event: Any, depth: int) -> yaml.Node:
        """The node an event starts (a whole scalar or alias; a collection left open)."""
        mark: Any = event.start_mark  # libyaml's Mark: the same fields as PyYAML's
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", mark
                )
            return self.anchors[event.anchor]
        if depth >= MAX_DEPTH and not isinstance(event, yaml.ScalarEvent):
            raise _TooDeep(event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None and anchor in self.anchors:
            raise yaml.composer.ComposerError(
                f"found duplicate anchor {anchor!r}; first occurrence",
                self.anchors[anchor].start_mark,
                "second occurrence",
                event.start_mark,
            )
        node = self._node(event)
        if anchor is not None:
            self.anchors[anchor] = node
        return node

    def _node(self, event: Any) -> yaml.Node:
        tag, resolve = event.tag, self.parser.resolve
        start: Any = event.start_mark  # libyaml's Mark: the same fields as PyYAML's
        end: Any = event.end_mark
        if isinstance(event, yaml.ScalarEvent):
            if tag is None or tag == "!":
                key = (event.value, event.implicit)
                tag = self.tags.get(key)
                if tag is None:
                    tag = self.tags[key] = resolve(yaml.ScalarNode, event.value, event.implicit)
            return yaml.ScalarNode(tag, event.value, start, end, event.style)
        flow = event.flow_style
        if isinstance(event, yaml.SequenceStartEvent):
            if tag is None or tag == "!":
                tag = resolve(yaml.SequenceNode, None, event.implicit)
            return yaml.SequenceNode(tag, [], start, None, flow_style=flow)
        assert isinstance(event, yaml.MappingStartEvent)
        if tag is None or tag == "!":
            tag = resolve(yaml.MappingNode, None, event.implicit)
        return yaml.MappingNode(tag, [], start, None, flow_style=flow)


def _compose(text: str) -> yaml.Node | None:
    """The document's root node: libyaml's events composed here, or the pure-Python
    depth-limited loader where libyaml is missing."""
    if _C_LOADER is None:
        return yaml.compose(text, Loader=_DepthLimitedLoader)
    parser = _C_LOADER(text)
    try:
        return _EventComposer(parser).compose()
    finally:
        parser.dispose()


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions = Positions()
        self.issues: list[Issue] = []
        self.count = 0
        self.constructor = yaml.SafeLoader("")
        # scalars that build immutable values, by (tag, text): each is converted once
        self.scalars: dict[tuple[str, str], Any] = {}
        # collections being built: an alias to one of them (``&a [*a]``) is a cycle
        self.open: set[int] = set()

    def _issue(self, node: yaml.Node, code: str, message: str) -> None:
        mark = node.start_mark
        self.issues.append(Issue(self.file, mark.line + 1, mark.column + 1, code, message))

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node)
        # aliases can nest deeper than the text does: the path is checked too
        if len(path) > MAX_DEPTH:
            raise _TooDeep(node.start_mark)
        mark = node.start_mark
        self.positions.values.setdefault(path, (mark.line + 1, mark.column + 1))
        if node.tag not in _SAFE_TAGS:
            self._issue(node, "unsafe-tag", f"tag {node.tag!r} is not allowed")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self.open:
            self._issue(node, "alias-cycle", "an alias refers to a collection that contains it")
            return None
        self.open.add(id(node))
        try:
            return self._collection(node, path)
        finally:
            self.open.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            # Dates are kept as their text: the contract works with strings (and a
            # date like 2020-13-45 is then the reader's to refuse, not a ValueError).
            return str(node.value)
        if node.tag == _INT_TAG and len(node.value) > MAX_INT_DIGITS:
            self._issue(
                node,
                "too-large",
                f"integer of {len(node.value)} characters; the limit is {MAX_INT_DIGITS}",
            )
            return None
        if node.tag == _STR_TAG:
            return node.value
        key = (node.tag, node.value)
        if key in self.scalars:
            return self.scalars[key]
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:
            self._issue(node, "bad-value", f"{node.value[:40]!r} cannot be read: {exc}")
            return None
        self.scalars[key] = value  # int, float, bool, None: immutable, safe to share
        return value

    def _collection(self, node: yaml.Node, path: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            # merge keys (<<) are resolved by flatten_mapping
            self.constructor.flatten_mapping(node)
            for key_node, value_node in node.value:
                key = self.build(key_node, (*path, "<key>"))
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    self._issue(key_node, "bad-key", "mapping keys must be scalars")
                    continue
                if key in out:
                    self._issue(key_node, "duplicate-key", f"duplicate key {key!r}")
                    continue
                kpath: PathKey = (*path, key if isinstance(key, (str, int)) else str(key))
                self.positions.keys[kpath] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                out[key] = self.build(value_node, kpath)
            self.positions.values.pop((*path, "<key>"), None)
            return out
        assert isinstance(node, yaml.SequenceNode)
        return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]


class _TooBig(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def load_yaml_text(text: str, file: str = "<string>") -> Loaded:
    """Parse one YAML document; every problem becomes an Issue (never raises)."""
    builder = _Builder(file)
    try:
        root = _compose(text)
    except _TooDeep as deep:
        return Loaded(file, None, builder.positions, [_too_deep(file, deep)])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and "maximum nesting depth" in str(exc.problem):
            # libyaml's own limit (1 000 levels), met while it scans ahead of our count
            return Loaded(file, None, builder.positions, [_too_deep(file, _TooDeep(mark))])
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{problem} ({exc.context})"
        return Loaded(
            file, None, builder.positions, [Issue(file, line, col, "yaml-syntax", problem)]
        )
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises Marked errors
        return Loaded(file, None, builder.positions, [Issue(file, 1, 1, "yaml-syntax", str(exc))])
    if root is None:
        return Loaded(file, None, builder.positions, [])
    try:
        data = builder.build(root, ())
    except _TooBig as big:
        mark = big.node.start_mark
        issue = Issue(
            file,
            mark.line + 1,
            mark.column + 1,
            "too-large",
            f"document expands to more than {MAX_NODES} values",
        )
        return Loaded(file, None, builder.positions, [issue])
    except _TooDeep as deep:
        return Loaded(file, None, builder.positions, [_too_deep(file, deep)])
    except yaml.YAMLError as exc:
        return Loaded(file, None, builder.positions, [Issue(file, 1, 1, "yaml-syntax", str(exc))])
    return Loaded(file, data, builder.positions, builder.issues)


def _too_deep(file: str, deep: _TooDeep) -> Issue:
    return Issue(
        file,
        deep.mark.line + 1,
        deep.mark.column + 1,
        "too-deep",
        f"values nest more than {MAX_DEPTH} levels deep",
    )


def load_yaml_file(
    path: Path, display: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> Loaded:
    """Read and parse a YAML file, refusing oversized or undecodable files."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Loaded(
                name,
                None,
                Positions(),
                [Issue(name, 1, 1, "too-large", f"file is {size} bytes; the limit is {max_bytes}")],
            )
        raw = path.read_bytes()
    except OSError as exc:
        return Loaded(
            name, None, Positions(), [Issue(name, 0, 0, "unreadable", exc.strerror or str(exc))]
        )
    return load_yaml_bytes(raw, name)


def load_yaml_bytes(raw: bytes, file: str) -> Loaded:
    """Decode (UTF-8, with or without a BOM) and parse one YAML document (never raises)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Loaded(
            file, None, Positions(), [Issue(file, line, 1, "encoding", "file is not valid UTF-8")]
        )
    return load_yaml_text(text, file)
