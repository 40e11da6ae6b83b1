"""A bound on request bodies, enforced before the app reads them.

A body larger than its bound is refused with 413 and never held whole: the
declared ``Content-Length`` is checked first, and a chunked body is counted as
it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["BodyLimit"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: at most ``limit`` bytes of body, ``upload_limit`` on upload paths.

    Parameters
    ----------
    app : ASGI app
        The app to protect.
    limit : int
        The bound for every request body but uploads.
    upload_limit : int
        The bound for paths starting with one of ``upload_paths``.
    upload_paths : tuple of str
        Path prefixes that take file uploads (cohort files).
    """

    def __init__(
        self, app: App, limit: int, upload_limit: int, upload_paths: tuple[str, ...]
    ) -> None:
        self.app, self.limit, self.upload_limit = app, limit, upload_limit
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bound = self._bound(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > bound:
            await _refuse(send, bound)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > bound:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _refuse(send, bound)

    def _bound(self, path: str) -> int:
        return self.upload_limit if path.startswith(self.upload_paths) else self.limit


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, bound: int) -> None:
    body = json.dumps(
        {
            "type": "urn:deficit-engine:problem:too-large",
            "title": "Request too large",
            "status": 413,
            "detail": f"the request body is larger than {bound} bytes",
            "errors": [],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
