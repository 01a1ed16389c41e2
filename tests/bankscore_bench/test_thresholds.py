"""Threshold expressions: k6's language parsed, bad expressions named, results evaluated exactly."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bankscore_bench._samples import Failure
from bankscore_bench._stats import summarize
from bankscore_bench._thresholds import (
    DEFAULT_ERROR_LIMIT,
    THRESHOLDS_FAILED_EXIT_CODE,
    ThresholdError,
    all_passed,
    evaluate,
    failure_reasons,
    parse_thresholds,
    required_percentiles,
    with_run_checks,
)


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("p(95)<200", "p95", "<", 200.0),
        ("p(99.9) <= 1.5s", "p99.9", "<=", 1500.0),
        ("p99<=50ms", "p99", "<=", 50.0),
        ("p99.99<250us", "p99.99", "<", 0.25),
        ("P(50) < 3 MS", "p50", "<", 3.0),
        ("p(100)<1s", "max", "<", 1000.0),
        ("mean<20ms", "mean", "<", 20.0),
        ("avg<20", "mean", "<", 20.0),
        ("med<5", "p50", "<", 5.0),
        ("min>=0.1", "min", ">=", 0.1),
        ("max<1s", "max", "<", 1000.0),
        ("errors<=1%", "errors", "<=", 0.01),
        ("errors==0", "error_count", "==", 0.0),
        ("rate<0.01", "rate", "<", 0.01),
        ("rate<1%", "rate", "<", 0.01),
        ("rps>=1000", "rps", ">=", 1000.0),
        ("records>500", "records", ">", 500.0),
        ("errors!=3", "error_count", "!=", 3.0),
    ],
)
def test_good_expressions_parse(text: str, metric: str, op: str, value: float) -> None:
    (threshold,) = parse_thresholds(text)
    assert (threshold.metric, threshold.op) == (metric, op)
    assert threshold.value == pytest.approx(value)
    assert threshold.expression == text.strip()


def test_comma_separated_lists_and_repeated_options_keep_their_order() -> None:
    parsed = parse_thresholds(["p(95)<200, errors<=1%", "rps>=10"])
    assert [t.expression for t in parsed] == ["p(95)<200", "errors<=1%", "rps>=10"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("p95", "'p95' is not 'metric operator value'"),
        ("p(95)<<200", "'p(95)<<200' is not"),
        ("latency<20", "unknown metric 'latency'"),
        ("p(0)<20", "percentile 0 is not in (0, 100]"),
        ("p(101)<20", "percentile 101 is not in (0, 100]"),
        ("p99<5%", "latency takes ms, s or us"),
        ("errors<5ms", "takes a number or a percentage"),
        ("errors<150%", "cannot exceed 100%"),
        ("rps>10ms", "takes no unit"),
        ("p99<-3", "is not 'metric operator value'"),
        ("p(95)<200,", "empty expression"),
    ],
)
def test_bad_expressions_raise_an_error_naming_them(text: str, fragment: str) -> None:
    with pytest.raises(ThresholdError) as caught:
        parse_thresholds(text)
    message = str(caught.value)
    assert fragment in message
    assert "Traceback" not in message


def test_evaluate_reports_actual_values_and_pass_fail(stats_synthetic_run) -> None:
    # 100 requests of 1..100 ms, the last 2 of them 503: latency is read from the 98 successful ones (1..98 ms):
    # p95 = 94 ms, mean 49.5 ms, max 98 ms; error rate 2 %.
    statuses = [200] * 98 + [503, 503]
    info, log = stats_synthetic_run([ms * 1000 for ms in range(1, 101)], status=statuses)
    summary = summarize(info, log)
    results = evaluate(
        parse_thresholds("p(95)<=94,p(95)<94,mean<49.5,max<=98ms,errors<=2%,errors<2,rate<0.03,rps>=19"), summary
    )
    assert [r.passed for r in results] == [True, False, False, True, True, False, True, True]
    assert [r.actual for r in results][:4] == [94.0, 94.0, 49.5, 98.0]
    assert results[4].actual == pytest.approx(0.02)
    assert results[5].actual == 2.0
    assert results[7].actual == pytest.approx(100 / 5.05)  # 100 requests over 5.05 s
    assert not all_passed(results)
    assert all_passed(results[:1])


def test_latency_thresholds_read_the_corrected_view_in_open_loop(stats_synthetic_run) -> None:
    # Each request was scheduled 100 ms before it could be sent and then took 1 ms.
    intended = [i * 200_000 for i in range(10)]
    info, log = stats_synthetic_run(
        [1_000] * 10, start_us=[t + 100_000 for t in intended], intended_us=intended, rate=5.0
    )
    (result,) = evaluate(parse_thresholds("p99<50ms"), summarize(info, log))
    assert result.actual == pytest.approx(101.0)
    assert not result.passed
    (closed_view,) = evaluate(parse_thresholds("p99<50ms"), summarize(info, log, corrected=False))
    assert closed_view.passed


def test_a_percentile_outside_the_report_is_computed_when_asked_for(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([ms * 1000 for ms in range(1, 1001)])
    thresholds = parse_thresholds("p(97.5)<=975,p99<990")
    assert required_percentiles(thresholds) == [Fraction("97.5"), Fraction(99)]
    with pytest.raises(ThresholdError, match=r"'p\(97.5\)<=975'.*no p97.5"):
        evaluate(thresholds, summarize(info, log))
    results = evaluate(thresholds, summarize(info, log, extra_percentiles=required_percentiles(thresholds)))
    assert [(r.actual, r.passed) for r in results] == [(975.0, True), (990.0, False)]


def test_a_run_without_responses_fails_latency_thresholds(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([0, 0], status=0, failure=Failure.CONNECT)
    latency, errors = evaluate(parse_thresholds("p99<50,errors<=100%"), summarize(info, log))
    assert (latency.actual, latency.passed) == (None, False)
    assert (errors.actual, errors.passed) == (1.0, True)


def test_the_failed_thresholds_exit_code_is_k6s() -> None:
    assert THRESHOLDS_FAILED_EXIT_CODE == 99


def test_http_req_failed_is_k6s_error_rate_and_ok_counts_successes(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([1_000] * 100, status=[200] * 99 + [500])
    summary = summarize(info, log)
    results = evaluate(parse_thresholds("http_req_failed<0.01,http_req_failed<=1%,ok>=99,ok>99"), summary)
    assert [(r.threshold.metric, r.passed) for r in results] == [
        ("rate", False),
        ("rate", True),
        ("ok", True),
        ("ok", False),
    ]
    assert results[0].reason == "1 of 100 requests failed: HTTP 500 x1"


def test_any_threshold_brings_the_checks_a_failed_run_cannot_pass() -> None:
    assert with_run_checks([]) == []
    checks = with_run_checks(parse_thresholds("p(99)<50"))
    assert [(t.expression, t.default) for t in checks] == [
        ("p(99)<50", False),
        (DEFAULT_ERROR_LIMIT, True),
        ("ok>0", True),
    ]
    stated = with_run_checks(parse_thresholds("p(99)<50,errors<=5%"))
    assert [t.expression for t in stated] == ["p(99)<50", "errors<=5%", "ok>0"]  # a stated limit replaces it


def test_a_run_where_every_request_got_401_fails_and_says_why(stats_synthetic_run) -> None:
    # Fast answers, all 401: latency "of responses" would pass p(99)<50; latency of successes has no value.
    info, log = stats_synthetic_run([300] * 50, status=401)
    results = evaluate(with_run_checks(parse_thresholds("p(99)<50")), summarize(info, log))
    assert [r.passed for r in results] == [False, False, False]
    assert failure_reasons(results) == [
        "p(99)<50: no request succeeded: nothing to measure",
        "http_req_failed<0.01 (default): 50 of 50 requests failed: HTTP 401 x50",
        "ok>0 (default): no request succeeded (50 of 50 requests failed: HTTP 401 x50)",
    ]
    # Even a generous stated error limit cannot pass a run in which nothing succeeded.
    lenient = evaluate(with_run_checks(parse_thresholds("errors<=100%")), summarize(info, log))
    assert [r.passed for r in lenient] == [True, False]
