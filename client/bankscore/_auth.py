"""Microsoft Entra tokens for managed online endpoints: any azure-identity ``TokenCredential``, refreshed early.

``Client(credential=DefaultAzureCredential())`` asks the credential for a token for ``https://ml.azure.com``
and sends it as ``Authorization: Bearer``. The token is kept until shortly before it expires (or until the
credential's own ``refresh_on``), then fetched again; a 401 fetches a new one once and resends. Works with the
sync credentials of ``azure.identity`` and the async ones of ``azure.identity.aio`` (``get_token`` returning
an awaitable) in either client. azure-identity itself is only needed to make a credential (``bankscore[azure]``).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Final, NamedTuple, Protocol

import httpx

__all__ = ["AZURE_ML_SCOPE", "REFRESH_MARGIN", "FixedToken", "TokenAuth", "TokenCredential"]

AZURE_ML_SCOPE: Final = "https://ml.azure.com/.default"  # the data-plane audience of online endpoints
# azure-core's own BearerTokenCredentialPolicy refreshes five minutes before expiry: a request in flight must
# not carry a token that expires on the way.
REFRESH_MARGIN: Final = 300.0


def _now() -> float:
    return time.time()  # seconds since the epoch, as AccessToken.expires_on counts


class TokenCredential(Protocol):
    """What bankscore needs of a credential: azure-core's ``TokenCredential`` (or its async twin)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


class FixedToken:
    """A bearer token the caller already has, as a credential: it never expires, so it is fetched once."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "FixedToken(<hidden>)"

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return _AccessToken(self._token, math.inf)


class _AccessToken(NamedTuple):
    token: str
    expires_on: float


class TokenAuth(httpx.Auth):
    """httpx authentication that sends a credential's bearer token and renews it before it expires.

    ``on_failure`` turns an exception of the credential's ``get_token`` into the caller's own error (the
    credential's message may say more than a user should see); without it the exception goes up as it is.
    """

    def __init__(
        self,
        credential: TokenCredential,
        scope: str = AZURE_ML_SCOPE,
        *,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] | None = None,
        on_failure: Callable[[Exception], Exception] | None = None,
    ) -> None:
        if not callable(getattr(credential, "get_token", None)):
            raise TypeError(f"credential must have get_token(*scopes), like azure-identity's; got {credential!r}")
        self._credential = credential
        # A 401 is worth one more try only where the credential can give another token.
        self._renewable = not isinstance(credential, FixedToken)
        self._on_failure = on_failure
        self._scope = scope
        self._margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None
        self.fetches = 0  # how many tokens were asked for: visible, so a refresh can be checked

    def __repr__(self) -> str:
        return f"TokenAuth({type(self._credential).__name__}, scope={self._scope!r})"

    def scrub(self, text: str) -> str:
        """``text`` without the current token (a server echoing the header must not leak it into our errors)."""
        return text.replace(self._token, "<token>") if self._token else text

    # --- httpx hooks -------------------------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._sync_token(force=False)}"
        response = yield request
        if response.status_code == 401 and self._renewable:  # revoked or clock skew: one new token, one more try
            request.headers["Authorization"] = f"Bearer {self._sync_token(force=True)}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self._async_token(force=False)}"
        response = yield request
        if response.status_code == 401 and self._renewable:
            request.headers["Authorization"] = f"Bearer {await self._async_token(force=True)}"
            yield request

    # --- tokens ------------------------------------------------------------------------------------------

    def _time(self) -> float:
        # _now looked up at call time (not bound at construction), so tests can move the module's clock.
        return self._clock() if self._clock is not None else _now()

    def _valid(self) -> str | None:
        return self._token if self._token is not None and self._time() < self._renew_at else None

    def _sync_token(self, *, force: bool) -> str:
        with self._lock:
            token = None if force else self._valid()
            if token is None:
                result = self._fetch()
                if inspect.isawaitable(result):
                    close = getattr(result, "close", None)
                    if callable(close):
                        close()  # never awaited: say so rather than leave a "never awaited" warning
                    raise TypeError("an async credential (azure.identity.aio) needs bankscore.AsyncClient")
                token = self._keep(result)
            return token

    def _fetch(self) -> Any:
        try:
            return self._credential.get_token(self._scope)
        except Exception as exc:
            if self._on_failure is None:
                raise
            raise self._on_failure(exc) from None

    async def _async_token(self, *, force: bool) -> str:
        if self._async_lock is None:
            self._async_lock = asyncio.Lock()
        async with self._async_lock:
            token = None if force else self._valid()
            if token is None:
                get_token = self._credential.get_token
                if inspect.iscoroutinefunction(get_token):
                    result = await get_token(self._scope)
                else:  # a sync credential does network I/O: keep it off the event loop
                    result = await asyncio.to_thread(get_token, self._scope)
                    if inspect.isawaitable(result):
                        result = await result
                token = self._keep(result)
            return token

    def _keep(self, access_token: Any) -> str:
        token = getattr(access_token, "token", None)
        expires_on = getattr(access_token, "expires_on", None)
        if not isinstance(token, str) or not token or not isinstance(expires_on, int | float):
            raise TypeError("the credential's get_token must return an AccessToken(token, expires_on)")
        self.fetches += 1
        renew_at = float(expires_on) - self._margin
        refresh_on = getattr(access_token, "refresh_on", None)  # azure-core's AccessTokenInfo says when itself
        if isinstance(refresh_on, int | float) and refresh_on > 0:
            renew_at = min(renew_at, float(refresh_on))
        self._token, self._renew_at = token, renew_at
        return token
