"""Golden outputs of ab's command line: usage text, parse results and error messages, recorded byte for byte.

The recording pins what a user sees, so that a change to how the options are declared cannot change it
unnoticed. To record again after an intended change: ``python tests/bankscore_bench/test_abargs_golden.py``,
then review the diff of ``fixtures/abargs_golden.json``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from pathlib import Path

import pytest

from bankscore_bench._abargs import parse_ab_args
from bankscore_bench._aboptions import AbOptions, AbUsageError, format_usage
from bankscore_bench.cli import run_cli

GOLDEN = Path(__file__).parent / "fixtures" / "abargs_golden.json"
URL = "http://127.0.0.1:5001/score"
SECRET = "bk-SecretKey-7f3e9a1c"

# Every option getopt is told about, so that a vector list that misses one fails below.
SHORT_FLAGS = "nctsbTpuvlrkVhwiIxyzCHPAgXdeSqBmZfE"
LONG_OPTIONS = [
    "rate",
    "arrivals",
    "batch-size",
    "generation",
    "proba",
    "seed",
    "workers",
    "master",
    "worker",
    "master-host",
    "master-port",
    "expect-workers",
    "sweep",
    "slo",
    "threshold",
    "json",
    "csv",
    "html",
    "timeline",
    "warmup",
    "ab-strict",
    "key",
    "deployment",
    "model-deployment",
    "max-time",
    "help",
    "version",
    "locustfile",
]

_VECTORS: list[list[str]] = [
    # ab's flags, one at a time, good and bad values
    [URL],
    [],
    ["-n", "10", URL],
    ["-n100", URL],
    ["-n", " 7", URL],
    ["-n", "+5", URL],
    ["-n", "1_000", URL],
    ["-n", "007", URL],
    ["-n", "0x10", URL],
    ["-n", "0", URL],
    ["-n", "-5", URL],
    ["-n", "abc", URL],
    ["-n", "", URL],
    ["-n", "1.5", URL],
    ["-c", "8", "-n", "8", URL],
    ["-c", "200000", "-n", "200000", URL],
    ["-c", "200001", "-n", "300000", URL],
    ["-c", "0", URL],
    ["-c", "-1", URL],
    ["-c", "x", URL],
    ["-c", "", URL],
    ["-t", "2", URL],
    ["-t", "0.5", URL],
    ["-t", "1e3", URL],
    ["-t", "0", URL],
    ["-t", "-1", URL],
    ["-t", "nan", URL],
    ["-t", "inf", URL],
    ["-t", "abc", URL],
    ["-s", "5", URL],
    ["-s", "0.25", URL],
    ["-s", "0", URL],
    ["-s", "soon", URL],
    ["-s", "inf", URL],
    ["-b", "1024", URL],
    ["-B", "127.0.0.1", URL],
    ["-w", URL],
    ["-x", "border=1", URL],
    ["-y", "bgcolor=white", URL],
    ["-z", "bgcolor=white", URL],
    ["-I", URL],
    ["-Z", "AES128-SHA", URL],
    ["-f", "TLS1.2", URL],
    ["-E", "cert.pem", URL],
    ["-T", "application/json", URL],
    ["-T", "", URL],
    ["-T", "   ", URL],
    ["-p", "data.json", URL],
    ["-p", "", URL],
    ["-p", "a.json", "-p", "b.json", URL],
    ["-u", "body.json", URL],
    ["-i", URL],
    ["-i", "-i", URL],
    ["-p", "a.json", "-u", "b.json", URL],
    ["-u", "b.json", "-p", "a.json", URL],
    ["-p", "a.json", "-i", URL],
    ["-i", "-p", "body.json", URL],
    ["-i", "-u", "body.json", URL],
    ["-m", "PATCH", URL],
    ["-m", "patch", "-p", "body.json", URL],
    ["-m", "GET STUFF", URL],
    ["-m", "", URL],
    ["-m", "PATCH", "-i", URL],
    ["-v", "4", URL],
    ["-v", "-1", URL],
    ["-v", "loud", URL],
    ["-v", "", URL],
    ["-l", URL],
    ["-r", URL],
    ["-k", URL],
    ["-q", URL],
    ["-d", URL],
    ["-S", URL],
    ["-C", "a=1", URL],
    ["-C", "a=1", "-C", "b=2", URL],
    ["-C", SECRET, URL],
    ["-H", "X-Api-Key: demo", URL],
    ["-H", "X-A: 1", "-H", "X-B:2", "-H", "X-A:  3  ", URL],
    ["-H", SECRET, URL],
    ["-H", ": value", URL],
    ["-H", "Bad Name: value", URL],
    ["-H", "Host: example.org", "-H", "User-Agent: me", "-H", "Accept: text/csv", URL],
    ["-A", "user:pass", URL],
    ["-A", " user:pass", URL],
    ["-A", SECRET, URL],
    ["-P", "proxy:secret", URL],
    ["-P", SECRET, URL],
    ["-X", "proxy:3128", URL],
    ["-X", "proxy", URL],
    ["-X", ":80", URL],
    ["-X", "proxy:abc", URL],
    ["-X", "proxy:0", URL],
    ["-X", "proxy:70000", URL],
    ["-X", "proxy:65535", URL],
    ["-X", "[::1]:8080", URL],
    ["-g", "out.tsv", URL],
    ["-g", "", URL],
    ["-e", "out.csv", URL],
    ["-e", "", URL],
    # getopt's grammar: clusters, attached values, options after the URL, "--"
    ["-kc", "10", "-n", "10", URL],
    ["-kc10", "-n10", URL],
    ["-kc8", "-n100", URL],
    ["-ck", URL],
    ["-kqlSd", URL],
    ["-ikc", "2", "-n", "2", URL],
    ["-c4", "-n", "8", "-v2", "-s5", URL],
    [URL, "-n", "5", "-k"],
    ["--", URL],
    [URL, "--", "-n"],
    ["-", URL],
    ["-n", "5", "-n", "6", URL],
    ["-t", "2", "-c", "10", URL],
    ["-n", "100", "-t", "2", URL],
    ["-t", "2", "-n", "100", URL],
    ["-n", "5", "-c", "10", URL],
    # -h, -V and --locustfile stop before anything else is checked; getopt's errors come first
    ["-h"],
    ["--help"],
    ["-V"],
    ["--version"],
    ["--locustfile"],
    ["-n", "5", "-h", "-c", "not-checked"],
    ["-c", "bad", "-V"],
    ["--locustfile", "-h"],
    ["-V", "-h"],
    ["-h", "-j"],
    ["--help=1"],
    ["--he"],
    ["--ver"],
    ["--loc"],
    # getopt's own errors
    ["-j", URL],
    ["--nope", URL],
    ["-n"],
    ["-kc"],
    ["--rate"],
    ["--proba=1", URL],
    ["--timeline=yes", URL],
    ["--ma", URL],
    ["--m", URL],
    ["--mas", URL],
    ["--master-h", "h", "--worker"],
    ["--dep", "local"],
    ["--w", "2", URL],
    [URL, URL],
    # bankscore-bench's long options
    ["--rate", "50", URL],
    ["--rate=50", URL],
    ["--rat", "5", URL],
    ["--rate", "-5", URL],
    ["--rate", "nan", URL],
    ["--rate", "0", URL],
    ["--rate", "inf", URL],
    ["--rate", "abc", URL],
    ["--arrivals", "poisson", "--rate", "1", URL],
    ["--arrivals", "POISSON", "--rate", "1", URL],
    ["--arrivals", "constant", URL],
    ["--arrivals", "burst", URL],
    ["--arrivals", "poisson", URL],
    ["--arrivals", "poisson", "--sweep", "rate=10,20", URL],
    ["--arrivals", "poisson", "--sweep", "  rate=10", URL],
    ["--batch-size", "20", URL],
    ["--batch-size", "0", URL],
    ["--batch-size", "x", URL],
    ["--batch-size", "20000", URL],
    ["--generation", "b", URL],
    ["--generation", "D", URL],
    ["--generation", "AUTO", URL],
    ["--generation", "E", URL],
    ["--generation", "", URL],
    ["--proba", URL],
    ["--seed", "0", URL],
    ["--seed", "7", URL],
    ["--seed", "-1", URL],
    ["--workers", "3", "-n", "30", URL],
    ["--workers", "0", URL],
    ["--workers", "two", URL],
    ["--master", "-n", "10", URL],
    ["--worker"],
    ["--master", "--worker"],
    ["--worker", "--master-host", "10.0.0.5"],
    ["--master-host", "", URL],
    ["--master-host", " ", URL],
    ["--master-port", "6000", URL],
    ["--master-port", "70000", URL],
    ["--master-port", "0", URL],
    ["--master-port", "x", URL],
    ["--master", "--expect-workers", "2", "--master-port", "6000", "-n", "10", URL],
    ["--expect-workers", "2", URL],
    ["--expect-workers", "0", "--master", URL],
    ["--sweep", "c=1,2,4", URL],
    ["--sweep", "", URL],
    ["--slo", "p99<50ms", URL],
    ["--slo", "  ", URL],
    ["--threshold", "p(95)<200", "--threshold", "errors<=1%", URL],
    ["--threshold", "", URL],
    ["--json", "out.json", URL],
    ["--json", "", URL],
    ["--csv", "run", URL],
    ["--csv=", URL],
    ["--html", "report.html", URL],
    ["--html", "", URL],
    ["--timeline", URL],
    ["--warmup", "0", URL],
    ["--warmup", "10", URL],
    ["--warmup", "some", URL],
    ["--warmup", "-1", URL],
    ["--ab-strict", URL],
    ["--key", SECRET, URL],
    ["--key", "", URL],
    ["--key", "  ", URL],
    ["--key", SECRET, "-A", "user:pass", URL],
    ["--key", SECRET, "-H", "Authorization: Bearer other", URL],
    ["-A", "user:pass", "-H", "authorization: Bearer other", URL],
    ["--key", SECRET, "-A", "user:pass", "-H", "Authorization: x", URL],
    ["--deployment", "local"],
    ["--deployment", "local", "-n", "10"],
    ["--deployment", "local", URL],
    ["--deployment", ""],
    ["--model-deployment", "blue", URL],
    ["--model-deployment", "bad name", URL],
    ["--model-deployment", "", URL],
    ["--model-deployment", "blue", "-H", "azureml-model-deployment: green", URL],
    ["--model-deployment", "blue", "-H", "Azureml-Model-Deployment: blue", URL],
    ["--max-time", "30", URL],
    ["--max-time", "inf", URL],
    ["--max-time", "0", URL],
    # URLs
    ["ftp://example.org/", "-n", "1"],
    ["http://:80/"],
    ["http://127.0.0.1:99999/"],
    ["http://u:p@host/"],
    ["http://127.0.0.1:5001"],
    ["127.0.0.1:5001/score"],
    ["http://[::1]:8080/s"],
    ["https://example.org/score?x=1"],
    [""],
    # everything at once
    [
        "-n",
        "500",
        "--rate",
        "50",
        "--arrivals=poisson",
        URL,
        "-kc",
        "4",
        "--threshold",
        "p(95)<200",
        "--batch-size",
        "20",
        "--generation",
        "b",
        "--proba",
        "--seed",
        "7",
        "--warmup",
        "10",
        "--json",
        "out.json",
        "--csv",
        "run",
        "--html",
        "report.html",
        "--timeline",
        "--ab-strict",
        "--max-time",
        "30",
        "--sweep",
        "c=1,2,4",
        "--slo",
        "p99<50ms",
        "-v",
        "2",
        "-p",
        "post.json",
        "-T",
        "application/json",
        "-H",
        "X-Api-Key: demo",
        "-C",
        "a=1",
        "-P",
        "proxy:secret",
        "-X",
        "proxy:3128",
        "-g",
        "g.tsv",
        "-e",
        "e.csv",
        "-lrqdS",
        "-s",
        "9",
        "--model-deployment",
        "blue",
        "--key",
        SECRET,
    ],
]
# The same mistakes under another program name: the name is part of every message and of the usage text.
_AB_PROG_VECTORS: list[list[str]] = [["-j"], ["-n", "0", URL], ["--rate", "x", URL], ["http://:80/"], ["-w", URL]]


def _key(argv: list[str], prog: str) -> str:
    return json.dumps([prog, *argv])


def _options_record(options: AbOptions) -> dict[str, str]:
    """The fields that differ from the recorded defaults, each as its repr (so 1 and 1.0 differ)."""
    defaults = _defaults()
    return {
        field.name: repr(getattr(options, field.name))
        for field in dataclasses.fields(options)
        if repr(getattr(options, field.name)) != defaults.get(field.name)
    }


def _defaults() -> dict[str, str]:
    return {field.name: repr(getattr(AbOptions(), field.name)) for field in dataclasses.fields(AbOptions)}


def _record(argv: list[str], prog: str) -> dict[str, object]:
    try:
        options = parse_ab_args(argv, prog=prog)
    except AbUsageError as error:
        return {
            "error": error.message,
            "exit_code": error.exit_code,
            "usage_is_standard": error.usage == format_usage(prog),
        }
    return {"options": _options_record(options), "secret_in_repr": SECRET in repr(options)}


def _hidden() -> list[str]:
    return sorted(field.name for field in dataclasses.fields(AbOptions) if not field.repr)


def _cli(argv: list[str]) -> dict[str, object]:
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(argv, stdout=out, stderr=err)
    return {"exit_code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


_CLI_VECTORS: list[list[str]] = [["--help"], ["-h"], ["-n", "5", "-h"], ["-j"], ["-n", "0", URL], ["-c", "x", URL]]


def _capture() -> dict[str, object]:
    return {
        "usage": {prog: format_usage(prog) for prog in ("bankscore-bench", "ab")},
        "default_usage": format_usage(),
        "defaults": _defaults(),
        "repr_hidden": _hidden(),
        "cli": {_key(argv, "bankscore-bench"): _cli(argv) for argv in _CLI_VECTORS},
        "parse": {
            **{_key(argv, "bankscore-bench"): _record(argv, "bankscore-bench") for argv in _VECTORS},
            **{_key(argv, "ab"): _record(argv, "ab") for argv in _AB_PROG_VECTORS},
        },
    }


@pytest.fixture(scope="module")
def golden() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return loaded


def test_vectors_use_every_option() -> None:
    words = {word for argv in _VECTORS for word in argv}
    for letter in SHORT_FLAGS:
        assert any(word.startswith("-") and not word.startswith("--") and letter in word for word in words), letter
    for name in LONG_OPTIONS:
        assert any(word.split("=")[0] == f"--{name}" for word in words), name
    assert len({_key(argv, "") for argv in _VECTORS}) == len(_VECTORS), "a vector is listed twice"


def test_usage_text_is_unchanged(golden: dict[str, object]) -> None:
    assert {prog: format_usage(prog) for prog in ("bankscore-bench", "ab")} == golden["usage"]
    assert format_usage() == golden["default_usage"]


def test_fields_defaults_and_hidden_fields_are_unchanged(golden: dict[str, object]) -> None:
    assert _defaults() == golden["defaults"]
    assert _hidden() == golden["repr_hidden"]


@pytest.mark.parametrize("argv", [*_VECTORS, *(["--prog=ab", *argv] for argv in _AB_PROG_VECTORS)], ids=repr)
def test_parse_result_or_error_is_unchanged(argv: list[str], golden: dict[str, object]) -> None:
    prog = "bankscore-bench"
    if argv[:1] == ["--prog=ab"]:
        prog, argv = "ab", argv[1:]
    recorded = golden["parse"]
    assert isinstance(recorded, dict)

    assert _record(argv, prog) == recorded[_key(argv, prog)]


@pytest.mark.parametrize("argv", _CLI_VECTORS, ids=repr)
def test_cli_help_and_errors_are_unchanged(argv: list[str], golden: dict[str, object]) -> None:
    recorded = golden["cli"]
    assert isinstance(recorded, dict)

    assert _cli(argv) == recorded[_key(argv, "bankscore-bench")]


def test_every_recorded_vector_is_still_checked(golden: dict[str, object]) -> None:
    recorded = golden["parse"]
    assert isinstance(recorded, dict)
    listed = {_key(argv, "bankscore-bench") for argv in _VECTORS} | {_key(argv, "ab") for argv in _AB_PROG_VECTORS}
    assert set(recorded) == listed


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(_capture(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {GOLDEN}\n")
