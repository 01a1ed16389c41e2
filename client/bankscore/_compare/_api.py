"""``bankscore.compare``: does the candidate model decide like the one in service, on the same records?"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bankscore._client import Client
from bankscore._compare._concentration import Concentration
from bankscore._compare._result import CompareResult
from bankscore._compare._run import Sides, run_pairs
from bankscore._compare._source import DataSource
from bankscore._compare._summary import gates, summarize
from bankscore._exceptions import redact_userinfo
from bankscore._progress import ProgressCallback, make_progress
from bankscore._records import ColumnsDropped, RecordCodec

__all__ = ["compare"]


def compare(
    a: str | Client[Any] | None,
    b: str | Client[Any] | None = None,
    *,
    data: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    deployments: tuple[str, str] | None = None,
    label: str | None = "y",
    sample: int | None = None,
    seed: int = 0,
    key: str | None = None,
    key_b: str | None = None,
    batch_size: int = 100,
    concurrency: int = 4,
    rate: float | None = None,
    max_disagreement: float | None = None,
    max_auc_drop: float | None = None,
    max_latency_ratio: float | None = None,
    disagreements: str | os.PathLike[str] | None = None,
    drop_unknown: bool = False,
    progress: bool | ProgressCallback = False,
) -> CompareResult:
    """Score every record of ``data`` once on side ``a`` (the model in service) and once on ``b`` (the
    candidate), side by side, and compare what they decide.

    ``a`` and ``b``: scoring URIs (any wire generations) or clients; with ``b`` omitted, ``deployments=("blue",
    "green")`` pins the two deployments of one managed endpoint (header ``azureml-model-deployment``).
    ``data``: a CSV path (streamed: memory does not grow with the file) or an iterable of records; the column
    ``label`` (``y``), where present, holds the truth (``yes``/``no`` or 1/0) and is not sent. ``sample`` scores
    ``sample`` records picked with ``seed``. At most ``concurrency`` requests per side are in flight, and with
    ``rate`` at most ``rate`` batch pairs start per second. ``disagreements`` writes the records the sides label
    differently (CSV). The ``max_*`` limits become the result's ``gates``; ``result.passed`` says whether all held.
    """
    if concurrency < 1 or batch_size < 1:
        raise ValueError("concurrency and batch_size must be at least 1")
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive (batch pairs per second)")
    if sample is not None and sample < 1:
        raise ValueError("sample must be at least 1")
    if b is None and deployments is None:
        raise ValueError("compare needs two sides: a second URI, or deployments=(old, new) of one endpoint")
    if deployments is not None and (len(deployments) != 2 or not all(d.strip() for d in deployments)):
        raise ValueError("deployments names two deployments of the endpoint: (old, new)")
    pins: tuple[str | None, str | None] = deployments if deployments is not None else (None, None)
    owned: list[Client[Any]] = []

    def client(side: str | Client[Any] | None, side_key: str | None, pin: str | None) -> Client[Any]:
        if isinstance(side, Client):
            return side
        made: Client[Any] = Client(side, key=side_key, model_deployment=pin, drop_unknown=drop_unknown)
        owned.append(made)
        return made

    try:
        client_a = client(a, key, pins[0])
        client_b = client(b if b is not None else a, key_b if key_b is not None else key, pins[1])
        generations = (client_a.generation.value, client_b.generation.value)  # reads each spec once
        source = DataSource(data)
        reporter = make_progress(progress)
        total = source.count() if reporter is not None else 0
        if sample is not None and reporter is not None:
            total = min(total, sample)
        chunks = source.chunks(batch_size, sample, seed)
        first = next(chunks, None)
        if first is None:
            raise ValueError(f"{source.name} holds no records to compare")
        columns = list(first.rows[0])
        codec_a, drop_a = _prepare(client_a, columns, label, drop_unknown)
        codec_b, drop_b = _prepare(client_b, columns, label, drop_unknown)
        concentration = Concentration(columns)
        result = run_pairs(
            Sides(client_a, client_b, codec_a, codec_b, drop_a, drop_b, label if label in columns else None),
            _chain(first, chunks),
            concurrency=concurrency,
            rate=rate,
            concentration=concentration,
            disagreements=Path(disagreements) if disagreements is not None else None,
            progress=(lambda done: reporter(done, total)) if reporter is not None else None,
        )
        names = (
            pins[0] or redact_userinfo(client_a.scoring_uri),
            pins[1] or redact_userinfo(client_b.scoring_uri),
        )
        summary = summarize(
            result,
            names=names,
            uris=(redact_userinfo(client_a.scoring_uri), redact_userinfo(client_b.scoring_uri)),
            generations=generations,
            concentration=concentration,
        )
    finally:
        for made in owned:
            made.close()
    limits = gates(
        summary, max_disagreement=max_disagreement, max_auc_drop=max_auc_drop, max_latency_ratio=max_latency_ratio
    )
    return dataclasses.replace(summary, gates=limits)


def _chain(first: Any, rest: Any) -> Any:
    yield first
    yield from rest


def _prepare(
    client: Client[Any], columns: list[str], label: str | None, drop_unknown: bool
) -> tuple[RecordCodec[Any], frozenset[str]]:
    """The side's codec and the columns not sent to it; one ``ColumnsDropped`` warning names the latter."""
    model = client.record_model
    assert model is not None  # settled by client.generation
    codec: RecordCodec[Any] = _codec(model)
    keys = [c for c in columns if c != label or codec.takes_label]
    drop = set(codec.columns_to_drop(keys, drop_unknown=drop_unknown))
    if drop:
        warnings.warn(
            f"{redact_userinfo(client.scoring_uri)} does not take the columns {', '.join(map(repr, sorted(drop)))}: "
            "they were not sent",
            ColumnsDropped,
            stacklevel=3,
        )
    if label is not None and label in columns and not codec.takes_label:
        drop.add(label)
    return codec, frozenset(drop)


_CODECS: dict[type[Any], RecordCodec[Any]] = {}


def _codec(model: type[Any]) -> RecordCodec[Any]:
    """One codec per record model, so that two sides with the same record validate each chunk once."""
    if model not in _CODECS:
        _CODECS[model] = RecordCodec(model)
    return _CODECS[model]
