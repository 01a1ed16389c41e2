"""What the base install costs, for two revisions side by side: packages, size on disk, import time.

    python benchmarks/client_footprint.py [--base REV] [--head REV] [--rounds 7]

Each revision is checked out into a scratch worktree, built as a wheel and installed without extras into a
fresh venv (uv, so both get the same resolver). Then, alternating between the two venvs for --rounds rounds:
`python -X importtime -c "import bankscore"` (cumulative microseconds of the bankscore line) and the wall time
of `import bankscore; bankscore.Client` measured inside the process. Medians are reported; every round is in
benchmarks/results/client_footprint.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "client_footprint.json"
CLIENT_TIME = (
    "import time; t = time.perf_counter(); import bankscore; bankscore.Client; print((time.perf_counter() - t) * 1000)"
)


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        sys.exit("uv is needed (it is in the test dependency group)")
    return found


def _install(rev: str, scratch: Path) -> Path:
    tree, dist, venv = scratch / f"tree-{rev}", scratch / f"dist-{rev}", scratch / f"venv-{rev}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev], check=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(tree)], check=True
        )
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    (wheel,) = dist.glob("bankscore-*.whl")
    subprocess.run([_uv(), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run([_uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)], check=True)
    # Compile once, so that no round pays for writing .pyc files.
    subprocess.run([venv / "bin" / "python", "-c", "import bankscore; bankscore.Client"], check=True)
    return venv


def _footprint(venv: Path) -> dict[str, object]:
    site = next((venv / "lib").glob("python3.*/site-packages"))
    listed = subprocess.run(
        [_uv(), "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return {"packages": sorted(p["name"] for p in json.loads(listed.stdout)), "site_packages_bytes": size}


def _import_us(venv: Path) -> int:
    proc = subprocess.run(
        [venv / "bin" / "python", "-X", "importtime", "-c", "import bankscore"],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.rstrip().endswith("| bankscore"))
    return int(line.split("|")[1])


def _client_ms(venv: Path) -> float:
    proc = subprocess.run([venv / "bin" / "python", "-c", CLIENT_TIME], capture_output=True, text=True, check=True)
    return float(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="3fe93ae", help="the revision to compare with")
    parser.add_argument("--head", default="HEAD", help="the revision measured")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    revs = {"base": args.base, "head": args.head}
    with tempfile.TemporaryDirectory(prefix="bankscore-footprint-") as tmp:
        venvs = {label: _install(rev, Path(tmp)) for label, rev in revs.items()}
        rounds: dict[str, dict[str, list[float]]] = {label: {"import_us": [], "client_ms": []} for label in revs}
        for _ in range(args.rounds):
            for label, venv in venvs.items():  # alternating: both see the same machine
                rounds[label]["import_us"].append(_import_us(venv))
                rounds[label]["client_ms"].append(_client_ms(venv))
        results: dict[str, dict[str, Any]] = {
            label: {
                "rev": revs[label],
                **_footprint(venvs[label]),
                "import_us_median": statistics.median(rounds[label]["import_us"]),
                "client_ms_median": statistics.median(rounds[label]["client_ms"]),
                "rounds": rounds[label],
            }
            for label in revs
        }
    base, head = results["base"], results["head"]
    print(f"{'':28}{'base ' + args.base:>18}{'head ' + args.head:>18}{'head/base':>11}")
    for key, unit, scale in (
        ("site_packages_bytes", "MB", 1e6),
        ("import_us_median", "ms", 1e3),
        ("client_ms_median", "ms", 1.0),
    ):
        b, h = float(base[key]) / scale, float(head[key]) / scale
        print(f"{key:28}{b:>15.1f} {unit}{h:>15.1f} {unit}{h / b:>11.2f}")
    print(f"{'packages':28}{len(base['packages']):>18}{len(head['packages']):>18}")
    gone = sorted(set(base["packages"]) - set(head["packages"]))
    added = sorted(set(head["packages"]) - set(base["packages"]))
    print(f"only in base: {', '.join(gone) or '-'}; only in head: {', '.join(added) or '-'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": platform.processor()}
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine, "results": results}
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
