"""ab's ``-v`` dumps: the request head once (credentials redacted), then every response's head and body.

A response is shown with the request's credentials redacted too: a server (or a proxy) that echoes a request's
headers back would otherwise print the key verbatim.

Printed byte for byte as ab prints them, CRLFs included, so a script that reads ab's verbose output reads ours.
"""

from __future__ import annotations

from typing import Final

from bankscore_bench.engine._http import Exchange

__all__ = ["credentials", "print_response", "redacted_head", "request_dump", "response_dump"]

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


def credentials(request: bytes) -> tuple[str, ...]:
    """The credential values in ``request``'s head (a header's whole value, and the token after its scheme)."""
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    found: set[str] = set()
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep and any(hint in name.lower() for hint in _SECRET_HINTS) and value.strip():
            found.add(value.strip())
            found.update(part for part in value.split() if len(part) >= 8)  # the token of "Bearer <token>"
    return tuple(sorted(found, key=len, reverse=True))  # the longest first: a value before its own token


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<redacted>")
    return text


def request_dump(method: str, request: bytes) -> str:
    """ab's ``-v 2`` request dump, byte for byte as ab prints it: the head with its CRLFs and the blank line that
    ends it, then ab's own newline."""
    head = redacted_head(request).replace("\n", "\r\n")
    return f"INFO: {method} header == \n---\n{head}\r\n\r\n\n---\n"


def response_dump(head: bytes, body: bytes, secrets: tuple[str, ...] = ()) -> str:
    """ab's ``-v 2`` response dump: the head with its CRLFs, its blank line, the body, then ab's newline (ab shows
    what came in the head's read; here the whole body, up to ab's 8 KiB read buffer, so a 401's message shows).
    Any of ``secrets`` (the request's ``credentials``) that the server echoed is shown as ``<redacted>``."""
    text = (head + b"\r\n\r\n" + body[:_DUMP_BODY_MAX]).decode("latin-1")
    return f"LOG: header received:\n{_redact(text, secrets)}\n"


def print_response(result: Exchange, verbosity: int, secrets: tuple[str, ...] = ()) -> None:
    """One response at ``-v 2`` and up, in ab's order: the head, then a warning for a non-2xx (or, at ``-v 3``,
    the status code of a 2xx). ``secrets``: the request's credentials, redacted wherever the response has them."""
    if result.head:
        print(response_dump(result.head, bytes(result.body), secrets), end="")
    if result.status and result.status // 100 != 2:
        print(f"WARNING: Response code not 2xx ({result.status})")
    elif result.status and verbosity >= 3:
        print(f"LOG: Response code = {result.status}")
