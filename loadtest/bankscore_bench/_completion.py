"""Shell completion for bankscore-bench, written from the option table (bash, zsh and fish).

It is asked for as click asks ``bankscore`` for its own: ``_BANKSCORE_BENCH_COMPLETE=bash_source
bankscore-bench`` prints a script to source. Completion is static (the flags and their help come from the same
table as parsing and ``-h``), so the script never runs bankscore-bench while the user types. Options whose value
names a file complete file names; ``--generation`` and ``--arrivals`` complete their choices.
"""

from __future__ import annotations

from typing import Final

from bankscore_bench._aboptions import ARRIVALS, GENERATIONS, OPTIONS
from bankscore_bench._abspec import OptionSpec

__all__ = ["COMPLETE_VARIABLE", "SHELLS", "completion_script"]

COMPLETE_VARIABLE: Final = "_BANKSCORE_BENCH_COMPLETE"
SHELLS: Final = ("bash", "zsh", "fish")
PROG: Final = "bankscore-bench"
# Values that are one of a few words: the parser's own choices, by the field they set.
_CHOICES: Final = {"generation": GENERATIONS, "arrivals": ARRIVALS}
# Values that name a file: the script lets the shell complete paths for these.
_FILE_FIELDS: Final = frozenset({"post_file", "put_file", "gnuplot_file", "csv_file", "json_file", "html_file"})


def _offered() -> list[OptionSpec[object]]:
    """The options ``-h`` lists (refused ab flags have no help and are not offered)."""
    return [spec for spec in OPTIONS if spec.help]


def _summary(spec: OptionSpec[object]) -> str:
    return " ".join(line.strip() for line in spec.help)


def completion_script(shell: str) -> str:
    """The completion script for ``shell`` (one of SHELLS)."""
    if shell == "bash":
        return _bash()
    if shell == "zsh":
        return _zsh()
    if shell == "fish":
        return _fish()
    raise ValueError(f"no completion for shell {shell!r}; choose from {', '.join(SHELLS)}")


def _bash() -> str:
    specs = _offered()
    flags = " ".join(name for spec in specs for name in spec.names)
    valued = "|".join(name for spec in specs if spec.takes_value for name in spec.names)
    choice_cases = "".join(
        f"        {'|'.join(spec.names)}) "
        f'COMPREPLY=($(compgen -W {_quoted(" ".join(_CHOICES[spec.field]))} -- "$cur")); return ;;\n'
        for spec in specs
        if spec.field in _CHOICES
    )
    return (
        f"# bash completion for {PROG}\n"
        "_bankscore_bench_complete() {\n"
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"\n'
        '    case "$prev" in\n'
        f"{choice_cases}"
        f'        {valued}) COMPREPLY=($(compgen -f -- "$cur")); return ;;\n'
        "    esac\n"
        '    if [[ "$cur" == -* ]]; then\n'
        f'        COMPREPLY=($(compgen -W {_quoted(flags)} -- "$cur"))\n'
        "    fi\n"
        "}\n"
        f"complete -o default -F _bankscore_bench_complete {PROG}\n"
    )


def _zsh_text(text: str) -> str:
    """Text inside an _arguments spec: brackets and colons are its syntax, so they are escaped."""
    for char in "\\[]:":
        text = text.replace(char, "\\" + char)
    return text


def _quoted(text: str) -> str:
    """A single-quoted shell word (bash, zsh and fish read ``'...'`` the same way, apart from the quote)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh() -> str:
    lines = []
    for spec in _offered():
        names = spec.names
        # Both spellings of one option exclude each other; zsh's brace expansion writes the spec once for each.
        head = f"'({' '.join(names)})'{{{','.join(names)}}}" if len(names) > 1 else ""
        arg = ""
        if spec.takes_value:
            action = " "
            if spec.field in _CHOICES:
                action = f"({' '.join(_CHOICES[spec.field])})"
            elif spec.field in _FILE_FIELDS:
                action = "_files"
            arg = f":{_zsh_text(spec.metavar or 'value')}:{action}"
        first = "" if head else names[0]
        repeat = "*" if spec.repeatable else ""
        lines.append(head + _quoted(f"{repeat}{first}[{_zsh_text(_summary(spec))}]{arg}"))
    body = " \\\n    ".join(lines)
    return (
        f"#compdef {PROG}\n"
        "_bankscore_bench() {\n"
        f"  _arguments -s \\\n    {body} \\\n    '1:URL:_urls'\n"
        "}\n"
        f"compdef _bankscore_bench {PROG}\n"
    )


def _fish() -> str:
    lines = [f"complete -c {PROG} -f"]
    for spec in _offered():
        parts = [f"complete -c {PROG}"]
        if spec.short:
            parts.append(f"-s {_quoted(spec.short)}" if len(spec.short) == 1 else f"-o {_quoted(spec.short)}")
        if spec.long:
            parts.append(f"-l {_quoted(spec.long)}")
        if spec.takes_value:
            parts.append("-r")
            if spec.field in _CHOICES:
                parts.append(f"-a {_quoted(' '.join(_CHOICES[spec.field]))}")
            elif spec.field in _FILE_FIELDS:
                parts.append("-F")
        parts.append(f"-d {_quoted(_summary(spec))}")
        lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"
