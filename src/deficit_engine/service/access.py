"""Who may call what: bearer tokens read from a file, their roles and scopes.

A tokens file (YAML or JSON) maps each token to a grant::

    tokens:
      "a-long-random-string":
        role: tutor
        municipalities: [Анучинский МО]
        organizations: []

The roles (issue 15): ``integrator`` calls the stateless endpoints only;
``tutor`` reads and marks the people of their own municipalities or
organisations; ``analyst`` sees cohort reports (aggregates and pseudonymous
ids), no person's records; ``admin`` sees everything. Tokens are secrets: the
file is the operator's, none is committed, and a token is never logged or
shown back.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._yaml import load_yaml_file
from ..errors import Issue, SourceError
from ..folding import person_text
from ..loader import pydantic_issues

__all__ = ["ROLES", "Access", "Grant", "Role", "load_tokens"]

Role = Literal["integrator", "tutor", "analyst", "admin"]

#: Every role, from the least to the most it may do.
ROLES: tuple[Role, ...] = ("integrator", "tutor", "analyst", "admin")

#: A token shorter than this is refused: a guessable token is no access control.
MIN_TOKEN_LENGTH = 16


class _GrantEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Role
    municipalities: list[Annotated[str, Field(min_length=1, max_length=200)]] = []
    organizations: list[Annotated[str, Field(min_length=1, max_length=200)]] = []


class _TokensFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    tokens: dict[Annotated[str, Field(min_length=MIN_TOKEN_LENGTH, max_length=500)], _GrantEntry]


@dataclass(frozen=True)
class Grant:
    """What one token may do.

    Attributes
    ----------
    role : str
        One of :data:`ROLES`.
    municipalities, organizations : frozenset of str
        A tutor's scope, compared as the profile's own municipality and
        organisation are (NFC, Latin look-alikes read as Cyrillic).
    """

    role: Role
    municipalities: frozenset[str] = frozenset()
    organizations: frozenset[str] = frozenset()

    def covers(self, municipality: str | None, organization: str | None) -> bool:
        """Whether a person of this municipality and organisation is in scope.

        Parameters
        ----------
        municipality, organization : str or None
            The person's, as their profile gives them.

        Returns
        -------
        bool
            True for an admin; for a tutor, when either is one of the grant's;
            False for every other role (they see no person).
        """
        if self.role == "admin":
            return True
        if self.role != "tutor":
            return False
        return (municipality is not None and person_text(municipality) in self.municipalities) or (
            organization is not None and person_text(organization) in self.organizations
        )


class Access:
    """The tokens a service accepts, each with its :class:`Grant`.

    Parameters
    ----------
    grants : mapping of str to Grant
        Token -> grant.
    """

    def __init__(self, grants: Mapping[str, Grant]) -> None:
        self._grants = dict(grants)

    def grant(self, token: str) -> Grant | None:
        """The grant of ``token``, or None for an unknown one.

        Every known token is compared in constant time, so the answer's timing
        does not tell how much of a guess was right.

        Parameters
        ----------
        token : str
            The bearer token as sent.

        Returns
        -------
        Grant or None
        """
        found = None
        for known, grant in self._grants.items():
            if hmac.compare_digest(known.encode("utf-8"), token.encode("utf-8")):
                found = grant
        return found


def load_tokens(path: Path) -> Access:
    """Read a tokens file.

    Parameters
    ----------
    path : Path
        A YAML or JSON file: ``{tokens: {TOKEN: {role, municipalities, organizations}}}``.

    Returns
    -------
    Access

    Raises
    ------
    SourceError
        If the file is unreadable or malformed: every problem with its
        ``file:line:col`` (the tokens themselves are not repeated).
    """
    doc = load_yaml_file(path)
    if doc.issues:
        raise SourceError(doc.issues, "tokens file")
    try:
        parsed = _TokensFile.model_validate(doc.data if doc.data is not None else {})
    except ValidationError as exc:
        raise SourceError(_hidden(pydantic_issues(doc, (), exc)), "tokens file") from None
    return Access({token: _grant(entry) for token, entry in parsed.tokens.items()})


def _hidden(issues: list[Issue]) -> list[Issue]:
    """Issues whose path does not spell a token out (``tokens.<token>.role``)."""
    return [
        Issue(
            i.file, i.line, i.col, i.code, i.message.replace(i.path, "…") if i.path else i.message
        )
        for i in issues
    ]


def _grant(entry: _GrantEntry) -> Grant:
    return Grant(
        entry.role,
        frozenset(person_text(m) for m in entry.municipalities),
        frozenset(person_text(o) for o in entry.organizations),
    )
