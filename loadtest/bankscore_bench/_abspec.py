"""How one option of bankscore-bench's ab command line is declared, and how its value is read and checked.

Each ``AbOptions`` field that a flag sets is declared with ``option``, ``repeated`` or ``switch``: the
declaration carries the flag as ab's usage text spells it, the converter, the default and the help lines,
and returns the default typed as the converter's result, so mypy checks that the converter, the default and
the field's annotation agree. The ``OptionSpec`` rides on the dataclass field's metadata, where the parser,
the usage text and the getopt spec read it.

A converter takes the option as written and its value, and returns the typed value or raises
``OptionValueError`` with a message that names the option and the value (never a secret's value).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Final, Generic, NoReturn, TypeAlias, TypeVar

__all__ = [
    "EXIT_USAGE",
    "EXIT_VALUE",
    "SPEC_KEY",
    "Convert",
    "OptionSpec",
    "OptionValueError",
    "choice",
    "cookie",
    "credentials",
    "file_name",
    "header",
    "integer",
    "nonblank",
    "option",
    "positive_number",
    "proxy_address",
    "refused",
    "repeated",
    "switch",
    "token",
    "verbatim",
    "whole_number",
]

EXIT_USAGE: Final = 22  # ab's usage(): exit(EINVAL)
EXIT_VALUE: Final = 1  # ab's err(): exit(1)
SPEC_KEY: Final = "bankscore_bench.ab_option"  # the dataclass field metadata key that holds an OptionSpec

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
# (option as written, value) -> the typed value; raises OptionValueError.
Convert: TypeAlias = Callable[[str, str], T]

# RFC 9110 token: what a method name or header name may contain.
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class OptionValueError(Exception):
    """A value an option cannot take; the parser adds the program name and the usage text."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclasses.dataclass(frozen=True, slots=True)
class OptionSpec(Generic[T_co]):
    """One option: how getopt knows it, how its value is read, and what the usage text says about it."""

    short: str | None  # ab's letter, without the dash
    long: str | None  # the long name, without the dashes
    convert: Convert[T_co]
    metavar: str = ""  # the value's name in the usage text, as ab spells it ("requests", "proxy:port")
    help: tuple[str, ...] = ()  # the usage text's lines; none: the option is not listed
    takes_value: bool = True
    repeatable: bool = False  # each use adds one element to the field's tuple
    method: str | None = None  # the request method this option chooses; ab refuses two different ones
    implies: tuple[tuple[str, str], ...] = ()  # options applied right after this one, as if they followed it
    stops_parsing: bool = False  # ab acts on it as soon as it meets it, before checking anything else
    field: str = ""  # the AbOptions field it sets; none for flags that are refused

    @property
    def names(self) -> tuple[str, ...]:
        """The spellings getopt hands back: ``-n``, ``--rate``."""
        names: list[str] = []
        if self.short:
            names.append(f"-{self.short}")
        if self.long:
            names.append(f"--{self.long}")
        return tuple(names)

    @property
    def from_ab(self) -> bool:
        """ab's own flags have a letter; bankscore-bench's additions are long options only."""
        return self.short is not None

    @property
    def label(self) -> str:
        """The option as the usage text shows it: ``-n requests``, ``--key KEY``, ``-k``."""
        flag = f"-{self.short}" if self.short else f"--{self.long}"
        return f"{flag} {self.metavar}" if self.metavar else flag


def _spec_field(spec: OptionSpec[object], default: T, *, secret: bool) -> T:
    # Secrets (keys, credentials, header and cookie values) stay out of the repr.
    return dataclasses.field(default=default, repr=not secret, metadata={SPEC_KEY: spec})


def _split(label: str) -> tuple[str | None, str | None, str]:
    flag, _, metavar = label.partition(" ")
    if flag.startswith("--"):
        return None, flag[2:], metavar
    return flag[1:], None, metavar


def option(
    label: str,
    convert: Convert[T],
    default: T,
    help: str = "",
    *,
    secret: bool = False,
    method: str | None = None,
    implies: tuple[tuple[str, str], ...] = (),
) -> T:
    """A field set by an option with a value; ``label`` is the usage text's ``-n requests`` or ``--rate R``."""
    short, long, metavar = _split(label)
    spec = OptionSpec(
        short,
        long,
        convert,
        metavar=metavar,
        help=tuple(help.splitlines()),
        method=method,
        implies=implies,
    )
    return _spec_field(spec, default, secret=secret)


def repeated(label: str, convert: Convert[T], help: str = "", *, secret: bool = False) -> tuple[T, ...]:
    """A tuple field that each use of the option adds one converted value to, in order."""
    short, long, metavar = _split(label)
    spec = OptionSpec(short, long, convert, metavar=metavar, help=tuple(help.splitlines()), repeatable=True)
    empty: tuple[T, ...] = ()
    return _spec_field(spec, empty, secret=secret)


def switch(
    label: str,
    help: str = "",
    *,
    sets: bool = True,
    long: str | None = None,
    method: str | None = None,
    stops_parsing: bool = False,
) -> bool:
    """A bool field that a flag without a value sets to ``sets`` (so ``-d`` can turn percentiles off).

    ``long`` gives an ab flag a second spelling that the usage text does not show (``--help`` beside ``-h``).
    """
    short, own_long, _ = _split(label)

    def convert(_option: str, _value: str) -> bool:
        return sets

    spec = OptionSpec(
        short,
        own_long or long,
        convert,
        help=tuple(help.splitlines()),
        takes_value=False,
        method=method,
        stops_parsing=stops_parsing,
    )
    return _spec_field(spec, not sets, secret=False)


def refused(letter: str, reason: str, *, takes_value: bool = True) -> OptionSpec[NoReturn]:
    """An ab flag that bankscore-bench knows but does not implement: named with the reason, not "invalid"."""

    def convert(option: str, _value: str) -> NoReturn:
        raise OptionValueError(f"option {option} is not supported: {reason}")

    return OptionSpec(letter, None, convert, takes_value=takes_value)


# --- converters ------------------------------------------------------------------------------------------


def _whole(option: str, value: str, what: str, minimum: int, exit_code: int = EXIT_USAGE) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise OptionValueError(f"{what}: {option} {value!r} (expected a whole number >= {minimum})", exit_code)
    return number


def whole_number(
    what: str,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    too_big: str = "{what}: {option} {value!r} (expected {minimum}..{maximum})",
    exit_code: int = EXIT_USAGE,
) -> Convert[int]:
    """A base-10 whole number >= ``minimum`` (and <= ``maximum``); ``what`` opens the error message."""

    def convert(option: str, value: str) -> int:
        number = _whole(option, value, what, minimum, exit_code)
        if maximum is not None and number > maximum:
            message = too_big.format(what=what, option=option, value=value, minimum=minimum, maximum=maximum)
            raise OptionValueError(message, exit_code)
        return number

    return convert


def positive_number(what: str, expected: str = "a number of seconds") -> Convert[float]:
    """A finite number > 0 (``nan`` and ``inf`` are refused, as ab's ``atof`` nonsense would be)."""

    def convert(option: str, value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number <= 0:
            raise OptionValueError(f"{what}: {option} {value!r} (expected {expected} > 0)")
        return number

    return convert


def integer(what: str) -> Convert[int]:
    """Any base-10 whole number, negative ones included."""

    def convert(option: str, value: str) -> int:
        try:
            return int(value, 10)
        except ValueError:
            raise OptionValueError(f"{what}: {option} {value!r} (expected a whole number)") from None

    return convert


def choice(choices: Sequence[str]) -> Convert[str]:
    """One of ``choices``, matched without regard to case and returned as the choice spells it."""

    def convert(option: str, value: str) -> str:
        for allowed in choices:
            if value.lower() == allowed.lower():
                return allowed
        raise OptionValueError(f"invalid value for {option}: {value!r} (expected one of {', '.join(choices)})")

    return convert


def nonblank(message: str = "invalid value for {option}: '' (expected a value)") -> Convert[str]:
    """Any value with something other than whitespace in it, kept as given; ``message`` names the option."""

    def convert(option: str, value: str) -> str:
        if not value.strip():
            raise OptionValueError(message.format(option=option))
        return value

    return convert


def token(what: str, expected: str) -> Convert[str]:
    """An RFC 9110 token (a method or deployment name), kept as given: ab sends custom methods verbatim."""

    def convert(option: str, value: str) -> str:
        if not _TOKEN.fullmatch(value):
            raise OptionValueError(f"{what}: {option} {value!r} ({expected})")
        return value

    return convert


def verbatim(_option: str, value: str) -> str:
    """The value as given: what it names is checked where it is used (a -p file when the run reads it)."""
    return value


def file_name(option: str, value: str) -> str:
    """A file name or prefix, kept as given; only the empty name is refused here."""
    if not value:
        raise OptionValueError(f"option {option} needs a file name, got ''")
    return value


def header(option: str, value: str) -> tuple[str, str]:
    """``Name: value`` split into the name and the stripped value."""
    name, colon, rest = value.partition(":")
    name = name.strip()
    if not colon or not _TOKEN.fullmatch(name):
        # Not echoed: a malformed header line is often a bare key.
        raise OptionValueError(
            f"{option} expects a header line 'Name: value'; the value given has no valid 'Name:' prefix"
        )
    return name, rest.strip()


def cookie(option: str, value: str) -> str:
    """``name=value``, kept as given."""
    if "=" not in value:
        # Not echoed: cookie values are often session secrets.
        raise OptionValueError(f"{option} expects a cookie 'name=value'; the value given has no '='")
    return value


def credentials(what: str) -> Convert[str]:
    """``user:password``, kept as given; ``what`` names the authentication in the error."""

    def convert(option: str, value: str) -> str:
        if ":" not in value:
            # The value is likely a secret: name the option, never echo it.
            raise OptionValueError(f"{option} expects {what} as 'user:password' (no ':' found in the value)")
        return value

    return convert


def proxy_address(option: str, value: str) -> tuple[str, int]:
    """``host:port``, split at the last colon (so an IPv6 host keeps its own)."""
    host, colon, port = value.rpartition(":")
    if not colon or not host:
        raise OptionValueError(f"invalid proxy: {option} {value!r} (expected proxy:port)")
    number = _whole(option, port, "invalid proxy port", 1)
    if number > 65535:
        raise OptionValueError(f"invalid proxy port: {option} {value!r} (expected 1..65535)")
    return host, number
