"""The ИОМ document as one self-contained HTML page (A4 landscape), from ``iom.html.j2``."""

from __future__ import annotations

from collections.abc import Mapping

from ..loader import KnowledgeBase
from ..models import Result, StepMark
from ..schema import Profile
from .document import build_document
from .templating import HTML_TEMPLATE, render_template

__all__ = ["render_html"]


def render_html(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    *,
    marks: Mapping[str, StepMark] | None = None,
    after: Mapping[str, str] | None = None,
) -> str:
    """The printable ИОМ document in HTML, from the KB's template or the packaged one.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB ``result`` was evaluated on (its titles, texts and templates).
    profile : Profile
        The validated profile ``result`` is for.
    result : Result
        What ``Engine.evaluate`` returned.
    marks : Mapping of str to StepMark, optional
        Step id -> the tutor's mark, shown in «Отметка о выполнении».
    after : Mapping of str to str, optional
        Step id -> the result after the step, shown under its mark.

    Returns
    -------
    str
        The document; profile and KB text is escaped.

    Raises
    ------
    KnowledgeBaseError
        If the KB's template is broken (its file and line are named).
    UsageError
        If ``result`` is not for ``profile`` or has no scores.
    """
    doc = build_document(kb, profile, result, marks=marks, after=after)
    return render_template(kb, HTML_TEMPLATE, doc)
