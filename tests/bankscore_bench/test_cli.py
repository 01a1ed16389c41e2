"""``bankscore-bench`` end to end: ab's command line in, ab's report and our files out, real ab side by side."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bankscore_tests_loopback import Answer, Request, free_port, serve

from bankscore_bench.cli import run_cli

BENCH = [sys.executable, "-c", "from bankscore_bench.cli import main; main()"]


def _bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _field(report: str, name: str) -> str:
    """The value of one ab report line ("Complete requests:      300" -> "300")."""
    match = re.search(rf"^{re.escape(name)}:\s+(.*)$", report, re.MULTILINE)
    assert match is not None, f"no {name!r} line in:\n{report}"
    return match.group(1).strip()


def test_help_and_version_need_no_target() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_cli(["-h"], stdout=out, stderr=err) == 0
    assert "Usage: bankscore-bench [options] [http[s]://]hostname[:port]/path" in out.getvalue()
    assert "--rate" in out.getvalue()
    out = io.StringIO()
    assert run_cli(["-V"], stdout=out, stderr=err) == 0
    assert out.getvalue().startswith("bankscore-bench ")


def test_unknown_flag_is_refused_with_usage_and_abs_exit_code() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_cli(["-j", "http://127.0.0.1:9/"], stdout=out, stderr=err) == 22
    assert "invalid option -- 'j'" in err.getvalue()
    assert "Usage:" in err.getvalue()
    assert out.getvalue() == ""


def test_a_missing_body_file_is_named(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    missing = tmp_path / "nope.json"
    code = run_cli(["-n", "1", "-p", str(missing), "http://127.0.0.1:9/score"], stdout=out, stderr=err)
    assert code == 1
    assert str(missing) in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_bad_threshold_is_named_before_anything_runs() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(["-n", "1", "--threshold", "p99<=fast", "http://127.0.0.1:9/"], stdout=out, stderr=err)
    assert code == 1
    assert "p99<=fast" in err.getvalue()
    assert out.getvalue() == ""


@pytest.mark.parametrize("flag", ["-e", "-g", "--json", "--html", "--csv"])
def test_an_output_in_a_missing_folder_is_named_before_the_run(flag: str, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    missing = tmp_path / "no-such-folder" / "report"
    code = run_cli(["-n", "1", flag, str(missing), "http://127.0.0.1:9/"], stdout=out, stderr=err)
    assert code == 1
    assert (
        err.getvalue()
        == f"bankscore-bench: {flag} {str(missing)!r}: the folder {str(missing.parent)!r} does not exist\n"
    )
    assert out.getvalue() == ""  # nothing ran


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ab") is None, reason="needs Apache Bench (apt-get install apache2-utils)")
def test_same_target_same_flags_as_ab_field_by_field(target_url: str) -> None:
    url = f"{target_url}/"
    flags = ["-n", "300", "-c", "4", "-k"]
    ab = subprocess.run(["ab", *flags, url], capture_output=True, text=True, timeout=120, check=True)
    ours = _bench(*flags, url)
    assert ours.returncode == 0, ours.stderr
    for name in (
        "Server Hostname",
        "Server Port",
        "Document Path",
        "Document Length",
        "Concurrency Level",
        "Complete requests",
        "Failed requests",
        "Keep-Alive requests",
        "HTML transferred",
    ):
        assert _field(ours.stdout, name) == _field(ab.stdout, name), name

    # The same summary and table lines, in the same order (the WARNING lines depend on the samples).
    def names(report: str) -> list[str]:
        lines = report.split("Server Software:")[1].split("Percentage of the requests", maxsplit=1)[0].splitlines()
        return [line.split(":")[0] for line in lines if ":" in line and not line.startswith(("WARNING", "ERROR"))]

    assert names(ours.stdout) == names(ab.stdout)
    assert "Finished 300 requests" in ours.stderr
    # The banner has ab's line count: three lines and one blank line before "Benchmarking".
    assert ours.stdout.split("Benchmarking")[0].count("\n") == ab.stdout.split("Benchmarking")[0].count("\n")


@pytest.mark.slow
def test_seed_benchmark_command_with_a_body_file(target_url: str, tmp_path: Path) -> None:
    body = tmp_path / "data.json"
    body.write_text('{"data": [{"age": 40}]}')
    result = _bench(
        "-n", "10", "-v", "4", "-p", str(body), "-T", "application/json",
        "-H", "Authorization: Bearer not-shown-anywhere", f"{target_url}/score",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "Complete requests") == "10"
    assert _field(result.stdout, "Failed requests") == "0"
    assert _field(result.stdout, "Total body sent").isdigit()
    assert "bankscore-bench summary" in result.stdout


@pytest.mark.slow
def test_outputs_thresholds_and_exit_codes(target_url: str, tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    files = {
        "-e": tmp_path / "p.csv",
        "-g": tmp_path / "g.tsv",
        "--json": tmp_path / "r.json",
        "--html": tmp_path / "r.html",
    }
    args = [flag_value for flag, path in files.items() for flag_value in (flag, str(path))]
    result = _bench(
        "-n", "200", "-c", "2", "-k", *args, "--csv", str(prefix), "--timeline",
        "--threshold", "errors<=1%", "--threshold", "p(99)<1us", f"{target_url}/",
    )  # fmt: skip
    assert result.returncode == 99, result.stderr
    assert re.search(r"FAIL\s+p\(99\)<1us", result.stdout)
    assert re.search(r"pass\s+errors<=1%", result.stdout)
    report = json.loads(files["--json"].read_text())
    assert report["summary"]["requests"] == 200
    assert report["thresholds_passed"] is False
    with (tmp_path / "run_requests.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 200
    assert len(files["-e"].read_text().splitlines()) == 102  # header + 0..100
    assert len(files["-g"].read_text().splitlines()) == 201
    assert "<svg" in files["--html"].read_text()
    passing = _bench("-n", "50", "--threshold", "errors<=1%", "-q", f"{target_url}/")
    assert passing.returncode == 0, passing.stderr


@pytest.mark.slow
def test_open_loop_reports_the_corrected_view(target_url: str) -> None:
    result = _bench("-n", "200", "--rate", "200", "--arrivals", "poisson", "--seed", "3", f"{target_url}/")
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "Complete requests") == "200"
    assert "corrected latency" in result.stdout
    assert "open loop: late" in result.stdout


@pytest.mark.slow
def test_concurrency_sweep_finds_a_level_meeting_the_slo(target_url: str, tmp_path: Path) -> None:
    out, html = tmp_path / "sweep.json", tmp_path / "sweep.html"
    result = _bench(
        "-n", "300", "--sweep", "concurrency=1,2,4", "--slo", "errors<=1%", "--json", str(out),
        "--html", str(html), f"{target_url}/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sweep = json.loads(out.read_text())["sweep"]
    assert [point["level"] for point in sweep["points"]] == [1, 2, 4]
    assert sweep["best_level"] in (1, 2, 4)
    # The summary after the sweep table, and the report's summary sections, say which run they describe.
    assert "The summary below is the sweep's last run (concurrency 4)." in result.stdout
    assert "describe the last run of the sweep (concurrency 4, trial" in html.read_text()


@pytest.mark.slow
def test_nothing_answers_exit_one_with_the_failures_reported(target_refused_url: str) -> None:
    result = _bench("-n", "5", target_refused_url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert _field(result.stdout, "Failed requests") == "5"


@pytest.mark.slow
def test_ctrl_c_writes_the_partial_report(target_url: str, tmp_path: Path) -> None:
    out = tmp_path / "partial.json"
    proc = subprocess.Popen(
        [*BENCH, "-n", "5000000", "-t", "60", "-c", "2", "-k", "--json", str(out), f"{target_url}/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    done = int(_field(stdout, "Complete requests"))
    assert 0 < done < 5_000_000
    assert json.loads(out.read_text())["summary"]["requests"] >= done


@pytest.mark.slow
def test_local_workers_run_exactly_n_requests(target_url: str, tmp_path: Path) -> None:
    out = tmp_path / "workers.json"
    result = _bench("-n", "600", "-c", "4", "-k", "--workers", "2", "--json", str(out), f"{target_url}/")
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "Complete requests") == "600"
    assert json.loads(out.read_text())["summary"]["requests"] == 600


@pytest.mark.slow
def test_master_and_worker_commands_on_loopback(target_url: str, tmp_path: Path) -> None:
    port = free_port()
    common = ["-n", "400", "-c", "2", "-k", "--master-host", "127.0.0.1", "--master-port", str(port)]
    master = subprocess.Popen(
        [*BENCH, *common, "--master", "--expect-workers", "2", f"{target_url}/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    logs = [(tmp_path / f"worker{i}.log").open("w") for i in range(2)]
    workers = [
        subprocess.Popen([*BENCH, *common, "--worker", f"{target_url}/"], stdout=log, stderr=subprocess.STDOUT)
        for log in logs
    ]
    try:
        stdout, stderr = master.communicate(timeout=120)
        for worker in workers:
            worker.wait(timeout=60)
    finally:
        for proc in (master, *workers):
            proc.kill()
        for log in logs:
            log.close()
    assert master.returncode == 0, stderr
    assert _field(stdout, "Complete requests") == "400"
    assert [worker.returncode for worker in workers] == [0, 0], (tmp_path / "worker0.log").read_text()


@pytest.mark.slow
def test_custom_method_and_verbose_lines_as_ab_prints_them(target_url: str) -> None:
    # ab sends any -m method verbatim; the target answers DELETE with 501, which ab counts as Non-2xx.
    result = _bench("-n", "2", "-m", "DELETE", "-v", "3", f"{target_url}/")
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "Non-2xx responses") == "2"
    assert "DELETE / HTTP/1.1\n" in result.stdout  # (text=True reads ab's CRLFs as newlines)
    # ab: the response head at -v 2, then the warning after it; the body follows the head's blank line.
    assert "Content-Length: 359\n\n<!DOCTYPE HTML>" in result.stdout
    assert "</html>\n\nWARNING: Response code not 2xx (501)\n" in result.stdout  # ab: the dump, then one newline
    ok = _bench("-n", "1", "-v", "3", f"{target_url}/")
    assert "\nLOG: Response code = 200\n" in ok.stdout
    assert "LOG: Response code" not in _bench("-n", "1", "-v", "2", f"{target_url}/").stdout


def test_a_scoring_url_nobody_listens_on_is_named_without_a_wrong_hint(target_refused_url: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_cli(["-n", "3", f"{target_refused_url}score"], stdout=out, stderr=err) == 1
    assert "Connection refused" in err.getvalue()
    assert "--generation" not in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_verbose_output_redacts_a_key_the_server_echoes() -> None:
    key = "bk-EchoedKey-9d7b5f3e1a2c4086Zy"

    def echo(request: Request) -> Answer:
        sent = request.headers.get("Authorization", "")
        return 200, {"X-Echoed-Authorization": sent}, f'{{"you sent": "{sent}"}}'.encode()

    with serve(echo) as url:
        result = _bench("-n", "2", "-v", "4", "-H", f"Authorization: Bearer {key}", url + "/")
    assert result.returncode == 0, result.stderr
    assert "X-Echoed-Authorization: <redacted>" in result.stdout  # the echo is shown, the key is not
    assert key not in result.stdout + result.stderr


def _unauthorized(request: Request) -> Answer:
    """A keyed endpoint called without its key: every request answers 401, quickly."""
    return 401, b'{"message": "Unauthorized"}'


def test_a_latency_threshold_cannot_pass_a_run_in_which_every_request_failed() -> None:
    with serve(_unauthorized, keep_alive=True) as url:
        proc = _bench("-n", "50", "--rate", "500", "--generation", "C", "--threshold", "p(99)<50", url + "/score")
    assert proc.returncode == 99, proc.stderr
    assert "errors 50 = 100.00% (HTTP 401 x50)" in proc.stdout
    assert "thresholds (latency of successful requests only): FAILED" in proc.stdout
    assert "FAIL  p(99)<50             actual no successful request" in proc.stdout
    reasons = [line for line in proc.stderr.splitlines() if "threshold failed" in line]
    assert reasons == [
        "bankscore-bench: threshold failed: p(99)<50: no request succeeded: nothing to measure",
        "bankscore-bench: threshold failed: http_req_failed<0.01 (default): 50 of 50 requests failed: HTTP 401 x50",
        "bankscore-bench: threshold failed: ok>0 (default): no request succeeded (50 of 50 requests failed: "
        "HTTP 401 x50)",
    ]
