"""Renderers of a Result: JSON, the ИОМ document (Markdown, HTML), the graph (Mermaid, DOT).

Every renderer is deterministic: the same Result gives byte-identical text.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..choices import EXPORT_FORMATS as FORMATS
from ..errors import UsageError
from ..loader import KnowledgeBase
from ..models import Result, StepMark
from ..schema import Profile
from .document import COLUMNS, Document, build_document
from .dot import render_dot, route_dot
from .html import render_html
from .markdown import render_markdown
from .mermaid import render_mermaid, route_mermaid
from .templating import HTML_TEMPLATE, MARKDOWN_TEMPLATE, PACKAGED_TEMPLATES

__all__ = [
    "COLUMNS",
    "FORMATS",
    "HTML_TEMPLATE",
    "MARKDOWN_TEMPLATE",
    "PACKAGED_TEMPLATES",
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


def render(
    fmt: str,
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    *,
    marks: Mapping[str, StepMark] | None = None,
    after: Mapping[str, str] | None = None,
) -> str:
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
    marks : Mapping of str to StepMark, optional
        For the ИОМ document: step id -> the tutor's mark («Отметка о выполнении»).
    after : Mapping of str to str, optional
        For the ИОМ document: step id -> the result after the step.

    Returns
    -------
    str
        The rendered text, the same for the same inputs.

    Raises
    ------
    UsageError
        If ``fmt`` is not one of :data:`FORMATS`.
    KnowledgeBaseError
        If the KB's document template is broken (its file and line are named).
    """
    if fmt == "json":
        return render_json(result)
    if fmt == "md":
        return render_markdown(kb, profile, result, marks=marks, after=after)
    if fmt == "html":
        return render_html(kb, profile, result, marks=marks, after=after)
    if fmt == "mermaid":
        return render_mermaid(result)
    if fmt == "dot":
        return render_dot(result)
    raise UsageError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
