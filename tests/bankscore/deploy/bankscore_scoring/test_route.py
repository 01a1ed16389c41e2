"""The server's side: statuses, the bounded body read, and one JSON log line per request."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from bankscore_tests_scoring_helpers import (
    GOOD,
    LONG_CALL,
    body,
    frame,
    frame_body,
    request,
    tiny_model,
)

from bankscore.deploy.bankscore_scoring import logline, route
from bankscore.deploy.bankscore_scoring.model import Model


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> Model:
    model = tiny_model("C", max_body_bytes=500)
    monkeypatch.setattr(route, "_MODEL", model)
    return model


def test_route_statuses(loaded: Model, capsys: pytest.CaptureFixture[str]) -> None:
    ok = body("C", [GOOD])
    assert route._handle(request(ok)) == ({"Results": ["no"]}, 200)
    assert route._handle(request(ok, method="GET"))[1] == 405
    assert route._handle(request(ok, content_type=None)) == (
        {"message": "Expects Content-Type to be application/json"},
        415,
    )
    assert route._handle(request(ok, content_type="text/plain"))[1] == 415
    assert route._handle(request(ok, content_type="Application/JSON; charset=utf-8"))[1] == 200
    big = b" " * 501
    assert route._handle(request(big)) == (
        {"message": "the body has 501 bytes; this deployment takes at most 500"},
        413,
    )
    assert route._handle(request(big, chunked=True)) == ({"message": "the body exceeds 500 bytes"}, 413)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["status"] for line in lines] == [200, 405, 415, 415, 200, 413, 413]
    assert lines[0] == {
        "event": "score",
        "request_id": "",
        "status": 200,
        "latency_ms": lines[0]["latency_ms"],
        "records": 1,
        "method": "predict",
        "model": "tiny",
        "model_version": "7",
        "generation": "C",
    }


def test_a_failing_request_is_not_logged_as_200(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tiny_model("C", kind="mystery")  # p_yes raises ValueError("unknown learner kind")
    monkeypatch.setattr(route, "_MODEL", broken)
    with pytest.raises(ValueError, match="unknown learner kind"):
        route._handle(request(body("C", [GOOD])))
    line = json.loads(capsys.readouterr().out)
    assert line["status"] == 500


def gunicorn_request(raw: bytes, *, chunked: bool = False) -> SimpleNamespace:
    """A request whose WSGI input is gunicorn's own body object over an in-memory socket stream."""
    body_module = pytest.importorskip("gunicorn.http.body")
    unreader_module = pytest.importorskip("gunicorn.http.unreader")
    pieces = [raw[i : i + 8192] for i in range(0, len(raw), 8192)]
    if chunked:
        wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        unreader = unreader_module.IterUnreader([wire[i : i + 8192] for i in range(0, len(wire), 8192)])
        reader = body_module.ChunkedReader(SimpleNamespace(trailers=None), unreader)
    else:
        reader = body_module.LengthReader(unreader_module.IterUnreader(pieces), len(raw))
    stream = body_module.Body(reader)
    return SimpleNamespace(environ={"wsgi.input": stream}, stream=stream)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_gunicorn_body_is_read_whole_by_its_reader(chunked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps({"Inputs": {"data": [GOOD] * 500}}).encode()
    request = gunicorn_request(raw, chunked=chunked)
    # Body.read copies 1 KB at a time: the script must go around it.
    monkeypatch.setattr(type(request.stream), "read", lambda self, size=None: pytest.fail("read through Body"))
    assert route._read_body(request, len(raw) + 1) == raw
    limited = gunicorn_request(raw, chunked=chunked)
    assert len(route._read_body(limited, 1001)) >= 1001  # enough to see that the limit is exceeded


def test_other_streams_are_read_as_they_are() -> None:
    raw = b'{"Inputs": {"data": []}}'
    assert route._read_body(SimpleNamespace(stream=io.BytesIO(raw)), 100) == raw
    assert route._read_body(SimpleNamespace(environ={"wsgi.input": None}, stream=io.BytesIO(raw)), 5) == raw[:5]


def test_the_log_line_is_the_json_of_its_fields(loaded: Model, capsys: pytest.CaptureFixture[str]) -> None:
    logline.log_request(loaded.log_tail, 400, 0.0, 3, "predict_proba")
    out = capsys.readouterr().out
    line = json.loads(out)
    assert out == json.dumps(line) + "\n"  # the same bytes json.dumps writes: one line, no surprises
    assert {k: v for k, v in line.items() if k != "latency_ms"} == {
        "event": "score",
        "request_id": "",
        "status": 400,
        "records": 3,
        "method": "predict_proba",
        "model": "tiny",
        "model_version": "7",
        "generation": "C",
    }


def test_d_route_and_log_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(route, "_MODEL", tiny_model("D"))
    answer = route._handle(request(frame_body(frame([GOOD, LONG_CALL]), {"predict_method": "predict_proba"})))
    assert answer[1] == 200 and [list(item) for item in answer[0]] == [["no", "yes"]] * 2
    assert route._handle(request(frame_body([GOOD])))[1] == 400
    wrong_age = frame_body(frame([{**GOOD, "age": "x"}]), {"predict_method": "predict_proba"})
    assert route._handle(request(wrong_age))[1] == 400
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["status"], line["records"], line["method"], line["generation"]) for line in lines] == [
        (200, 2, "predict_proba", "D"),
        (400, 0, "", "D"),  # refused before params were read
        (400, 0, "predict_proba", "D"),  # the body was read; its records were refused
    ]
