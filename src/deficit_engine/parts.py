"""A batch's results as parts written by the workers: JSON Lines (orjson) or Parquet.

With ``batch --format jsonl|parquet`` each worker writes the chunk it ran to
``results/part-NNNNN.jsonl`` or ``.parquet`` (NNNNN: the chunk's number in input
order, so the folder is the same whichever worker ran which chunk), instead of
sending its Results to the parent. A Parquet part is one row group; the folder
reads as one table with any Parquet reader (pyarrow, DuckDB, polars), without
this package. The columns are described in docs/parts.md.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .models import Deficit, Provenance
from .outputs import PERSON_FIELDS

__all__ = [
    "FORMATS",
    "PART_FOLDER",
    "PartRow",
    "Pieces",
    "arrow_without_pandas",
    "check_kept",
    "part_path",
    "write_part",
]

#: What ``batch --format`` can write.
FORMATS = ("jsonl", "parquet")
#: The folder of the parts inside a batch's output folder.
PART_FOLDER = "results"


@dataclass(frozen=True)
class PartRow:
    """One person's row of a part: the profile id, the person record
    (:func:`deficit_engine.outputs.person_record`) and the Result as a dict
    (:meth:`Result.to_dict <deficit_engine.models.Result.to_dict>`, or its
    :meth:`~deficit_engine.models.Result.json_data`, written as the same JSON)."""

    profile: str
    person: Mapping[str, Any]
    result: Mapping[str, Any]


class Pieces:
    """A part's shared pieces, each made into its dict once: a person's needs,
    recommendations and unmet entries are mostly the same objects as other people's
    (the engine interns the needs, the plan its programme recommendations, and a
    part's Resolutions arrive in one pickle, which keeps them shared), so each one's
    ``to_dict()`` is made the first time and the same dict is put in every later
    person's Result dict.

    Pass :meth:`each` to :meth:`Result.json_data <deficit_engine.models.Result.json_data>`
    (or ``to_dict``);
    the dicts are then shared between the part's rows, which the part writer only
    reads. Items are told apart by identity, never by value (hashing a piece's tuples
    and strings cost as much as making its dict again): each item is kept alive here
    with its dict, so its id cannot be taken by another object while the Pieces live;
    make one per part, so that they live no longer.
    """

    def __init__(self) -> None:
        self._made: dict[int, dict[str, Any]] = {}  # id -> the item's dict
        self._kept: list[Any] = []  # every item in _made, alive while the Pieces live

    def each(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Each item's ``to_dict()``, made once per item for the part.

        Parameters
        ----------
        items : sequence
            Needs, recommendations or unmet entries (anything with ``to_dict``).

        Returns
        -------
        list of dict
            One dict per item, in order; an item met before gives the same dict.
        """
        made = self._made
        known = made.get
        out = []
        for item in items:
            shared = known(id(item))
            if shared is None:
                shared = made[id(item)] = item.to_dict()
                self._kept.append(item)
            out.append(shared)
        return out


def part_path(folder: Path, index: int, fmt: str) -> Path:
    """Where chunk ``index``'s part is written in the output folder ``folder``.

    Parameters
    ----------
    folder : Path
        The (staging) output folder.
    index : int
        The chunk's number, from 0, in input order.
    fmt : str
        ``jsonl`` or ``parquet``.

    Returns
    -------
    Path
        ``folder/results/part-NNNNN.<fmt>``.
    """
    return folder / PART_FOLDER / f"part-{index:05d}.{fmt}"


def write_part(path: Path, rows: Sequence[PartRow], fmt: str, keep: Sequence[str] = ()) -> None:
    """Write one chunk's rows to ``path`` (its folder is made when missing).

    Parameters
    ----------
    path : Path
        The part's file (:func:`part_path`).
    rows : sequence of PartRow
        The chunk's evaluated people, in input order.
    fmt : str
        ``jsonl`` or ``parquet``.
    keep : sequence of str
        The kept pass-through columns (``--keep-columns``): Parquet gives each a
        text column after the person fields.

    Raises
    ------
    UsageError
        If ``fmt`` is not one of :data:`FORMATS`.
    OSError
        If the file cannot be written (a full disk): the batch then publishes nothing.
    """
    if fmt not in FORMATS:
        raise UsageError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        _write_lines(path, [_jsonl_line(row) for row in rows])
    else:
        _write_parquet(path, rows, keep)


def _write_lines(path: Path, lines: list[bytes]) -> None:
    """Write ``lines`` to ``path`` (made, or emptied first) by ``os.writev``, up to
    :data:`_IOV_MAX` lines a call: joined into one bytes object first, a part's 9 MB
    were copied once more before the write copied them again.

    Raises
    ------
    OSError
        If the file cannot be written (a full disk), or a write wrote nothing.
    """
    if not hasattr(os, "writev"):  # not on Windows
        path.write_bytes(b"".join(lines))
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        pending = lines
        while pending:
            written = os.writev(fd, pending[:_IOV_MAX])
            if written <= 0:
                raise OSError(f"{path}: nothing written")
            pending = _unwritten(pending, written)
    finally:
        os.close(fd)


def _unwritten(lines: list[bytes], written: int) -> list[bytes]:
    """What is left of ``lines`` once their first ``written`` bytes are written: a
    write may stop short (a signal), even in the middle of a line."""
    for at, line in enumerate(lines):
        if written < len(line):
            return [line[written:], *lines[at + 1 :]]
        written -= len(line)
    return []


#: The most buffers one ``os.writev`` takes (Linux's and macOS's IOV_MAX).
_IOV_MAX = 1024


def check_kept(keep: Sequence[str]) -> None:
    """Refuse kept columns that a Parquet part cannot hold beside its own columns.

    Parameters
    ----------
    keep : sequence of str
        The ``--keep-columns`` names.

    Raises
    ------
    UsageError
        If one is named as one of the part's own columns (``result``, ``deficits``...).
    """
    own = set(_schema(()).names)
    for column in keep:
        if column in own:
            raise UsageError(
                f"--keep-columns {column}: a Parquet part has its own column of that name"
            )


def _record(row: PartRow) -> dict[str, Any]:
    """The row as results.jsonl holds it: profile, then person, then the rest of the Result."""
    return {"profile": row.profile, "person": dict(row.person), **row.result}


def _jsonl_line(row: PartRow) -> bytes:
    """One JSON line by orjson (7x faster than json.dumps); a lone surrogate (an id
    read from a broken file), which orjson refuses, is written as its escape as the
    default results.jsonl does."""
    import orjson

    record = _record(row)
    try:
        return orjson.dumps(record, default=_listed, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_fields)
        return text.encode("utf-8", errors="backslashreplace") + b"\n"


def _listed(value: Any) -> list[Any]:
    """orjson's ``default``: a tuple's subclass (a NamedTuple), which orjson does not
    write, as the list ``to_dict`` copies it into (``Result.json_data`` leaves
    tuples as they are); anything else is refused, as without it."""
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _fields(value: Any) -> dict[str, Any]:
    """``json.dumps``'s ``default``: a deficit or a provenance entry, which
    ``Result.json_data`` leaves as itself for orjson, as its ``to_dict``; anything
    else is refused, as without it."""
    if isinstance(value, Deficit | Provenance):
        return value.to_dict()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _schema(keep: Sequence[str]) -> Any:
    """The Parquet columns: fixed, so every part (an empty one too) has the same."""
    import pyarrow as pa

    fields = [
        pa.field("profile", pa.string()),
        pa.field("role", pa.string()),
        pa.field("municipality", pa.string()),
        pa.field("organization", pa.string()),
        pa.field("experience_years", pa.float64()),
        pa.field("subjects", pa.list_(pa.string())),
        *(pa.field(column, pa.string()) for column in keep),
        pa.field("deficits", pa.list_(pa.string())),
        pa.field("severities", pa.list_(pa.string())),
        pa.field("result", pa.string()),
    ]
    return pa.schema(fields)


def _columns(rows: Sequence[PartRow], keep: Sequence[str]) -> dict[str, list[Any]]:
    """The rows as columns: the person fields and each deficit's competency and
    severity for querying without JSON, the whole Result as JSON text (nothing lost)."""
    names = (*PERSON_FIELDS, *keep)
    columns: dict[str, list[Any]] = {"profile": [_text(row.profile) for row in rows]}
    for name in names:
        columns[name] = [_text(row.person.get(name)) for row in rows]
    deficits = [[_deficit(d) for d in row.result.get("deficits") or ()] for row in rows]
    columns["deficits"] = [_texts([c for c, _s in ds]) for ds in deficits]
    columns["severities"] = [_texts([s for _c, s in ds]) for ds in deficits]
    columns["result"] = _utf8_column([_result_json(row.result) for row in rows])
    return columns


def _deficit(deficit: Any) -> tuple[Any, Any]:
    """A deficit's competency and severity, from its dict or (``Result.json_data``)
    the Deficit itself."""
    if isinstance(deficit, Deficit):
        return deficit.competency, deficit.severity
    return deficit.get("competency"), deficit.get("severity")


def _text(value: Any) -> Any:
    """Text as Parquet can hold it (UTF-8): a lone surrogate as its escape, ``\\udc80``;
    a list's items each so; anything else unchanged."""
    if isinstance(value, str):
        # nearly every value is ASCII (ids) or plain UTF-8: only a lone surrogate,
        # which UTF-8 cannot encode, needs the escape (and the copy it costs)
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", errors="backslashreplace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [_text(item) for item in value]
    return value


def _texts(values: list[Any]) -> list[Any]:
    """:func:`_text` of each value: the list itself when its values are ASCII text
    (competency ids and severities), checked at once instead of one by one."""
    try:
        ascii_only = "".join(values).isascii()
    except TypeError:  # a value is not text (None): each one as it is
        ascii_only = False
    return values if ascii_only else [_text(value) for value in values]


def _result_json(result: Mapping[str, Any]) -> bytes:
    """A Result dict as compact JSON, UTF-8; a lone surrogate as its escape."""
    import orjson

    try:
        return orjson.dumps(result, default=_listed)
    except orjson.JSONEncodeError:
        text = json.dumps(result, ensure_ascii=True, separators=(",", ":"), default=_fields)
        return text.encode("ascii")


#: The most bytes a ``string`` column's 32-bit offsets can address.
_STRING_BYTES = 2**31 - 1


def _utf8_column(texts: Sequence[bytes]) -> Any:
    """Valid UTF-8 texts as an Arrow ``string`` array, made from the bytes as they
    are: the whole Result's JSON comes from orjson as UTF-8, and decoding it to
    ``str`` for Arrow to encode again cost more than writing it. Past what 32-bit
    offsets address (huge traces), the texts go as ``str`` and Arrow splits them."""
    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(text) for text in texts], out=offsets[1:])
    if offsets[-1] > _STRING_BYTES:
        return [text.decode("utf-8") for text in texts]
    return pa.StringArray.from_buffers(
        len(texts), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(texts))
    )


#: Columns whose values are (nearly) all distinct: no dictionary encoding.
_NO_DICTIONARY = ("profile", "result")


def _leaf(column: Any) -> str:
    """A column's path as Parquet names its values (a list's are ``NAME.list.element``)."""
    import pyarrow as pa

    return f"{column.name}.list.element" if pa.types.is_list(column.type) else str(column.name)


class _NoPandas(importlib.abc.MetaPathFinder):
    """A finder that says pandas is not there (see :func:`arrow_without_pandas`)."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def arrow_without_pandas() -> None:
    """Have pyarrow, in this process, work without pandas, as where pandas is not
    installed: call it in a process of the batch's own (a pool's worker), before
    its first Parquet part.

    pyarrow looks for pandas once, on its first array made from Python values (a
    list might be a pandas object), and then imports it whole: 49 MB of a
    worker's RSS (61 MB after importing pyarrow, 110 after pandas), in each
    worker, for nothing a part uses. Here that one look is made while pandas
    cannot be imported, and pyarrow remembers it. Where pandas is loaded already
    (or pyarrow has looked for it), nothing changes; nor does a part's file.
    """
    global _PANDAS_LOOKED_FOR
    if _PANDAS_LOOKED_FOR or "pandas" in sys.modules:
        return
    import pyarrow as pa

    refused = _NoPandas()
    sys.meta_path.insert(0, refused)
    try:
        pa.array([], type=pa.string())  # pyarrow's look for pandas, made now
    finally:
        sys.meta_path.remove(refused)
    _PANDAS_LOOKED_FOR = True


#: Whether :func:`arrow_without_pandas` made pyarrow's look for pandas here.
_PANDAS_LOOKED_FOR = False


def _write_parquet(path: Path, rows: Sequence[PartRow], keep: Sequence[str]) -> None:
    """One row group (the chunk), zstd-compressed: the Result's JSON text repeats
    the KB's ids and labels from person to person, which zstd takes out."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema(keep)
    columns = _columns(rows, keep)
    for name in ("experience_years",):
        columns[name] = [None if v is None else float(v) for v in columns[name]]
    for name in keep:
        columns[name] = [None if v is None else str(v) for v in columns[name]]
    table = pa.Table.from_pydict(columns, schema=schema)
    pq.write_table(
        table,
        path,
        row_group_size=max(1, len(rows)),
        compression="zstd",
        # a dictionary pays on the few distinct roles, places and ids; on the long
        # Result texts, all distinct, building it took 5x the whole write
        use_dictionary=[_leaf(f) for f in schema if f.name not in _NO_DICTIONARY],
    )
