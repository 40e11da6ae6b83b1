"""``deficit-engine serve``: the engine over HTTP, with roles and web pages (issue 15).

:func:`create_app` builds the ASGI app from an :class:`~deficit_engine.engine.Engine`,
the tokens (:func:`load_tokens`) and where people are kept (:class:`Records`).
"""

from __future__ import annotations

from .access import ROLES, Access, Grant, load_tokens
from .app import MAX_BODY, MAX_UPLOAD, create_app
from .records import Diagnosis, MemoryRecords, PersonRecord, Records

__all__ = [
    "MAX_BODY",
    "MAX_UPLOAD",
    "ROLES",
    "Access",
    "Diagnosis",
    "Grant",
    "MemoryRecords",
    "PersonRecord",
    "Records",
    "create_app",
    "load_tokens",
]
