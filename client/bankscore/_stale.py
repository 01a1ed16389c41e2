"""One silent resend of a request that met a connection the server had just closed.

A keep-alive connection that sat idle can be closed by the server (nginx's ``keepalive_timeout``, a reload that
retires its workers) at the moment the client reuses it: the request is written, and the connection ends without
a byte of answer. httpx reports that as ``RemoteProtocolError`` ("Server disconnected without sending a
response"). Nothing was answered, and scoring is a pure function of the body, so sending it again at once on a
fresh connection is safe, and it is what a browser or urllib3 does for such a request. It is not a failure worth a
warning or a backoff wait; anything else (and a second such error) goes to the retry policy as before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import httpx

__all__ = ["met_closed_connection", "resend_if_closed", "resend_if_closed_async"]

logger = logging.getLogger("bankscore")

_NO_ANSWER: Final = "without sending a response"


def met_closed_connection(exc: BaseException) -> bool:
    """The request was written to a connection that closed before any answer (httpcore's wording)."""
    return isinstance(exc, httpx.RemoteProtocolError) and _NO_ANSWER in str(exc)


def resend_if_closed(send: Callable[[], httpx.Response]) -> httpx.Response:
    try:
        return send()
    except httpx.RemoteProtocolError as exc:
        if not met_closed_connection(exc):
            raise
        logger.debug("the server closed an idle connection before answering; sending again on a new one")
        return send()


async def resend_if_closed_async(send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    try:
        return await send()
    except httpx.RemoteProtocolError as exc:
        if not met_closed_connection(exc):
            raise
        logger.debug("the server closed an idle connection before answering; sending again on a new one")
        return await send()
