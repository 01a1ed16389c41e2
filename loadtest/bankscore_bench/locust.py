"""Locust users for a Bank Marketing scoring endpoint, for people who run Locust themselves.

``bankscore-bench`` is ab's command line on Locust; this module is the other way round: plain Locust users, for
``locust`` with its web UI, its ``--html`` and ``--csv`` reports, ``--headless`` runs and distributed workers.

    locust -f "$(bankscore-bench --locustfile)" --host http://127.0.0.1:5001       # the shipped locustfile
    locust -f my_locustfile.py                                                      # your own, see below

``BankMarketingUser`` has one task per kind of request an endpoint answers: one record (``score_one``), a
batch of records (``score_batch``), one record asking for probabilities (``score_proba``; not on generation A,
which has none), and the endpoint's spec (``spec``), weighted 10, 3, 3 and 1 by ``task_weights``. Each task is
tagged with its name, so ``locust --tags score_batch`` (or ``--exclude-tags spec``) picks among them. Records
come from the data shipped in ``bankscore`` (a sample drawn with ``seed``) or from a CSV file (``records`` or
``BANKSCORE_RECORDS``); they are validated and encoded by the client's own code, in the endpoint's wire
generation (read from its spec, or ``generation``), and shaped to the endpoint's record (columns it does not
have, such as ``duration`` for a model trained without it, are left out). Every 2xx body is checked to hold
one prediction per record; a wrong body is a Locust failure with the reason.

Where it sends: Locust's ``--host`` (the scheme and host), else ``BANKSCORE_URI``, else the running local
deployment; the scoring path is ``score_path``, else ``BANKSCORE_URI``'s path, else ``/score``. The key is
``key``, else ``BANKSCORE_KEY``, else the local deployment's own (only when the host is that deployment's).

Subclass it in your own locustfile to change anything (Locust runs every concrete User class it finds there)::

    from locust import constant_throughput
    from bankscore_bench.locust import BankMarketingUser

    class Scoring(BankMarketingUser):
        batch_size = 50
        records = "customers.csv"
        wait_time = constant_throughput(2)  # per user
        task_weights = {"score_batch": 1}  # only batches (Locust itself would keep every inherited task)

Tasks a subclass adds with Locust's ``@task`` run beside the weighted ones.
"""

from __future__ import annotations

import os
import random
import threading
import warnings
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from locust import FastHttpUser, tag
from pydantic import BaseModel

from bankscore._bank_marketing_record import BankMarketingRecord
from bankscore._endpoint import KEY_ENV, URI_ENV, resolve_endpoint
from bankscore._generations import WireGeneration
from bankscore._records import ColumnsDropped, RecordCodec, to_rows
from bankscore._wire import PREDICT, PREDICT_PROBA, supports_proba
from bankscore_bench._aboptions import MODEL_DEPLOYMENT_HEADER
from bankscore_bench._payloads import ScoringChecker, detect_endpoint

__all__ = ["RECORDS_ENV", "BankMarketingUser"]

RECORDS_ENV: Final = "BANKSCORE_RECORDS"  # a CSV of records to send instead of the shipped data
_TASKS: Final = ("score_one", "score_batch", "score_proba", "spec")
_POOL: Final = 1000  # distinct records (and one-record bodies) per endpoint: set-up stays under a second


def _default_host() -> str | None:
    """``BANKSCORE_URI``'s (else the saved local deployment's) scheme and host, for Locust's ``host``."""
    try:
        uri = resolve_endpoint(None, None, None, None).scoring_uri
    except Exception:  # no URI and no local deployment: Locust asks for --host (or the web UI's Host field)
        return None
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class _Bodies:
    """What one endpoint gets, built once per (user class, host) and shared by its users."""

    path: str
    headers: dict[str, str]
    generation: WireGeneration
    one: tuple[bytes, ...]  # one record each, asking for labels
    batches: tuple[bytes, ...]  # batch_size records each, asking for labels
    proba: tuple[bytes, ...]  # one record each, asking for probabilities (empty for generation A)
    batch_records: int


class BankMarketingUser(FastHttpUser):  # type: ignore[misc]  # Locust is untyped for mypy (pyproject)
    """Scores Bank Marketing records against one endpoint; see the module docstring for what it sends."""

    abstract = True  # a base to subclass: Locust runs the subclasses (the shipped locustfile has one)
    host = _default_host()

    score_path: str | None = None  # default: BANKSCORE_URI's path, else /score
    key: str | None = None  # default: BANKSCORE_KEY, else the local deployment's (same host only)
    generation: str | None = None  # A, B, C or D; default: from the endpoint's spec
    records: str | None = None  # a CSV path; default: BANKSCORE_RECORDS, else the shipped data
    batch_size: int = 10
    seed: int = 0
    model_deployment: str | None = None  # a managed online endpoint's deployment (azureml-model-deployment)

    # Which of the tasks below run, and how often: Locust merges every inherited @task into a subclass, so the
    # weights are applied here instead (by __init_subclass__), where a subclass can change them.
    task_weights: ClassVar[dict[str, int]] = {"score_one": 10, "score_batch": 3, "score_proba": 3, "spec": 1}

    _built: ClassVar[dict[tuple[type, str], _Bodies]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()  # gevent-patched under Locust: users wait, not race

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.task_weights) - set(_TASKS)
        if unknown:
            raise TypeError(f"{cls.__name__}.task_weights: no task {sorted(unknown)}; the tasks are {list(_TASKS)}")
        added = [t for t in cls.tasks if getattr(t, "__name__", None) not in _TASKS]  # the subclass's own @task
        cls.tasks = [getattr(cls, name) for name, weight in cls.task_weights.items() for _ in range(weight)] + added

    def on_start(self) -> None:
        self._bodies = self._prepare()
        self._turn = random.Random(self.seed + id(self))  # noqa: S311 - which body next, not a secret

    # --- tasks: one per kind of request --------------------------------------------------------------

    @tag("score_one")  # type: ignore[untyped-decorator]
    def score_one(self) -> None:
        """POST one record, asking for its label."""
        self._score(self._bodies.one, 1, PREDICT, "1 record")

    @tag("score_batch")  # type: ignore[untyped-decorator]
    def score_batch(self) -> None:
        """POST ``batch_size`` records in one request, asking for their labels."""
        self._score(self._bodies.batches, self._bodies.batch_records, PREDICT, f"{self._bodies.batch_records} records")

    @tag("score_proba")  # type: ignore[untyped-decorator]
    def score_proba(self) -> None:
        """POST one record, asking for P(yes) (generations B, C and D)."""
        if self._bodies.proba:
            self._score(self._bodies.proba, 1, PREDICT_PROBA, "1 record, predict_proba")

    @tag("spec")  # type: ignore[untyped-decorator]
    def spec(self) -> None:
        """GET the endpoint's OpenAPI 3 spec, as a client does before it scores."""
        path = self._bodies.path.rsplit("/", 1)[0] + "/swagger.json?version=3"
        headers = {k: v for k, v in self._bodies.headers.items() if k != "Content-Type"}
        with self.client.get(path, headers=headers, name="GET swagger.json", catch_response=True) as response:
            if response.status_code == 200 and not (response.content or b"").lstrip().startswith(b"{"):
                response.failure("the spec is not a JSON object")

    # --- the requests -----------------------------------------------------------------------------------

    def _score(self, bodies: tuple[bytes, ...], records: int, method: str, what: str) -> None:
        body = bodies[self._turn.randrange(len(bodies))]
        checker = ScoringChecker(method, self._bodies.generation)
        name = f"POST {self._bodies.path} ({what})"
        with self.client.post(
            self._bodies.path, data=body, headers=self._bodies.headers, name=name, catch_response=True
        ) as response:
            if 200 <= (response.status_code or 0) < 300:
                problem = checker(response.content or b"", records)
                if problem is not None:
                    response.failure(problem)

    def _prepare(self) -> _Bodies:
        host = (self.host or "").rstrip("/")
        if not host:
            raise ValueError(f"no host: give --host, set {URI_ENV}, or start a local deployment")
        with self._lock:
            cached = self._built.get((type(self), host))
            if cached is None:
                cached = self._built[(type(self), host)] = self._build(host)
            return cached

    def _build(self, host: str) -> _Bodies:
        path = self.score_path or urlsplit(os.environ.get(URI_ENV) or "/score").path or "/score"
        headers = {"Content-Type": "application/json"}
        key = self.key or os.environ.get(KEY_ENV) or _local_key(host)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if self.model_deployment:
            headers[MODEL_DEPLOYMENT_HEADER] = self.model_deployment
        generation, model = _endpoint(host + path, headers, self.generation)
        codec = RecordCodec(model)
        records = self._records(codec)
        batch = max(1, min(self.batch_size, len(records)))
        one = tuple(codec.encode(generation, [r], PREDICT) for r in records)
        batches = tuple(
            codec.encode(generation, [records[(start + i) % len(records)] for i in range(batch)], PREDICT)
            for start in range(0, len(records), batch)
        )
        proba: tuple[bytes, ...] = ()
        if supports_proba(generation):
            proba = tuple(codec.encode(generation, [r], PREDICT_PROBA) for r in records)
        return _Bodies(path, headers, generation, one, batches, proba, batch)

    def _records(self, codec: RecordCodec[Any]) -> list[Any]:
        source = self.records or os.environ.get(RECORDS_ENV)
        if source:
            rows = to_rows(source).records
        else:  # the shipped file read as any CSV is (the codec checks what is sent): quicker than load_training_data
            shipped = resources.files("bankscore.data").joinpath("bankmarketing_train.csv.gz")
            with resources.as_file(shipped) as path:
                rows = to_rows(path).records
        if len(rows) > _POOL:
            rows = random.Random(self.seed).sample(rows, _POOL)  # noqa: S311 - a reproducible sample
        if not rows:
            raise ValueError(f"{source}: no records to send")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColumnsDropped)  # the endpoint's record decides; nothing to report
            return codec.validate(rows)


def _endpoint(
    scoring_uri: str, headers: dict[str, str], generation: str | None
) -> tuple[WireGeneration, type[BaseModel]]:
    """The generation (given, else from the spec) and the record model (from the spec, else the shipped one)."""
    try:
        detected, model = detect_endpoint(scoring_uri, headers)
    except Exception:
        if generation is None:
            raise
        return WireGeneration(generation.upper()), BankMarketingRecord
    return (WireGeneration(generation.upper()) if generation else detected), model


def _local_key(host: str) -> str | None:
    """The saved local deployment's key, only when ``host`` is that deployment: never sent anywhere else."""
    try:
        saved = resolve_endpoint(None, None, None, None)
    except Exception:
        return None
    parts = urlsplit(saved.scoring_uri)
    if saved.key is None or f"{parts.scheme}://{parts.netloc}" != host:
        return None
    return saved.key.reveal()
