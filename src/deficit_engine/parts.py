"""A batch's results as parts written by the workers: JSON Lines (orjson) or Parquet.

With ``batch --format jsonl|parquet`` each worker writes the chunk it ran to
``results/part-NNNNN.jsonl`` or ``.parquet`` (NNNNN: the chunk's number in input
order, so the folder is the same whichever worker ran which chunk), instead of
sending its Results to the parent. A Parquet part is one row group; the folder
reads as one table with any Parquet reader (pyarrow, DuckDB, polars), without
this package. The columns are described in docs/parts.md.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .models import Deficit, Need, Provenance, Recommendation
from .outputs import PERSON_FIELDS

__all__ = [
    "FORMATS",
    "PART_FOLDER",
    "PartRow",
    "Pieces",
    "check_kept",
    "forget_pieces",
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
    :meth:`~deficit_engine.models.Result.json_data`, written as the same JSON).

    ``source``, the Result itself, is needed when the dict holds pieces' texts
    (:class:`Pieces`): ``json`` does not write an ``orjson.Fragment``, so a record
    orjson refuses (a lone surrogate) is then written from ``source.to_dict()``."""

    profile: str
    person: Mapping[str, Any]
    result: Mapping[str, Any]
    source: Any = None


class Pieces:
    """A part's shared pieces, each made into its dict once, and into its JSON text
    when met again: a person's needs, recommendations and unmet entries are mostly
    the same objects as other people's (the engine interns the needs, the plan its
    programme recommendations, and a part's Resolutions arrive in one pickle, which
    keeps them shared), so each one's ``to_dict()`` is made the first time and the
    same dict is put in the next person's Result dict; met a second time, the piece
    is given as an ``orjson.Fragment`` of its JSON, which orjson copies instead of
    writing the dict again (46 needs a person: 2 µs against 7). A need's or a
    recommendation's fragment is kept for the worker's later parts too
    (:data:`_SHARED`, bounded): they are the same objects part after part (the
    spill's needs, the plan's recommendations), so their dict and text are made
    once per worker, not once per part. Unmet entries are made per part: theirs are
    kept by the part alone. A piece met once, most of a person's format
    recommendations, stays a dict: its own ``orjson.dumps`` would cost more than
    its text saves.

    Pass :meth:`each` to :meth:`Result.json_data <deficit_engine.models.Result.json_data>`
    (or ``to_dict``), and the Result as the row's ``source`` (:class:`PartRow`); the
    dicts are then shared between the part's rows, which the part writer only
    reads. Items are told apart by identity, never by value (hashing a piece's tuples
    and strings cost as much as making its dict again): each item is kept alive here
    (and in :data:`_SHARED`) with its dict or text, so its id cannot be taken by
    another object while they are kept; make one per part, so that they live no
    longer. Pieces are values, never changed: a piece's text stays its JSON.
    """

    def __init__(self) -> None:
        self._made: dict[int, Any] = {}  # id -> the item's dict, then its fragment
        self._kept: list[Any] = []  # every item in _made, alive while the Pieces live
        self._plain: set[int] = set()  # ids of items whose text orjson refused

    def each(self, items: Sequence[Any]) -> list[Any]:
        """Each item's ``to_dict()``, made once per item for the part, or its JSON
        text (``orjson.Fragment``) once it is met again.

        Parameters
        ----------
        items : sequence
            Needs, recommendations or unmet entries (anything with ``to_dict``).

        Returns
        -------
        list
            One dict or fragment per item, in order, each written by orjson as the
            item's ``to_dict()``; an item met before gives the same one.
        """
        shared = _SHARED.get
        made = self._made
        known = made.get
        out = []
        for item in items:
            piece = shared(id(item))
            if piece is None:
                piece = known(id(item))
                if piece is None:
                    piece = made[id(item)] = item.to_dict()
                    self._kept.append(item)
                elif type(piece) is dict and id(item) not in self._plain:
                    piece = self._text(item, piece)
            out.append(piece)
        return out

    def _text(self, item: Any, data: dict[str, Any]) -> Any:
        """The fragment of an item met a second time, kept for the part (and for the
        worker: a need or a recommendation); its dict when orjson refuses it."""
        import orjson

        try:
            text = orjson.Fragment(orjson.dumps(data, default=_listed))
        except orjson.JSONEncodeError:  # a lone surrogate: json writes its dict
            self._plain.add(id(item))
            return data
        self._made[id(item)] = text
        if isinstance(item, _KEPT_KINDS):
            _keep_shared(item, text)
        return text


#: id -> the fragment of a need or recommendation met twice in a part, for this
#: worker's later parts; the item is kept alive in :data:`_SHARED_ITEMS`, so that its
#: id is not another's while it is here. At most :data:`_SHARED_KEPT` entries: then
#: emptied (a few thousand a cohort's parts share; the needs of a spill share that
#: is done and the recommendations only a few people had are not kept forever).
_SHARED: dict[int, Any] = {}
#: id -> the item of each entry of :data:`_SHARED` (every key of it is one here).
_SHARED_ITEMS: dict[int, Any] = {}
#: The most pieces kept for a worker's later parts.
_SHARED_KEPT = 4096
#: Written under this lock: a Dask worker's threads share the pieces. Read without:
#: an entry is added after its item is kept, and dropped before it.
_SHARED_LOCK = threading.Lock()


def _keep_shared(item: Any, text: Any) -> None:
    """Keep ``item``'s fragment for the worker's later parts (emptied when full)."""
    with _SHARED_LOCK:
        if len(_SHARED) >= _SHARED_KEPT:
            forget_pieces()
        _SHARED_ITEMS[id(item)] = item
        _SHARED[id(item)] = text


def forget_pieces() -> None:
    """Drop the pieces' texts kept for a worker's later parts (:class:`Pieces`): a
    batch run in this process calls it when done, so that it keeps none of its people."""
    _SHARED.clear()  # first: an entry's item is kept while the entry is there
    _SHARED_ITEMS.clear()


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

    try:
        return orjson.dumps(_record(row), default=_listed, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        record = _record(_plain_row(row))
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_fields)
        return text.encode("utf-8", errors="backslashreplace") + b"\n"


def _plain_row(row: PartRow) -> PartRow:
    """The row with its Result's dict made again from its ``source`` without pieces'
    texts (which ``json`` does not write), when it has one."""
    if row.source is None:
        return row
    return PartRow(row.profile, row.person, row.source.to_dict("trace" in row.result))


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
    columns["result"] = _utf8_column([_result_json(row) for row in rows])
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


def _result_json(row: PartRow) -> bytes:
    """A row's Result dict as compact JSON, UTF-8; a lone surrogate as its escape."""
    import orjson

    try:
        return orjson.dumps(row.result, default=_listed)
    except orjson.JSONEncodeError:
        result = _plain_row(row).result
        text = json.dumps(result, ensure_ascii=True, separators=(",", ":"), default=_fields)
        return text.encode("ascii")


#: The pieces whose fragments a worker keeps for its later parts (:class:`Pieces`).
_KEPT_KINDS = (Need, Recommendation)

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
