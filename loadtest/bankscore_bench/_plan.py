"""From ab's command line to the engine's ``LoadPlan``: which endpoint, which key, which bodies, which check.

What gets sent, in ab's order of precedence:

- ``-p FILE`` / ``-u FILE``: the file's bytes as ab sends them (``-T``, default ``text/plain``); no body check
  beyond ab's length rule.
- no body file, and the URL is a scoring route (its path ends in ``/score``, as Azure's and the local
  deployment's do) or ``--batch-size`` / ``--generation`` / ``--proba`` is given: realistic Bank Marketing
  records from the shipped data, drawn with ``--seed``, ``--batch-size`` per request, encoded in the
  endpoint's wire generation with the client's own encoder, POSTed, and every 2xx body checked to hold one
  prediction per record (a wrong body counts as failed). The records fit the endpoint's record as its spec
  states it: a shipped column it does not have (``duration`` for a model trained without it) is not sent,
  and the line describing the payload says so.
- anything else: ab's plain ``GET`` (or ``-m`` / ``-i``).

The endpoint comes from the URL argument, else ``--deployment NAME``, else ``BANKSCORE_URI``, else the saved
local deployment, exactly as ``bankscore.Client`` finds it; the key from ``--key``, ``BANKSCORE_KEY`` or the
deployment. An explicit ``-H 'Authorization: ...'`` always wins, as it does in ab.

``--model-deployment NAME`` adds ``azureml-model-deployment: NAME`` to every request, and to the request that
reads the endpoint's spec when the generation is detected, so a managed online endpoint's traffic rules cannot
route the run (or the detection) to another deployment. ``-H azureml-model-deployment: NAME`` does the same;
giving both is refused when the command line is parsed.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from pydantic import BaseModel

from bankscore._endpoint import Key, resolve_endpoint
from bankscore._generations import WireGeneration
from bankscore._wire import PREDICT, PREDICT_PROBA
from bankscore_bench._aboptions import MODEL_DEPLOYMENT_HEADER, AbOptions, basic_credentials
from bankscore_bench._payloads import (
    MAX_RECORDS_PER_REQUEST,
    PayloadPool,
    ScoringChecker,
    bank_marketing_payloads,
    detect_endpoint,
    fixed_payload,
)
from bankscore_bench.engine import LoadPlan

__all__ = ["BenchTarget", "PlanError", "build_plan", "resolve_target", "uses_records"]


class PlanError(ValueError):
    """The command line names something that cannot be run (message names the option and value)."""


@dataclasses.dataclass(frozen=True, slots=True)
class BenchTarget:
    url: str
    key: Key | None = dataclasses.field(default=None, repr=False)
    generation: WireGeneration | None = None  # known from the saved deployment or --generation


def resolve_target(options: AbOptions) -> BenchTarget:
    """The URL and key to load, from the options, the environment or the saved local deployment."""
    generation = None if options.generation == "auto" else WireGeneration(options.generation)
    endpoint = resolve_endpoint(options.url, options.key, generation, options.deployment)
    return BenchTarget(endpoint.scoring_uri, endpoint.key, endpoint.generation)


def uses_records(options: AbOptions, url: str) -> bool:
    """Whether the run POSTs generated Bank Marketing records (see the module docstring)."""
    if options.body_file is not None or options.method_name is not None or options.head:
        return False
    asked = options.batch_size is not None or options.generation != "auto" or options.proba
    return asked or urlsplit(url).path.rstrip("/").endswith("/score")


def _auth_headers(options: AbOptions, target: BenchTarget) -> list[tuple[str, str]]:
    """-C, -A and the key, --model-deployment, then the -H headers in order (ab puts -H after its own)."""
    headers: list[tuple[str, str]] = []
    if options.cookies:
        headers.append(("Cookie", "; ".join(options.cookies)))
    given = {name.lower() for name, _ in options.headers}
    if options.basic_auth is not None:
        headers.append(("Authorization", basic_credentials(options.basic_auth)))
    elif target.key is not None and "authorization" not in given:
        headers.append(("Authorization", target.key.header()))
    if options.model_deployment is not None:
        headers.append((MODEL_DEPLOYMENT_HEADER, options.model_deployment))
    headers.extend(options.headers)
    return headers


def _endpoint(
    options: AbOptions, target: BenchTarget, headers: list[tuple[str, str]]
) -> tuple[WireGeneration, type[BaseModel] | None]:
    """The wire generation and record model to send: a known generation wins, the record is the spec's."""
    from bankscore._exceptions import APIConnectionError

    if target.generation is not None:
        try:
            return target.generation, detect_endpoint(target.url, dict(headers))[1]
        except Exception:  # no readable spec: the shipped record, as before (the run itself will say more)
            return target.generation, None
    try:
        return detect_endpoint(target.url, dict(headers))
    except APIConnectionError as exc:  # nothing listens there: no flag would help, say so plainly
        raise PlanError(str(exc)) from None
    except Exception as exc:  # any other failure to read the spec gets one clear message
        raise PlanError(
            f"cannot detect the wire generation of {target.url} from its /swagger.json ({exc}); "
            "give --generation A, B, C or D"
        ) from None


def build_plan(options: AbOptions, target: BenchTarget) -> tuple[LoadPlan, str]:
    """The engine's plan and a one-line description of the payload ("3 records per request, generation C")."""
    if options.proxy is not None:
        raise PlanError("-X (proxy) is not supported by bankscore-bench yet; send to the endpoint directly")
    headers = _auth_headers(options, target)
    payloads: PayloadPool | None = None
    checker = None
    method = options.method
    described = f"{method} without a body"
    if options.body_file is not None:
        try:
            payloads = fixed_payload(options.body_file, options.content_type or "text/plain")
        except ValueError as exc:
            raise PlanError(f"-{'p' if options.post_file else 'u'} {options.body_file!r}: {exc}") from None
        described = f"{method} of {options.body_file} ({len(payloads.payloads[0].body)} bytes)"
    elif uses_records(options, target.url):
        batch = options.batch_size or 1
        if batch > MAX_RECORDS_PER_REQUEST:  # before asking the endpoint anything: no flag but this one helps
            raise PlanError(
                f"--batch-size {batch}: an endpoint scores at most {MAX_RECORDS_PER_REQUEST} records per request "
                f"(it answers 400 above that); give --batch-size {MAX_RECORDS_PER_REQUEST} or less"
            )
        generation, record_model = _endpoint(options, target, headers)
        # Labels unless --proba, as the help says and as the seed's endpoint.py and data.json ask.
        wanted = PREDICT_PROBA if options.proba else PREDICT
        if options.proba and generation is WireGeneration.A:
            raise PlanError("--proba: wire generation A can only predict labels; drop --proba")
        try:
            # Never more distinct bodies than requests sent (warmup included): -n 2 builds two bodies, not a pool.
            payloads = bank_marketing_payloads(
                generation,
                batch_size=batch,
                seed=options.seed or 0,
                method=wanted,
                requests=options.requests + options.warmup,
                record_model=record_model,
            )
        except ValueError as exc:
            raise PlanError(f"--batch-size {batch}: {exc}") from None
        if options.content_type is not None:
            payloads = dataclasses.replace(payloads, content_type=options.content_type)
        checker = ScoringChecker(wanted, generation)
        method = "POST"
        described = (
            f"POST of {batch} Bank Marketing record{'s' if batch != 1 else ''} per request "
            f"(generation {generation.value}, {wanted}, seed {options.seed or 0})"
        )
        if payloads.dropped_columns:
            names = ", ".join(payloads.dropped_columns)
            described += f", without {names} (not in the endpoint's record)"
    if options.model_deployment is not None:
        described += f", deployment {options.model_deployment} ({MODEL_DEPLOYMENT_HEADER})"
    try:
        plan = LoadPlan(
            url=target.url,
            method=method,
            headers=tuple(headers),
            payloads=payloads,
            concurrency=options.concurrency if options.rate is None or options.concurrency > 1 else None,
            requests=options.requests,
            time_limit_s=options.time_limit_s,
            timeout_s=options.timeout_s,
            keepalive=options.keepalive,
            rate=options.rate,
            arrivals=options.arrivals,
            seed=options.seed or 0,
            warmup=options.warmup,
            max_time_s=options.max_time_s,
            # Scores differ per record, so bodies differ in length: ab's length rule would fail good answers.
            # The scoring check judges those bodies instead (and the report says "Variable", as with -l).
            accept_variable_length=options.variable_length or checker is not None,
            checker=checker,
            verbosity=options.verbosity,
        )
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    return plan, described
