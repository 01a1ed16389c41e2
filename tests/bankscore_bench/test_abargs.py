"""ab's command line: flags, defaults, errors and exit codes as ab 2.3 has them, plus bankscore's options."""

from __future__ import annotations

import base64
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bankscore_bench._abargs import parse_ab_args
from bankscore_bench._aboptions import (
    TIMELIMIT_REQUESTS,
    AbOptions,
    AbUsageError,
    format_request_head,
    format_usage,
    parse_ab_url,
)
from bankscore_bench._abspec import EXIT_USAGE, EXIT_VALUE

URL = "http://127.0.0.1:5001/score"
KEY = "bk-SecretKey-7f3e9a1c"


def _error(argv: list[str]) -> AbUsageError:
    with pytest.raises(AbUsageError) as caught:
        parse_ab_args(argv)
    return caught.value


def test_seed_command_line() -> None:
    """The command the Azure workflow's benchmark.sh runs."""
    argv = ["-n", "10", "-v", "4", "-p", "data.json", "-T", "application/json"]
    options = parse_ab_args([*argv, "-H", f"Authorization: Bearer {KEY}", URL])

    assert (options.requests, options.concurrency, options.verbosity) == (10, 1, 4)
    assert (options.post_file, options.body_file, options.method) == ("data.json", "data.json", "POST")
    assert options.content_type == "application/json"
    assert options.headers == (("Authorization", f"Bearer {KEY}"),)
    assert options.url == URL
    assert options.request_headers(content_length=47) == [
        ("Content-length", "47"),
        ("Content-type", "application/json"),
        ("Authorization", f"Bearer {KEY}"),
        ("Host", "127.0.0.1:5001"),
        ("User-Agent", options.request_headers()[-2][1]),
        ("Accept", "*/*"),
    ]
    assert options.request_headers()[-2][1].startswith("bankscore-bench/")
    assert KEY not in repr(options)


def test_defaults_are_abs() -> None:
    options = parse_ab_args([URL])

    assert options == AbOptions(url=URL)
    assert (options.requests, options.concurrency, options.timeout_s, options.verbosity) == (1, 1, 30.0, 0)
    assert (options.method, options.keepalive, options.percentiles, options.confidence) == ("GET", False, True, True)
    assert options.max_time_s == 600.0 and options.generation == "auto" and options.arrivals == "constant"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-kc8", "-n100", URL], {"keepalive": True, "concurrency": 8, "requests": 100}),
        (["-n100", "-c", "8", URL], {"requests": 100, "concurrency": 8}),
        (["-kqlSd", URL], {"keepalive": True, "quiet": True, "variable_length": True, "confidence": False}),
        ([URL, "-n", "5", "-k"], {"requests": 5, "keepalive": True}),  # options after the URL, as getopt allows
        (["-c4", "-n", "8", "-v2", "-s5", URL], {"concurrency": 4, "requests": 8, "verbosity": 2, "timeout_s": 5.0}),
    ],
)
def test_combined_short_flags(argv: list[str], expected: dict[str, object]) -> None:
    options = parse_ab_args(argv)

    assert {name: getattr(options, name) for name in expected} == expected


def test_bankscore_long_options_mix_with_ab_flags() -> None:
    command_line = (
        f"-n 500 --rate 50 --arrivals=poisson {URL} -kc 4 --threshold 'p(95)<200' --threshold 'errors<=1%' "
        "--batch-size 20 --generation b --proba --seed 7 --warmup 10 --json out.json --csv run --html report.html "
        "--timeline --ab-strict --max-time 30 --sweep c=1,2,4 --slo 'p99<50ms'"
    )
    options = parse_ab_args(shlex.split(command_line))

    assert (options.requests, options.concurrency, options.keepalive) == (500, 4, True)
    assert (options.rate, options.arrivals, options.batch_size, options.generation) == (50.0, "poisson", 20, "B")
    assert options.thresholds == ("p(95)<200", "errors<=1%")
    assert (options.proba, options.seed, options.warmup, options.max_time_s) == (True, 7, 10, 30.0)
    assert (options.json_file, options.csv_prefix, options.html_file) == ("out.json", "run", "report.html")
    assert (options.timeline, options.ab_strict, options.sweep, options.slo) == (True, True, "c=1,2,4", "p99<50ms")


def test_distributed_options() -> None:
    master = parse_ab_args(["--master", "--expect-workers", "2", "--master-port", "6000", "-n", "10", URL])
    worker = parse_ab_args(["--worker", "--master-host", "10.0.0.5"])
    local = parse_ab_args(["--workers", "3", "-n", "30", URL])

    assert (master.master, master.expect_workers, master.master_port) == (True, 2, 6000)
    assert (worker.worker, worker.master_host, worker.url) == (True, "10.0.0.5", None)
    assert local.workers == 3
    assert "exclude each other" in _error(["--master", "--worker"]).message


def test_timelimit_implies_50000_requests_unless_a_later_n() -> None:
    """ab applies options in order: -t sets requests to 50000, a later -n overrides it."""
    assert parse_ab_args(["-t", "2", URL]).requests == TIMELIMIT_REQUESTS
    assert parse_ab_args(["-n", "100", "-t", "2", URL]).requests == TIMELIMIT_REQUESTS
    options = parse_ab_args(["-t", "2", "-n", "100", URL])
    assert (options.requests, options.time_limit_s) == (100, 2.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-j", URL], "bankscore-bench: invalid option -- 'j'"),
        (["--nope", URL], "bankscore-bench: unrecognized option '--nope'"),
        (["-n"], "bankscore-bench: option requires an argument -- 'n'"),
        (["--rate"], "bankscore-bench: option '--rate' requires an argument"),
        (["--proba=1", URL], "bankscore-bench: option '--proba' doesn't allow an argument"),
        (["--ma", URL], "bankscore-bench: option '--ma' is ambiguous"),
        ([URL, URL], "bankscore-bench: wrong number of arguments"),
    ],
)
def test_unknown_flags_print_getopt_message_and_usage(argv: list[str], message: str) -> None:
    error = _error(argv)

    assert error.message == message
    assert error.exit_code == EXIT_USAGE == 22
    assert error.usage == format_usage("bankscore-bench")
    assert error.usage.startswith("Usage: bankscore-bench [options] [http[s]://]hostname[:port]/path\nOptions are:\n")


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["-n", "abc", URL], ("Invalid number of requests", "-n", "'abc'")),
        (["-n", "-5", URL], ("Invalid number of requests", "-n", "'-5'")),
        (["-c", "x", URL], ("-c", "'x'")),
        (["-c", "200001", "-n", "300000", URL], ("Invalid Concurrency [Range 1..200000]", "'200001'")),
        (["-c", "0", URL], ("-c", "'0'")),
        (["-t", "0", URL], ("-t", "'0'")),
        (["-s", "soon", URL], ("-s", "'soon'")),
        (["-v", "loud", URL], ("-v", "'loud'")),
        (["--rate", "-5", URL], ("--rate", "'-5'")),
        (["--rate", "nan", URL], ("--rate", "'nan'")),
        (["--arrivals", "burst", URL], ("--arrivals", "'burst'", "constant, poisson")),
        (["--generation", "E", URL], ("--generation", "'E'", "A, B, C, D, auto")),
        (["--batch-size", "0", URL], ("--batch-size", "'0'")),
        (["--workers", "two", URL], ("--workers", "'two'")),
        (["--master-port", "70000", URL], ("--master-port", "'70000'")),
        (["--expect-workers", "0", URL], ("--expect-workers", "'0'")),
        (["--seed", "-1", URL], ("--seed", "'-1'")),
        (["--warmup", "some", URL], ("--warmup", "'some'")),
        (["--max-time", "inf", URL], ("--max-time", "'inf'")),
        (["-X", "proxy", URL], ("-X", "'proxy'")),
        (["-m", "GET STUFF", URL], ("-m", "'GET STUFF'")),
        (["-n", "5", "-c", "10", URL], ("Cannot use concurrency level greater than total number", "-c 10", "-n 5")),
        (["ftp://example.org/", "-n", "1"], ("invalid URL", "'ftp://example.org/'")),
        (["-w", URL], ("-w", "not supported", "--html")),
        (["--deployment", "local", URL], ("--deployment", URL)),
    ],
)
def test_bad_values_name_the_option_and_value(argv: list[str], names: tuple[str, ...]) -> None:
    error = _error(argv)

    assert error.message.startswith("bankscore-bench: ")
    for name in names:
        assert name in error.message
    assert error.exit_code == (EXIT_VALUE if "Invalid number of requests" in names else EXIT_USAGE)
    assert error.usage


def test_methods_cannot_be_mixed_as_in_ab() -> None:
    error = _error(["-i", "-p", "body.json", URL])

    assert error.message == "bankscore-bench: Cannot mix POST with other methods (-i and -p)"
    assert error.exit_code == EXIT_VALUE
    assert parse_ab_args(["-i", URL]).method == "HEAD"
    assert parse_ab_args(["-u", "body.json", URL]).method == "PUT"
    assert parse_ab_args(["-m", "PATCH", "-p", "body.json", URL]).method == "PATCH"


@pytest.mark.parametrize(
    "argv",
    [
        ["-A", KEY, URL],  # no ':' in the credentials
        ["-H", KEY, URL],  # a bare key instead of a header line
        ["-C", KEY, URL],  # no '=' in the cookie
        ["--key", KEY, "-A", "user:pass", URL],  # two Authorization headers
        ["--key", KEY, "-H", "Authorization: Bearer other", URL],
    ],
)
def test_errors_about_secrets_never_echo_them(argv: list[str]) -> None:
    error = _error(argv)

    assert KEY not in error.message
    assert "other" not in error.message
    assert error.message.startswith("bankscore-bench: ")


def test_key_and_credentials_make_the_headers_ab_would() -> None:
    options = parse_ab_args(["--key", KEY, "-C", "a=1", "-C", "b=2", "-P", "proxy:secret", "-k", URL])
    basic = parse_ab_args(["-A", " user:pass", URL])

    headers = options.request_headers()
    assert headers[:4] == [
        ("Connection", "Keep-Alive"),
        ("Cookie", "a=1; b=2"),
        ("Authorization", f"Bearer {KEY}"),
        ("Proxy-Authorization", "Basic " + base64.b64encode(b"proxy:secret").decode()),
    ]
    assert basic.request_headers()[0] == ("Authorization", "Basic " + base64.b64encode(b"user:pass").decode())
    for text in (repr(options), repr(basic)):
        assert KEY not in text and "secret" not in text and "pass" not in text


def test_header_overrides_replace_abs_defaults() -> None:
    options = parse_ab_args(["-H", "Host: example.org", "-H", "User-Agent: me", "-H", "Accept: text/csv", URL])

    assert options.request_headers() == [("Host", "example.org"), ("User-Agent", "me"), ("Accept", "text/csv")]


def test_request_bytes_equal_abs_request_dump(ab_fixtures: Path) -> None:
    """ab -v 2 printed the exact request of `-n 1 -v 2 -k -p post.json -T application/json -H ...`."""
    dump = (ab_fixtures / "11-request-dump-v2.stdout.txt").read_bytes().decode()
    head = dump[dump.index("INFO: POST header == \n---\n") + 26 : dump.index("\n---\nLOG: header received")]
    argv = ["-n", "1", "-v", "2", "-k", "-p", "post.json", "-T", "application/json", "-H", "X-Api-Key: demo"]
    options = parse_ab_args([*argv, "http://127.0.0.1:18081/score"])
    body_length = len((ab_fixtures / "post.json").read_bytes())
    target = options.target()
    assert target is not None

    # ab's own User-Agent, to compare bytes; bankscore-bench sends its own name by default.
    headers = options.request_headers(content_length=body_length, user_agent="ApacheBench/2.3")

    assert format_request_head(options.method, target.path, headers) == head


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:5001/score", ("http", "127.0.0.1", 5001, "/score", "127.0.0.1:5001")),
        ("http://localhost/", ("http", "localhost", 80, "/", "localhost")),
        ("https://example.org/score?x=1", ("https", "example.org", 443, "/score?x=1", "example.org")),
        ("https://example.org:8443/a", ("https", "example.org", 8443, "/a", "example.org:8443")),
        ("127.0.0.1:5001/score", ("http", "127.0.0.1", 5001, "/score", "127.0.0.1:5001")),
        ("http://[::1]:8080/s", ("http", "::1", 8080, "/s", "[::1]:8080")),
        ("http://127.0.0.1:5001", ("http", "127.0.0.1", 5001, "/", "127.0.0.1:5001")),
    ],
)
def test_url_is_split_as_ab_does(url: str, expected: tuple[object, ...]) -> None:
    target = parse_ab_url(url)

    assert (target.scheme, target.host, target.port, target.path, target.host_header) == expected


@pytest.mark.parametrize("url", ["ftp://x/", "http://:80/", "http://127.0.0.1:99999/", "http://u:p@host/"])
def test_bad_urls_are_usage_errors(url: str) -> None:
    error = _error([url])

    assert "invalid URL" in error.message
    assert error.exit_code == EXIT_USAGE
    assert "p@host" not in error.message or "credentials" in error.message


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--arrivals", "poisson", URL], "--arrivals poisson needs --rate R"),
        (["--expect-workers", "2", URL], "--expect-workers needs --master"),
    ],
)
def test_options_that_would_be_ignored_are_refused(argv: list[str], named: str) -> None:
    error = _error(argv)

    assert named in error.message
    assert error.exit_code == EXIT_USAGE
    assert parse_ab_args(["--arrivals", "poisson", "--sweep", "rate=10,20", URL]).arrivals == "poisson"


def test_help_and_version_stop_parsing() -> None:
    assert parse_ab_args(["-n", "5", "-h", "-c", "not-checked"]) == AbOptions(show_help=True)
    assert parse_ab_args(["--help"]).show_help
    assert parse_ab_args(["-V"]) == AbOptions(show_version=True)


def test_url_may_be_left_to_the_deployment() -> None:
    assert parse_ab_args(["-n", "10"]).url is None
    assert parse_ab_args(["--deployment", "local", "-n", "10"]).deployment == "local"
    assert parse_ab_args(["-n", "10"]).target() is None


def test_usage_lists_ab_flags_and_ours() -> None:
    usage = format_usage("bankscore-bench")

    for flag in "nctspuTviCHAPXVkdSqlgermh":
        assert f"\n    -{flag} " in usage, flag
    for option in ("--rate", "--arrivals", "--key", "--deployment", "--threshold", "--max-time", "--ab-strict"):
        assert f"\n    {option} " in usage, option
    assert "ApacheBench" not in usage


# Real ab: the same command lines must fail with the same exit status (ab exits before any network use).
@pytest.mark.skipif(shutil.which("ab") is None, reason="ab is not installed (apt-get install apache2-utils)")
@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "0", "http://127.0.0.1:9/"],
        ["-n", "5", "-c", "10", "http://127.0.0.1:9/"],
        ["-c", "1000000", "-n", "2000000", "http://127.0.0.1:9/"],
        ["http://127.0.0.1:9/", "http://127.0.0.1:9/"],
        ["-n"],
        ["-i", "-p", "/dev/null", "http://127.0.0.1:9/"],
        ["http://127.0.0.1:99999/"],
    ],
)
def test_exit_codes_match_real_ab(argv: list[str]) -> None:
    proc = subprocess.run(["ab", *argv], capture_output=True, text=True, timeout=30, check=False)

    assert proc.returncode == _error(argv).exit_code
