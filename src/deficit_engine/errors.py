"""The exception hierarchy and the positioned problem report.

Every error the package raises derives from :class:`DeficitEngineError`.
Problems in input files are collected as :class:`Issue` objects (one per
problem, with its place) and raised together inside a :class:`SourceError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SHOWN_ISSUES",
    "BackendLimitError",
    "DeficitEngineError",
    "EvaluationError",
    "FiringLimitError",
    "Issue",
    "KnowledgeBaseError",
    "MarksError",
    "MatchBudgetError",
    "ProfileError",
    "SourceError",
    "UnknownIdError",
    "UsageError",
    "WrongTypeError",
    "capped",
    "display_path",
    "format_field_path",
]


class DeficitEngineError(Exception):
    """Root of every exception raised by deficit_engine."""


class UsageError(DeficitEngineError, ValueError):
    """A call or a command line asked for something the package does not offer.

    An unknown backend, a firing limit or a worker count below 1, a feature file
    that does not exist: a mistake in how the package is used, not a problem found
    in a knowledge base or a profile (those are :class:`SourceError`) nor a failure
    of inference (:class:`EvaluationError`). It is also a ``ValueError``, which is
    what these checks raised before, so callers that catch ``ValueError`` still
    catch it.
    """


class WrongTypeError(UsageError, TypeError):
    """A function was given an argument of the wrong type (a dict where a validated
    Profile is needed, say). Also a ``TypeError``, what Python code expects for it."""


class UnknownIdError(DeficitEngineError, KeyError):
    """A lookup by id (a step of a route, a level of the scale) found nothing.
    Also a ``KeyError``, as a mapping lookup would raise."""


@dataclass(frozen=True, order=True)
class Issue:
    """One problem found in an input, with its place.

    Issues sort by file, line, column, then code and message: the order reports use.

    Attributes
    ----------
    file : str
        The source file as an issue names it (:func:`display_path`); empty when
        the input came from no file.
    line, col : int
        The place in ``file``, 1-based; 0 when the place is not known.
    code : str
        A short stable name of the kind of problem (``unknown-ref``, ``duplicate``).
    message : str
        What is wrong, for a person.
    path : str
        The field path inside the document (``results[2].score``), if any.
    suggestion : str or None
        The nearest existing id, when an unknown id resembles one.
    severity : str
        ``"error"`` or ``"warning"``.
    """

    file: str
    line: int
    col: int
    code: str
    message: str
    path: str = ""
    suggestion: str | None = None
    severity: str = "error"  # "error" | "warning"

    @property
    def location(self) -> str:
        """Where the problem is: ``file:line:col``, else ``file:path``, else what is known."""
        if self.file and self.line:
            return f"{self.file}:{self.line}:{self.col}"
        if self.file and self.path:
            return f"{self.file}:{self.path}"
        return self.file or self.path or "<input>"

    def __str__(self) -> str:
        text = f"{self.location}: {self.code}: {self.message}"
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return text


#: The most problems a report prints one per line: 100,000 unknown ids are one
#: mistake repeated (a wrong column, a wrong KB), and the first lines show it.
SHOWN_ISSUES = 50


def capped(lines: Sequence[str], limit: int | None = SHOWN_ISSUES) -> list[str]:
    """The first ``limit`` lines, then one line saying how many more there are.

    Parameters
    ----------
    lines : sequence of str
        The lines of a report, in order.
    limit : int or None, optional
        The most lines to keep; None keeps all.

    Returns
    -------
    list of str
        ``lines`` itself when within the limit.
    """
    if limit is None or len(lines) <= limit:
        return list(lines)
    rest = len(lines) - limit
    return [*lines[:limit], f"... and {rest} more problem(s) not shown ({len(lines)} in all)"]


class SourceError(DeficitEngineError):
    """An input (a KB, a rule file, a profile) has one or more problems.

    The message names the first issue and how many more there are; ``issues``
    holds them all.

    Parameters
    ----------
    issues : iterable of Issue
        Every problem found, in the order to report them.
    what : str
        What the input is, for the message (``"profile"``, ``"knowledge base"``).
    """

    def __init__(self, issues: Iterable[Issue], what: str = "input") -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        self.what = what
        count = len(self.issues)
        head = str(self.issues[0]) if self.issues else "no details"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"invalid {what}: {head}{more}")

    def lines(self, limit: int | None = SHOWN_ISSUES) -> list[str]:
        """One line of text per issue, as a report prints them, at most ``limit``
        of them and then a line counting the rest.

        Parameters
        ----------
        limit : int or None, optional
            The most issues to print (:data:`SHOWN_ISSUES`); None: all.

        Returns
        -------
        list of str
            ``str(issue)`` for each issue, in order (see :func:`capped`).
        """
        return capped([str(issue) for issue in self.issues], limit)


class KnowledgeBaseError(SourceError):
    """A knowledge base (ontology files or rule files) is invalid.

    Parameters
    ----------
    issues : iterable of Issue
        Every error found, each with its file and place.
    """

    def __init__(self, issues: Iterable[Issue]) -> None:
        super().__init__(issues, "knowledge base")


class ProfileError(SourceError):
    """A diagnostic profile is invalid; issues name field paths.

    Parameters
    ----------
    issues : iterable of Issue
        Every problem found, each with its field path.
    profile_id : str, optional
        The profile's id, when the profile has a usable one (kept as ``profile_id``).
    """

    def __init__(self, issues: Iterable[Issue], profile_id: str | None = None) -> None:
        self.profile_id = profile_id
        super().__init__(issues, "profile")


class MarksError(SourceError):
    """A tutor's marks file is invalid; issues name each mark's field by its place.

    Parameters
    ----------
    issues : iterable of Issue
        Every problem found.
    """

    def __init__(self, issues: Iterable[Issue]) -> None:
        super().__init__(issues, "marks")


class EvaluationError(DeficitEngineError):
    """Inference could not complete."""


class FiringLimitError(EvaluationError):
    """Rules kept asserting new facts past the firing limit.

    Parameters
    ----------
    limit : int
        The firing limit that was reached (kept as ``limit``).
    rules : sequence of str
        The ids of the rules to blame, the most productive first (kept as
        ``rules``, a tuple).
    """

    def __init__(self, limit: int, rules: Sequence[str]) -> None:
        self.limit = limit
        self.rules = tuple(rules)
        super().__init__(
            f"firing limit of {limit} exceeded: rules {', '.join(self.rules)} keep "
            "asserting new facts (a loop between rules?)"
        )


class BackendLimitError(EvaluationError):
    """A backend cannot build a rule set this large (durable_rules' error 106 at about
    6 000 rules); the engine falls back to the ``fast`` backend, which has no such limit.

    Parameters
    ----------
    backend : str
        The backend (kept as ``backend``).
    detail : str
        What the backend said.
    """

    def __init__(self, backend: str, detail: str) -> None:
        self.backend = backend
        super().__init__(f"the {backend} backend cannot build this rule set: {detail}")


class MatchBudgetError(EvaluationError):
    """An evaluation's matching work passed its budget.

    Joins, activations and facts are counted, not only firings that assert: a join
    of three patterns over many derived facts can make millions of activations
    while asserting nothing new, which the firing limit never sees.

    Parameters
    ----------
    budget : int
        The budget that was passed (kept as ``budget``).
    rule : str
        The id of the rule whose join or facts passed it (kept as ``rule``).
    """

    def __init__(self, budget: int, rule: str) -> None:
        self.budget = budget
        self.rule = rule
        super().__init__(
            f"match budget of {budget} exceeded (partial matches, activations and facts) "
            f"while matching rule {rule}: a join over many facts? (raise firing_limit "
            "or narrow the rule's patterns)"
        )


def format_field_path(loc: Sequence[str | int]) -> str:
    """A field path as issues show it: ``('results', 2, 'score')`` -> ``results[2].score``.

    Parameters
    ----------
    loc : sequence of str or int
        The path's parts: field names and list indexes.

    Returns
    -------
    str
        The path in dotted form, indexes in brackets.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def display_path(path: Path) -> str:
    """How an issue names a file: relative to the working directory when it is below it
    (what a user typed, and what an editor opens), else as given.

    Parameters
    ----------
    path : Path
        The file as the program opened it.

    Returns
    -------
    str
        The path to show in ``file:line:col``.
    """
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
