"""``bankscore.Client``: score Bank Marketing records against a deployment, synchronously.

>>> import bankscore
>>> with bankscore.Client() as client:            # the local deployment, or BANKSCORE_URI / BANKSCORE_KEY
...     client.predict({"age": 57, "job": "technician", ...})
Prediction(label='no', probability=0.0213)

One pooled ``httpx.Client``; ``predict_many`` sends batches from a small thread pool that shares it.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Self

import httpx

from bankscore._auth import TokenCredential
from bankscore._base import DEFAULT_TIMEOUT, MAX_REQUEST_BODY_BYTES, BaseClient, R
from bankscore._endpoint import DEFAULT_DEPLOYMENT
from bankscore._exceptions import BankscoreError, ScoringInterrupted
from bankscore._generations import WireGeneration
from bankscore._progress import ProgressCallback, make_progress
from bankscore._records import RecordCodec, RecordsInput, to_rows
from bankscore._results import Prediction, ScoreResult
from bankscore._retry import RetryPolicy
from bankscore._run import Run, batches, outcome
from bankscore._wire import CLASSES

__all__ = ["Client"]


class Client(BaseClient[R]):
    """A scoring client for one endpoint of any wire generation (A, B, C or D).

    ``scoring_uri`` and ``key`` default to ``BANKSCORE_URI`` / ``BANKSCORE_KEY``, then to the local
    deployment saved in the workspace. Without ``generation``, the endpoint's spec is read at first use: it
    gives the wire generation and the record the endpoint takes (``BankMarketingRecord`` when the live record
    has its fields, else a model built from the live spec). ``record_model`` fixes the record model.
    With ``probabilities`` (the default) generations B, C and D are asked for ``predict_proba`` and every
    prediction carries P(yes); generation A gives labels only, and so does a D model logged without a params
    schema (it ignores the request's ``params``).

    Managed online endpoints: ``key`` takes an endpoint key or an ``aml_token``; ``credential`` takes any
    azure-identity ``TokenCredential`` (``pip install 'bankscore[azure]'``) and renews its token before it
    expires; ``model_deployment`` pins one deployment (header ``azureml-model-deployment``). A 424 raises
    ``ModelError`` with the container's own status. ``classes`` states the order of ``[P, P]`` pairs in an
    answer (scikit-learn's sorted ``classes_``, so ``("no", "yes")``). ``predict_many`` keeps every request
    body under ``max_body_bytes`` (Azure's 1.5 MB) by splitting batches.

    Columns the endpoint's record does not have are dropped with one ``ColumnsDropped`` warning naming them:
    the label ``y`` and Bank Marketing features (a model retrained without ``duration``), and, with
    ``drop_unknown``, any other column. ``strict`` drops only ``y`` and refuses the rest, naming each.
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
        check_schema: bool = False,
        transport: httpx.BaseTransport | None = None,
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
        self._http = httpx.Client(
            headers=self._headers, timeout=self._timeout, transport=transport, limits=limits, auth=self._auth
        )
        if check_schema:
            try:
                self.check_schema()
            except BaseException:
                self.close()
                raise

    @classmethod
    def from_local(cls, name: str = DEFAULT_DEPLOYMENT, **kwargs: Any) -> Self:
        """A client for the local deployment ``name`` (``bankscore deploy local --name NAME``)."""
        return cls(deployment=name, **kwargs)

    # --- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        self.close()

    # --- the spec ----------------------------------------------------------------------------------------

    @property
    def generation(self) -> WireGeneration:
        """The endpoint's wire generation: as given, as the generated package fixed it, or from its spec."""
        return self._ready()[0]

    def _ready(self) -> tuple[WireGeneration, RecordCodec[R]]:
        settled = self._settled()
        if settled is not None:
            return settled
        try:
            spec = self.fetch_spec()
        except BankscoreError as exc:
            return self._settle_without_spec(exc)
        return self._settle(spec)

    def fetch_spec(self) -> dict[str, Any]:
        """The endpoint's spec as OpenAPI 3 (``?version=3``, else its Swagger 2.0 converted)."""
        v3, plain = self._spec_urls()
        response = self._get(v3)
        url = v3
        if response.status_code in {400, 404, 422}:
            response, url = self._get(plain), plain
        return self._spec_document(response, str(url))

    def check_schema(self) -> list[Any]:
        """Compare the live spec's record with the client's; raise ``SchemaDriftError`` if it breaks the client.

        A generated package's client compares the live spec with the spec it was generated from (record and
        wire generation); ``SchemaDriftError`` names the command that regenerates it. Returns every change found
        (``bankscore.swagger.SpecChange``), breaking or not.
        """
        spec = self.fetch_spec()
        if self._settled() is None:
            self._settle(spec)
        return self._drift(spec)

    def _get(self, url: httpx.URL) -> httpx.Response:
        for attempt in self._retry.retrying():
            with attempt:
                try:
                    response = self._http.get(url)
                except httpx.TransportError as exc:
                    raise self._connection_error(exc) from None
                if response.status_code in {408, 429} or response.status_code >= 500:
                    raise self._status_error(response, None)
                return response
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    # --- scoring -----------------------------------------------------------------------------------------

    def _post(self, body: bytes, method: str, expected: int) -> list[Prediction]:
        for attempt in self._retry.retrying():
            with attempt:
                try:
                    response = self._http.post(self.scoring_uri, content=body)
                except httpx.TransportError as exc:
                    raise self._connection_error(exc) from None
                return self._predictions(response, method, expected)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def predict(self, record: R | Mapping[str, Any]) -> Prediction:
        """Score one record (a record model instance or a dict keyed by wire or Python names)."""
        generation, codec = self._ready()
        (checked,) = codec.validate(to_rows(record), **self._columns)
        method = self._method(generation)
        body = self._body(generation, codec, [checked], method)
        too_large = self._too_large(body)
        if too_large is not None:
            raise too_large
        return self._post(body, method, 1)[0]

    def predict_many(
        self,
        records: RecordsInput,
        *,
        batch_size: int = 100,
        concurrency: int = 4,
        progress: bool | ProgressCallback = False,
        raise_on_error: bool = True,
    ) -> ScoreResult:
        """Score many records in batches, ``concurrency`` requests at a time; results in input order.

        ``records``: records or dicts, any iterable of them, a CSV path or a pandas DataFrame. Every record is
        validated first (``ValidationError`` lists index, field and value; nothing is sent). A batch that still
        fails after its retries is reported in the result with its reason: ``PartialResultError`` carries the
        result (or, with ``raise_on_error=False``, it is returned). Ctrl-C raises ``ScoringInterrupted``, a
        ``KeyboardInterrupt`` whose ``result`` holds what was scored.
        """
        rows = to_rows(records)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        plan = batches(len(rows), batch_size)
        if not plan:
            return Run(0, None).finish()
        generation, codec = self._ready()
        checked = codec.validate(rows, **self._columns)
        run = Run(len(checked), make_progress(progress))
        method = self._method(generation)

        def score(start: int, stop: int) -> None:
            if not run.should_send(start, stop):
                return
            for first, end, body in self._sized_bodies(generation, codec, checked[start:stop], start, method):
                too_large = self._too_large(body)
                if too_large is not None:
                    run.failed(first, end, too_large, stops_run=False)
                    continue
                try:
                    predictions = self._post(body, method, end - first)
                except BankscoreError as exc:
                    run.failed(first, end, exc)
                else:
                    run.succeeded(first, predictions)

        try:
            if concurrency == 1 or len(plan) == 1:
                for start, stop in plan:
                    score(start, stop)
            else:
                self._score_in_threads(score, plan, concurrency)
        except KeyboardInterrupt:
            raise ScoringInterrupted(run.finish(interrupted=True)) from None
        return outcome(run.finish(), raise_on_error=raise_on_error)

    @staticmethod
    def _score_in_threads(score: Any, plan: list[tuple[int, int]], concurrency: int) -> None:
        pool = ThreadPoolExecutor(max_workers=min(concurrency, len(plan)), thread_name_prefix="bankscore")
        futures: list[Future[None]] = []
        try:
            futures = [pool.submit(score, start, stop) for start, stop in plan]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # a bug in score() itself, not a failed batch: surface it
        finally:
            # On Ctrl-C: queued batches are never sent; the few in flight finish into a frozen run.
            pool.shutdown(wait=False, cancel_futures=True)
