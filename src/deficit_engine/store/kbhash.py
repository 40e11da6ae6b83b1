"""The content hash of a knowledge base, kept with each stored Result for audit.

It is the SHA-256 of the KB's ``ontology/`` and ``rules/`` files (their paths
relative to the KB folder and their bytes, in path order): two folders with the
same files have the same hash wherever they are, and any edit changes it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["kb_hash"]

#: The folders of a KB whose files decide what it infers and recommends.
_PARTS = ("ontology", "rules")


def kb_hash(root: Path) -> str:
    """The content hash of the KB in ``root``.

    Parameters
    ----------
    root : Path
        The KB folder (``KnowledgeBase.root``).

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    for path in _files(root):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for part in _PARTS
        if (root / part).is_dir()
        for p in (root / part).rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
