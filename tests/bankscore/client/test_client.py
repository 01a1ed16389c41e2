"""bankscore.Client against a fake endpoint on httpx.MockTransport: wire generations, errors, retries, keys."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

import bankscore
from bankscore import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Client,
    InternalServerError,
    PartialResultError,
    PayloadTooLargeError,
    Prediction,
    RateLimitError,
    ScoringError,
    ScoringInterrupted,
    ValidationError,
)
from bankscore._retry import parse_retry_after

from .conftest import KEY, FakeEndpoint, label, p_yes

URI = "http://127.0.0.1:9/score"


def client_for(endpoint: FakeEndpoint, **kwargs: Any) -> Client:
    kwargs.setdefault("generation", endpoint.generation)
    return Client(URI, transport=httpx.MockTransport(endpoint), **kwargs)


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, json=body if body is not None else {"message": f"fault {code}"}, headers=headers)

    return answer


def drop(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection reset by fault injection", request=request)


def time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


# --- the three wire generations ------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_predict_speaks_each_generation(generation: str, shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(generation)
    with client_for(endpoint) as client:
        prediction = client.predict(shipped[0])
    body = json.loads(endpoint.scoring_requests[0].content)
    if generation == "A":
        assert body == {"data": [shipped[0]]}
        assert prediction == Prediction(label(shipped[0]), None)
    elif generation == "B":
        assert body == {"data": [shipped[0]], "method": "predict_proba"}
        assert prediction == Prediction(label(shipped[0]), p_yes(shipped[0]))
    else:
        assert body == {"Inputs": {"data": [shipped[0]]}, "GlobalParameters": {"method": "predict_proba"}}
        assert prediction == Prediction(label(shipped[0]), p_yes(shipped[0]))


@pytest.mark.parametrize("generation", ["B", "C"])
def test_labels_only_when_probabilities_are_not_wanted(generation: str, shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(generation)
    with client_for(endpoint, probabilities=False) as client:
        assert client.predict(shipped[1]) == Prediction(label(shipped[1]), None)
    body = json.loads(endpoint.scoring_requests[0].content)
    assert "method" not in body and "GlobalParameters" not in body  # predict is the default everywhere


def test_generation_is_read_from_the_endpoint_spec(shipped: list[dict[str, Any]]) -> None:
    from bankscore.swagger import build_pinned_spec

    spec = json.loads(build_pinned_spec("B"))
    endpoint = FakeEndpoint("B", spec=spec)
    with Client(URI, transport=httpx.MockTransport(endpoint)) as client:
        assert client.generation is bankscore.WireGeneration.B
        client.predict(shipped[0])
    assert str(endpoint.requests[0].url) == "http://127.0.0.1:9/swagger.json?version=3"


def test_generation_from_the_body_shape_of_a_spec_without_the_extension() -> None:
    from bankscore._spec import detect_generation
    from bankscore.swagger import build_pinned_spec

    for generation in "ABC":
        spec = json.loads(build_pinned_spec(generation))
        del spec["x-bankscore"]
        assert detect_generation(spec) is bankscore.WireGeneration(generation)


@pytest.mark.parametrize("generation", ["A", "B"])
def test_a_200_holding_an_error_is_a_scoring_error(generation: str, shipped: list[dict[str, Any]]) -> None:
    def failed_run(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=json.dumps({"error": "could not convert string to float: 'x'"}))

    endpoint = FakeEndpoint(generation, faults=[failed_run])
    with client_for(endpoint) as client, pytest.raises(ScoringError, match="could not convert string"):
        client.predict(shipped[0])
    assert len(endpoint.scoring_requests) == 1  # not retried: the same body would fail the same way


# --- errors by status ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [(400, BadRequestError), (401, AuthenticationError), (413, PayloadTooLargeError)],
)
def test_client_errors_are_raised_at_once(code: int, error: type[Exception], shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(faults=[status(code, headers={"x-request-id": "rid-42"})] * 5)
    with client_for(endpoint) as client, pytest.raises(error) as raised:
        client.predict(shipped[0])
    assert len(endpoint.scoring_requests) == 1  # never retried
    assert raised.value.status == code  # type: ignore[attr-defined]
    assert raised.value.request_id == "rid-42"  # type: ignore[attr-defined]
    assert f"fault {code}" in str(raised.value)


def test_retries_a_503_honouring_retry_after(no_sleep: list[float], shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(faults=[status(503, headers={"Retry-After": "2"}), status(503)])
    with client_for(endpoint) as client:
        assert client.predict(shipped[0]).label == label(shipped[0])
    assert len(endpoint.scoring_requests) == 3
    assert no_sleep[0] == 2.0  # the server's word
    assert 0.5 <= no_sleep[1] <= 2.0  # backoff (multiplier 0.5 * 2**1) plus jitter


def test_retries_a_429_with_an_http_date(no_sleep: list[float], shipped: list[dict[str, Any]]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    endpoint = FakeEndpoint(faults=[status(429, headers={"Retry-After": when})])
    with client_for(endpoint) as client:
        client.predict(shipped[0])
    assert 25 <= no_sleep[0] <= 30


def test_retry_after_parsing() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3", now=now) == 3.0
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Fri, 27 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_retries_connection_errors_and_timeouts(shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(faults=[drop, time_out, status(502)])
    with client_for(endpoint) as client:
        assert client.predict(shipped[0]).label == label(shipped[0])
    assert len(endpoint.scoring_requests) == 4


def test_gives_up_after_max_retries(no_sleep: list[float], shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(faults=[status(500)] * 10)
    with client_for(endpoint, max_retries=2) as client, pytest.raises(InternalServerError):
        client.predict(shipped[0])
    assert len(endpoint.scoring_requests) == 3
    assert len(no_sleep) == 2


def test_timeouts_and_connection_errors_have_their_own_classes(shipped: list[dict[str, Any]]) -> None:
    with client_for(FakeEndpoint(faults=[time_out] * 4)) as client, pytest.raises(APITimeoutError):
        client.predict(shipped[0])
    with client_for(FakeEndpoint(faults=[drop] * 4)) as client, pytest.raises(APIConnectionError) as raised:
        client.predict(shipped[0])
    assert not isinstance(raised.value, APITimeoutError)


def test_rate_limit_error_after_retries(shipped: list[dict[str, Any]]) -> None:
    with client_for(FakeEndpoint(faults=[status(429)] * 4)) as client, pytest.raises(RateLimitError):
        client.predict(shipped[0])


# --- predict_many --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_predict_many_in_input_order(generation: str, shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(generation)
    with client_for(endpoint) as client:
        result = client.predict_many(shipped, batch_size=64, concurrency=4)
    assert result.ok and len(result) == len(shipped)
    assert result.labels == [label(r) for r in shipped]
    assert len(endpoint.scoring_requests) == 32  # ceil(2000 / 64)
    if generation != "A":
        assert result.probabilities == [p_yes(r) for r in shipped]


def test_faults_never_lose_or_duplicate_a_record(shipped: list[dict[str, Any]]) -> None:
    kinds = [status(503, headers={"Retry-After": "0"}), drop, status(429, headers={"Retry-After": "1"}), time_out]
    endpoint = FakeEndpoint()
    count = 0

    def every_third_request_fails(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        if count % 3 == 0 and count <= 36:
            endpoint.requests.append(request)
            return kinds[count // 3 % len(kinds)](request)
        return endpoint(request)

    with Client(URI, generation="C", transport=httpx.MockTransport(every_third_request_fails)) as client:
        result = client.predict_many(shipped, batch_size=50, concurrency=4)
    assert result.ok
    assert result.labels == [label(r) for r in shipped]
    assert result.probabilities == [p_yes(r) for r in shipped]
    assert len(endpoint.scoring_requests) == 40 + 12  # every batch once, plus one retry per fault


def test_when_retries_run_out_the_error_names_the_records_and_keeps_the_rest(shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(faults=[status(503)] * 4)  # the first batch's four attempts
    with client_for(endpoint) as client, pytest.raises(PartialResultError) as raised:
        client.predict_many(shipped[:500], batch_size=100, concurrency=1)
    result = raised.value.result
    assert result.failed_indices() == list(range(100))
    assert "records 0-99" in str(raised.value) and "503" in str(raised.value)
    assert result.labels[100:] == [label(r) for r in shipped[100:500]]
    assert result.scored_count == 400


def test_raise_on_error_false_returns_the_partial_result(shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(faults=[status(400)])
    with client_for(endpoint) as client:
        result = client.predict_many(shipped[:30], batch_size=10, concurrency=1, raise_on_error=False)
    assert not result.ok and result.failed_indices() == list(range(10))
    assert result[10] == Prediction(label(shipped[10]), p_yes(shipped[10]))


def test_a_wrong_key_stops_the_run_and_raises_authentication_error(shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(faults=[status(401)] * 100)
    with client_for(endpoint, key="wrong") as client, pytest.raises(AuthenticationError):
        client.predict_many(shipped, batch_size=100, concurrency=1)
    assert len(endpoint.scoring_requests) == 1


def test_invalid_records_are_reported_before_anything_is_sent(shipped: list[dict[str, Any]]) -> None:
    records = [dict(r) for r in shipped[:300]]
    records[7]["age"] = "forty"
    records[123]["job"] = "astronaut"
    del records[250]["emp.var.rate"]
    endpoint = FakeEndpoint()
    with client_for(endpoint) as client, pytest.raises(ValidationError) as raised:
        client.predict_many(records)
    assert endpoint.requests == []
    problems = {(p.index, p.field, p.value) for p in raised.value.problems}
    assert problems == {(7, "age", "forty"), (123, "job", "astronaut"), (250, "emp.var.rate", None)}
    text = str(raised.value)
    assert "record 7: age='forty'" in text and "record 123: job='astronaut'" in text
    assert "record 250: emp.var.rate=(missing)" in text and "nothing was sent" in text


def test_records_by_python_name_and_as_models(shipped: list[dict[str, Any]]) -> None:
    model = bankscore.BankMarketingRecord.model_validate(shipped[0])
    by_python = {name.replace(".", "_"): value for name, value in shipped[1].items()}
    endpoint = FakeEndpoint()
    with client_for(endpoint) as client:
        result = client.predict_many(iter([model, by_python]))
    assert result.labels == [label(shipped[0]), label(shipped[1])]
    assert endpoint.records_sent() == shipped[:2]  # wire names on the wire


def test_csv_paths_and_dataframes(tmp_path: Any, shipped: list[dict[str, Any]]) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(shipped[:120])
    csv = tmp_path / "customers.csv"
    frame.to_csv(csv, index=False)
    with client_for(FakeEndpoint()) as client:
        from_csv = client.predict_many(csv, batch_size=50)
        from_frame = client.predict_many(frame, batch_size=50)
    expected = [label(r) for r in shipped[:120]]
    assert from_csv.labels == expected and from_frame.labels == expected


def test_progress_is_reported(shipped: list[dict[str, Any]]) -> None:
    seen: list[tuple[int, int]] = []
    with client_for(FakeEndpoint()) as client:
        client.predict_many(shipped[:250], batch_size=100, concurrency=1, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(100, 250), (200, 250), (250, 250)]


def test_ctrl_c_leaves_a_partial_result(shipped: list[dict[str, Any]]) -> None:
    calls = 0

    def interrupt_third(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    endpoint = FakeEndpoint()
    endpoint.faults = []
    original = endpoint.__call__

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 3:
            return interrupt_third(request)
        return original(request)

    client = Client(URI, generation="C", transport=httpx.MockTransport(handler))
    with client, pytest.raises(ScoringInterrupted) as raised:
        client.predict_many(shipped[:500], batch_size=100, concurrency=1)
    assert isinstance(raised.value, KeyboardInterrupt)
    result = raised.value.result
    assert result.interrupted and result.scored_count == 200
    assert result.labels[:200] == [label(r) for r in shipped[:200]]
    assert result.failed_indices() == list(range(200, 500))


# --- keys ----------------------------------------------------------------------------------------------------


def test_the_key_is_sent_and_never_shown(caplog: pytest.LogCaptureFixture, shipped: list[dict[str, Any]]) -> None:
    echo = {"message": f"Unauthorized: Bearer {KEY} is not a key of this deployment"}
    endpoint = FakeEndpoint(faults=[status(503, echo), status(401, echo)])
    caplog.set_level(logging.DEBUG)
    with client_for(endpoint, key=KEY) as client:
        assert KEY not in repr(client) and "key=<set>" in repr(client)
        with pytest.raises(AuthenticationError) as raised:
            client.predict(shipped[0])
    assert endpoint.scoring_requests[0].headers["Authorization"] == f"Bearer {KEY}"
    error = raised.value
    for text in (str(error), repr(error), error.message, caplog.text, repr(error.__cause__), repr(error.__context__)):
        assert KEY not in text
    assert "<key>" in str(error)


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, shipped: list[dict[str, Any]]) -> None:
    monkeypatch.setenv("BANKSCORE_URI", URI)
    monkeypatch.setenv("BANKSCORE_KEY", KEY)
    endpoint = FakeEndpoint()
    with Client(generation="C", transport=httpx.MockTransport(endpoint)) as client:
        client.predict(shipped[0])
    assert endpoint.scoring_requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert str(endpoint.scoring_requests[0].url) == URI


def test_a_key_over_plain_http_to_another_host_warns() -> None:
    with pytest.warns(UserWarning, match="plain http to scoring.example.net"):
        Client("http://scoring.example.net/score", key=KEY, generation="C").close()


def test_no_local_deployment_is_a_clear_error() -> None:
    with pytest.raises(bankscore.BankscoreError, match="no local deployment 'bank-marketing'"):
        Client()


def test_ctrl_c_while_threads_score_leaves_a_partial_result(shipped: list[dict[str, Any]]) -> None:
    """SIGINT reaches the main thread while it waits for the pool: queued batches are dropped, nothing is lost."""
    import signal
    import threading

    endpoint = FakeEndpoint()
    lock = threading.Lock()
    calls = 0
    taken = threading.Event()  # the main thread has taken the signal

    def on_sigint(signum: int, frame: object) -> None:
        taken.set()
        raise KeyboardInterrupt

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        with lock:
            calls += 1
            call = calls
        if call == 6:
            # To the main thread itself, as a terminal's Ctrl-C is: os.kill may hand the signal to this
            # worker thread, and the main thread then sees it only after every batch is done.
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        if call >= 6:
            # Batches from here on wait until the main thread has taken the signal: some are surely left to
            # drop, however the machine schedules the threads.
            taken.wait(timeout=60)
        return endpoint(request)

    client = Client(URI, generation="C", transport=httpx.MockTransport(handler))
    # Ctrl-C's own behaviour whatever this process inherited (a shell's background job starts with SIGINT
    # ignored, and the signal would then never arrive).
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with client, pytest.raises(ScoringInterrupted) as raised:
            client.predict_many(shipped, batch_size=50, concurrency=2)
    finally:
        signal.signal(signal.SIGINT, previous)
    result = raised.value.result
    assert result.interrupted and 0 < result.scored_count < len(shipped)
    scored = [i for i, p in enumerate(result) if p is not None]
    assert sorted(scored + result.failed_indices()) == list(range(len(shipped)))  # each record exactly once
    assert all(result[i] == Prediction(label(shipped[i]), p_yes(shipped[i])) for i in scored)


def test_a_secret_in_the_urls_userinfo_never_reaches_a_message(shipped: list[dict[str, Any]]) -> None:
    secret = "s3cret-in-the-url-6b1f"
    uri = f"https://scorer:{secret}@127.0.0.1:9/score"

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    def echoes(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"message": f"upstream {uri} failed"})

    for answer, error_class in ((refused, APIConnectionError), (echoes, InternalServerError)):
        with Client(uri, generation="C", transport=httpx.MockTransport(answer), max_retries=0) as client:
            assert secret not in repr(client)
            with pytest.raises(error_class) as raised:
                client.predict(shipped[0])
        shown = f"{raised.value} {raised.value!r} {getattr(raised.value, 'url', '')}"
        assert secret not in shown and "<redacted>@127.0.0.1:9" in shown, shown
