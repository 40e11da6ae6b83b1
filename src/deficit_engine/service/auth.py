"""The request's grant: from ``Authorization: Bearer``, or the pages' login cookie."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .access import Access, Grant, Role
from .problems import ApiProblem

__all__ = ["ANONYMOUS", "COOKIE", "current_grant", "require", "scoped"]

#: The pages' login cookie: the token, HttpOnly and SameSite=Strict.
COOKIE = "deficit_engine_token"

#: Who calls a service started without a tokens file: the stateless endpoints only.
ANONYMOUS = Grant("integrator")

bearer = HTTPBearer(auto_error=False, description="a token from the service's tokens file")


def current_grant(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Grant:
    """The grant of the request's token.

    Parameters
    ----------
    request : Request
    credentials : HTTPAuthorizationCredentials or None
        The bearer token, if sent.

    Returns
    -------
    Grant
        :data:`ANONYMOUS` when the service has no tokens file.

    Raises
    ------
    ApiProblem
        401 when a token is needed and missing or unknown.
    """
    access: Access | None = request.app.state.service.access
    if access is None:
        return ANONYMOUS
    token = credentials.credentials if credentials is not None else request.cookies.get(COOKIE)
    grant = access.grant(token) if token else None
    if grant is None:
        raise ApiProblem(
            401,
            "unauthorized",
            "Unauthorized",
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return grant


def require(*roles: Role) -> Callable[..., Grant]:
    """A dependency that lets only ``roles`` through.

    Parameters
    ----------
    *roles : str
        The roles allowed.

    Returns
    -------
    callable
        A FastAPI dependency giving the grant, or answering 403.
    """

    def allowed(grant: Annotated[Grant, Depends(current_grant)]) -> Grant:
        if grant.role not in roles:
            raise ApiProblem(
                403, "forbidden", "Forbidden", f"the role {grant.role} may not do this"
            )
        return grant

    return allowed


def scoped(grant: Grant, municipality: str | None, organization: str | None) -> None:
    """Refuse a person outside ``grant``'s scope.

    Parameters
    ----------
    grant : Grant
    municipality, organization : str or None
        The person's.

    Raises
    ------
    ApiProblem
        403 when the grant does not cover the person.
    """
    if not grant.covers(municipality, organization):
        raise ApiProblem(403, "forbidden", "Forbidden", "this person is outside your scope")
