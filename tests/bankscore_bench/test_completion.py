"""Shell completion: the script bankscore-bench prints, sourced in a real bash; zsh and fish scripts by shape."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from bankscore_bench._aboptions import OPTIONS
from bankscore_bench._completion import completion_script

BASH = shutil.which("bash")


def _printed(request: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "_BANKSCORE_BENCH_COMPLETE": request}
    command = [sys.executable, "-c", "from bankscore_bench.cli import main; main()"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def _complete(script: str, *words: str) -> list[str]:
    """What bash offers for the last of ``words`` after sourcing the script."""
    assert BASH is not None
    quoted = " ".join("'" + word + "'" for word in words)
    program = (
        f'source /dev/stdin <<"EOF"\n{script}EOF\n'
        f"COMP_WORDS=(bankscore-bench {quoted}); COMP_CWORD={len(words)}\n"
        '_bankscore_bench_complete; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run([BASH, "-c", program], capture_output=True, text=True, timeout=30, check=True)
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.skipif(BASH is None, reason="no bash on this machine")
def test_bash_completes_flags_and_choices_from_the_printed_script() -> None:
    printed = _printed("bash_source")
    assert printed.returncode == 0, printed.stderr
    script = printed.stdout
    assert _complete(script, "--ra") == ["--rate"]
    assert _complete(script, "--th") == ["--threshold"]
    assert _complete(script, "--generation", "") == ["A", "B", "C", "D", "auto"]
    assert _complete(script, "--arrivals", "p") == ["poisson"]
    offered = set(_complete(script, "-"))
    assert {"-n", "-c", "-k", "--key", "--html", "--locustfile"} <= offered
    assert "-w" not in offered  # refused ab flags are not offered


def test_every_listed_option_is_in_each_script_once() -> None:
    listed = [spec for spec in OPTIONS if spec.help]
    zsh, fish = completion_script("zsh"), completion_script("fish")
    for spec in listed:
        if spec.long:
            assert fish.count(f"-l '{spec.long}'") == 1, spec.long
            assert zsh.count(f"--{spec.long}[") + zsh.count(f",--{spec.long}}}") == 1, spec.long
        if spec.short:
            assert fish.count(f"-s '{spec.short}'") == 1, spec.short
    assert zsh.startswith("#compdef bankscore-bench\n")


def test_an_unknown_shell_is_named() -> None:
    printed = _printed("tcsh_source")
    assert printed.returncode == 2
    assert "tcsh_source" in printed.stderr and "bash_source, zsh_source, fish_source" in printed.stderr
    with pytest.raises(ValueError, match="tcsh"):
        completion_script("tcsh")
