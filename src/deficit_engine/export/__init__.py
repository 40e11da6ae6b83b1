"""Renderers of a Result: JSON, the ИОМ document (Markdown, HTML), the graph (Mermaid, DOT).

Every renderer is deterministic: the same Result gives byte-identical text.
"""

from __future__ import annotations

from ..choices import EXPORT_FORMATS as FORMATS
from ..errors import UsageError
from ..loader import KnowledgeBase
from ..models import Result
from ..schema import Profile
from .document import COLUMNS, Document, build_document
from .dot import render_dot, route_dot
from .html import render_html
from .markdown import render_markdown
from .mermaid import render_mermaid, route_mermaid

__all__ = [
    "COLUMNS",
    "FORMATS",
    "Document",
    "build_document",
    "render",
    "render_dot",
    "render_html",
    "render_json",
    "render_markdown",
    "render_mermaid",
    "route_dot",
    "route_mermaid",
]


def render_json(result: Result) -> str:
    """The whole Result, trace included, as indented JSON.

    Parameters
    ----------
    result : Result
        The Result to write.

    Returns
    -------
    str
        :meth:`Result.to_json` with a trailing newline.
    """
    return result.to_json(trace=True) + "\n"


def render(fmt: str, kb: KnowledgeBase, profile: Profile, result: Result) -> str:
    """Render a Result in one of the export formats.

    Parameters
    ----------
    fmt : str
        One of :data:`FORMATS`: ``json``, ``md``, ``html``, ``mermaid``, ``dot``.
    kb : KnowledgeBase
        The KB ``result`` was evaluated on (the ИОМ document reads its titles).
    profile : Profile
        The validated profile ``result`` is for.
    result : Result
        What :meth:`Engine.evaluate <deficit_engine.engine.Engine.evaluate>` returned.

    Returns
    -------
    str
        The rendered text, the same for the same inputs.

    Raises
    ------
    UsageError
        If ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt == "json":
        return render_json(result)
    if fmt == "md":
        return render_markdown(kb, profile, result)
    if fmt == "html":
        return render_html(kb, profile, result)
    if fmt == "mermaid":
        return render_mermaid(result)
    if fmt == "dot":
        return render_dot(result)
    raise UsageError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
