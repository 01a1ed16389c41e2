"""``bankscore.AsyncClient``: the same client for asyncio, on one pooled ``httpx.AsyncClient``.

>>> async with bankscore.AsyncClient() as client:
...     result = await client.predict_many("customers.csv", batch_size=200, concurrency=8)
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Mapping
from typing import Any, Self

import httpx

from bankscore._auth import TokenCredential
from bankscore._base import DEFAULT_TIMEOUT, MAX_REQUEST_BODY_BYTES, BaseClient, R
from bankscore._endpoint import DEFAULT_DEPLOYMENT
from bankscore._exceptions import BankscoreError
from bankscore._generations import WireGeneration
from bankscore._progress import ProgressCallback, make_progress
from bankscore._records import RecordCodec, RecordsInput, to_rows
from bankscore._results import Prediction, ScoreResult
from bankscore._retry import RetryPolicy
from bankscore._run import Run, batches, outcome
from bankscore._wire import CLASSES

__all__ = ["AsyncClient"]


class AsyncClient(BaseClient[R]):
    """``bankscore.Client`` for asyncio: the same arguments, the same results and errors, awaited.

    ``check_schema`` is a coroutine here (call ``await client.check_schema()``), so it is not a constructor
    argument. A cancelled ``predict_many`` cancels its requests and re-raises ``CancelledError``: cancellation
    belongs to the caller's task, so it is not turned into another exception.
    """

    def __init__(
        self,
        scoring_uri: str | None = None,
        *,
        key: str | None = None,
        generation: WireGeneration | str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        retry: RetryPolicy | None = None,
        probabilities: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 16,
        deployment: str | None = None,
        record_model: type[R] | None = None,
        model_deployment: str | None = None,
        credential: TokenCredential | None = None,
        classes: tuple[str, str] = CLASSES,
        max_body_bytes: int | None = MAX_REQUEST_BODY_BYTES,
        drop_unknown: bool = False,
        strict: bool = False,
    ) -> None:
        super().__init__(
            scoring_uri,
            key=key,
            generation=generation,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            probabilities=probabilities,
            deployment=deployment,
            record_model=record_model,
            model_deployment=model_deployment,
            credential=credential,
            classes=classes,
            max_body_bytes=max_body_bytes,
            drop_unknown=drop_unknown,
            strict=strict,
        )
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(
            headers=self._headers, timeout=self._timeout, transport=transport, limits=limits, auth=self._auth
        )

    @classmethod
    def from_local(cls, name: str = DEFAULT_DEPLOYMENT, **kwargs: Any) -> Self:
        """A client for the local deployment ``name`` (``bankscore deploy local --name NAME``)."""
        return cls(deployment=name, **kwargs)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        await self.aclose()

    # --- the spec ----------------------------------------------------------------------------------------

    async def get_generation(self) -> WireGeneration:
        """The endpoint's wire generation: as given, as the generated package fixed it, or from its spec."""
        return (await self._ready())[0]

    async def _ready(self) -> tuple[WireGeneration, RecordCodec[R]]:
        settled = self._settled()
        if settled is not None:
            return settled
        try:
            spec = await self.fetch_spec()
        except BankscoreError as exc:
            return self._settle_without_spec(exc)
        return self._settle(spec)

    async def fetch_spec(self) -> dict[str, Any]:
        """The endpoint's spec as OpenAPI 3 (``?version=3``, else its Swagger 2.0 converted)."""
        v3, plain = self._spec_urls()
        response = await self._get(v3)
        url = v3
        if response.status_code in {400, 404, 422}:
            response, url = await self._get(plain), plain
        return self._spec_document(response, str(url))

    async def check_schema(self) -> list[Any]:
        """Compare the live spec's record with the client's model; raise ``SchemaDriftError`` if it breaks it."""
        spec = await self.fetch_spec()
        if self._settled() is None:
            self._settle(spec)
        return self._drift(spec)

    async def _get(self, url: httpx.URL) -> httpx.Response:
        async for attempt in self._retry.async_retrying():
            with attempt:
                try:
                    response = await self._http.get(url)
                except httpx.TransportError as exc:
                    raise self._connection_error(exc) from None
                if response.status_code in {408, 429} or response.status_code >= 500:
                    raise self._status_error(response, None)
                return response
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    # --- scoring -----------------------------------------------------------------------------------------

    async def _post(self, body: bytes, method: str, expected: int) -> list[Prediction]:
        async for attempt in self._retry.async_retrying():
            with attempt:
                try:
                    response = await self._http.post(self.scoring_uri, content=body)
                except httpx.TransportError as exc:
                    raise self._connection_error(exc) from None
                return self._predictions(response, method, expected)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def predict(self, record: R | Mapping[str, Any]) -> Prediction:
        """Score one record (a record model instance or a dict keyed by wire or Python names)."""
        generation, codec = await self._ready()
        (checked,) = codec.validate(to_rows(record), **self._columns)
        method = self._method(generation)
        body = self._body(generation, codec, [checked], method)
        too_large = self._too_large(body)
        if too_large is not None:
            raise too_large
        return (await self._post(body, method, 1))[0]

    async def predict_many(
        self,
        records: RecordsInput,
        *,
        batch_size: int = 100,
        concurrency: int = 4,
        progress: bool | ProgressCallback = False,
        raise_on_error: bool = True,
    ) -> ScoreResult:
        """Score many records in batches, at most ``concurrency`` requests in flight; results in input order.

        Same inputs, validation and failure reporting as ``Client.predict_many``.
        """
        rows = to_rows(records)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        plan = batches(len(rows), batch_size)
        if not plan:
            return Run(0, None).finish()
        generation, codec = await self._ready()
        checked = codec.validate(rows, **self._columns)
        run = Run(len(checked), make_progress(progress))
        method = self._method(generation)
        gate = asyncio.Semaphore(concurrency)

        async def score(start: int, stop: int) -> None:
            async with gate:
                if not run.should_send(start, stop):
                    return
                for first, end, body in self._sized_bodies(generation, codec, checked[start:stop], start, method):
                    too_large = self._too_large(body)
                    if too_large is not None:
                        run.failed(first, end, too_large, stops_run=False)
                        continue
                    try:
                        predictions = await self._post(body, method, end - first)
                    except BankscoreError as exc:
                        run.failed(first, end, exc)
                    else:
                        run.succeeded(first, predictions)

        tasks = [asyncio.ensure_future(score(start, stop)) for start, stop in plan]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            run.finish(interrupted=True)
            raise
        return outcome(run.finish(), raise_on_error=raise_on_error)
