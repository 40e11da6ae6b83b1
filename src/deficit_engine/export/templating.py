"""The ИОМ document's templates: where they are found, how they escape, what a broken one says.

The packaged templates (``export/templates/``) are the region's form. A KB may
replace any of them by a file of the same name in its ``templates/`` folder
(:attr:`KnowledgeBase.templates <deficit_engine.kb.KnowledgeBase.templates>`);
a name the KB does not have falls back to the packaged one, and a KB template
may extend a packaged one as ``base/NAME`` to change only a block.

Escaping is not left to the template author. HTML is autoescaped by Jinja2.
Markdown has no autoescape, so every ``{{ ... }}`` passes through
:func:`markdown_text` (the same inert text as before templates: no raw HTML,
no links, no backslash escapes) unless a filter already made it safe. Templates
run in Jinja2's sandbox: a KB is input, and a template can reach no Python
internals through it.
"""

from __future__ import annotations

import traceback
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from ..errors import Issue, KnowledgeBaseError, display_path
from ..loader import TEMPLATE_SUFFIX, KnowledgeBase
from ..months import month_label
from .document import Document

__all__ = [
    "HTML_TEMPLATE",
    "MARKDOWN_TEMPLATE",
    "PACKAGED_TEMPLATES",
    "markdown_text",
    "render_template",
]

#: The folder of the packaged templates.
PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The template of the Markdown document.
MARKDOWN_TEMPLATE = "iom.md.j2"
#: The template of the HTML document.
HTML_TEMPLATE = "iom.html.j2"


def markdown_text(value: object) -> Markup:
    """Text from a profile or the KB, made inert on one Markdown line.

    Markdown passes raw HTML through, so ``<`` and ``&`` become entities (no
    ``<script>``, ``<img onerror>`` or ``<javascript:...>`` autolink); ``](``
    is escaped so no text makes a link or an image; backslashes are doubled so
    none escapes what follows, and line breaks are folded into spaces.

    Parameters
    ----------
    value : object
        What to show; ``Markup`` (already made safe by a filter) is kept as it is.

    Returns
    -------
    Markup
        The text, safe to place anywhere in a Markdown line.
    """
    if isinstance(value, Markup):
        return value
    return Markup(_inert(str(value)))


def _inert(value: str) -> str:
    """:func:`markdown_text` on a plain string, as a plain string (a cell joins many)."""
    text = " ".join(value.split())
    text = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
    return text.replace(">", "&gt;").replace("](", "]\\(")


def _lines(value: object) -> list[str]:
    """A cell's lines: a string is one line, a sequence is one line per item."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):  # not the Sequence ABC: a document has ~600 cells
        return [str(v) for v in value]
    return [str(value)]


def markdown_cell(value: object) -> Markup:
    """A Markdown table cell: the lines made inert, joined by ``<br>``, pipes escaped."""
    text = "<br>".join(_inert(p) for p in _lines(value) if p)
    return Markup(text.replace("|", "\\|") or " ")


def markdown_table(header: Sequence[object], rows: Sequence[Sequence[object]]) -> Markup:
    """A GitHub-flavoured table: a header row, the rule, then a row per item."""
    out = ["| " + " | ".join(markdown_cell(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out.extend("| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows)
    return Markup("\n".join(out))


def html_lines(value: object) -> Markup:
    """A cell's lines for HTML: each escaped, joined by ``<br>``."""
    return Markup("<br>".join(str(escape(p)) for p in _lines(value)))


def _loader(templates: Path | None) -> jinja2.BaseLoader:
    packaged = jinja2.FileSystemLoader(PACKAGED_TEMPLATES)
    own = [jinja2.FileSystemLoader(templates)] if templates is not None else []
    return jinja2.ChoiceLoader([*own, packaged, jinja2.PrefixLoader({"base": packaged})])


# One environment per KB and kind, so that a template compiles once per KB (a
# batch renders thousands of documents). Keyed by the KB itself, not its folder:
# a KB loaded again sees templates added since, as it sees any other file.
_ENVIRONMENTS: weakref.WeakKeyDictionary[KnowledgeBase, dict[bool, jinja2.Environment]] = (
    weakref.WeakKeyDictionary()
)


def _environment(kb: KnowledgeBase, html: bool) -> jinja2.Environment:
    """The KB's environment for HTML or Markdown, made on first use."""
    envs = _ENVIRONMENTS.setdefault(kb, {})
    if html not in envs:
        envs[html] = _make_environment(kb.templates, html)
    return envs[html]


def _make_environment(templates: Path | None, html: bool) -> jinja2.Environment:
    common: dict[str, Any] = {
        "loader": _loader(templates),
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    # the packaged templates are the package's own code; a KB's are input, and
    # run sandboxed (about twice as slow: every attribute access is checked)
    kind = jinja2.Environment if templates is None else ImmutableSandboxedEnvironment
    if html:
        env = kind(autoescape=True, **common)
        env.filters["lines"] = html_lines
    else:
        env = kind(autoescape=False, finalize=markdown_text, **common)
        env.filters["cell"] = markdown_cell
        env.filters["text"] = markdown_text
        env.globals["table"] = markdown_table
    env.globals.update(zip=zip, month_label=month_label, month_short=month_short)
    return env


_MONTH_SHORT = ("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")


def month_short(month: str) -> str:
    """A ``YYYY-MM`` month's short Russian name, for a chart's column (``2026-09`` -> ``сен``)."""
    return _MONTH_SHORT[int(month.rpartition("-")[2]) - 1]


def _template_place(exc: BaseException) -> tuple[str, int]:
    """The template file and line an error was raised at (Jinja2 rewrites the
    traceback so that a template's frames name its file and line)."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
        return exc.filename, exc.lineno or 0
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(TEMPLATE_SUFFIX)
    ]
    if frames:
        return frames[-1].filename, frames[-1].lineno or 0
    return "", 0


def _message(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template not found: {exc.name}"
    if isinstance(exc, jinja2.TemplateError) and exc.message:
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def render_template(kb: KnowledgeBase, name: str, doc: Document) -> str:
    """Render one of the document templates for ``doc``, the KB's own if it has one.

    Parameters
    ----------
    kb : KnowledgeBase
        Whose ``templates/`` folder is searched first.
    name : str
        :data:`MARKDOWN_TEMPLATE` or :data:`HTML_TEMPLATE` (or another template
        of the folder, extending one of them).
    doc : Document
        The content; the template sees it as ``doc``.

    Returns
    -------
    str
        The rendered document.

    Raises
    ------
    KnowledgeBaseError
        If the template does not parse, names what ``doc`` does not have, or
        fails while rendering; the issue names the template's file and line.
    """
    env = _environment(kb, name.endswith(".html" + TEMPLATE_SUFFIX))
    try:
        return env.get_template(name).render(doc=doc)
    except Exception as exc:  # any failure of a template is the KB's problem, placed
        filename, line = _template_place(exc)
        place = display_path(Path(filename)) if filename else name
        raise KnowledgeBaseError(
            [Issue(place, line, 0, "template", f"template {name}: {_message(exc)}")]
        ) from None
