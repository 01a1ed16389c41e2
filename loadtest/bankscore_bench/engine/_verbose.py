"""ab's ``-v`` dumps: the request head once (credentials redacted), then every response's head and body.

Printed byte for byte as ab prints them, CRLFs included, so a script that reads ab's verbose output reads ours.
"""

from __future__ import annotations

from typing import Final

from bankscore_bench.engine._http import Exchange

__all__ = ["print_response", "redacted_head", "request_dump", "response_dump"]

# A header whose name holds one of these is a credential: its value is never printed.
_SECRET_HINTS: Final = ("authorization", "key", "token", "secret", "cookie")
_DUMP_BODY_MAX: Final = 8192  # ab's read buffer: what it can show of a body


def redacted_head(request: bytes) -> str:
    """The request head for ``-v 2``, with any credential's value replaced (keys never appear in output)."""
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = []
    for line in head.split("\r\n"):
        name, sep, _ = line.partition(":")
        secret = sep and any(hint in name.lower() for hint in _SECRET_HINTS)
        lines.append(f"{name}: <redacted>" if secret else line)
    return "\n".join(lines)


def request_dump(method: str, request: bytes) -> str:
    """ab's ``-v 2`` request dump, byte for byte as ab prints it: the head with its CRLFs and the blank line that
    ends it, then ab's own newline."""
    head = redacted_head(request).replace("\n", "\r\n")
    return f"INFO: {method} header == \n---\n{head}\r\n\r\n\n---\n"


def response_dump(head: bytes, body: bytes) -> str:
    """ab's ``-v 2`` response dump: the head with its CRLFs, its blank line, the body, then ab's newline (ab shows
    what came in the head's read; here the whole body, up to ab's 8 KiB read buffer, so a 401's message shows)."""
    text = (head + b"\r\n\r\n" + body[:_DUMP_BODY_MAX]).decode("latin-1")
    return f"LOG: header received:\n{text}\n"


def print_response(result: Exchange, verbosity: int) -> None:
    """One response at ``-v 2`` and up, in ab's order: the head, then a warning for a non-2xx (or, at ``-v 3``,
    the status code of a 2xx)."""
    if result.head:
        print(response_dump(result.head, bytes(result.body)), end="")
    if result.status and result.status // 100 != 2:
        print(f"WARNING: Response code not 2xx ({result.status})")
    elif result.status and verbosity >= 3:
        print(f"LOG: Response code = {result.status}")
