"""ab's command line for bankscore-bench: the flags of ApacheBench 2.3 plus bankscore's long options.

ab's flag grammar is getopt's (``-kc8``, ``-n100``, ``-c 8``), so this module parses with
``getopt.gnu_getopt`` rather than click: short and long options mix freely and may follow the URL. The
options themselves, their values' checks and their help are declared once, on ``AbOptions``' fields
(``_aboptions``); this module applies them in order and checks the combinations no single option can.

Errors raise ``AbUsageError`` carrying the message, the usage text and the exit code ab uses for the same
mistake: 22 (EINVAL, ab's ``usage()``) for bad flags and arguments, 1 for the errors ab reports with
``err()`` (an invalid number of requests, methods that cannot be mixed).
"""

from __future__ import annotations

import getopt
from collections.abc import Sequence
from typing import Any, Final

from bankscore_bench._aboptions import (
    MODEL_DEPLOYMENT_HEADER,
    OPTIONS,
    AbOptions,
    AbUsageError,
    format_usage,
    parse_ab_url,
)
from bankscore_bench._abspec import EXIT_USAGE, EXIT_VALUE, OptionSpec, OptionValueError

__all__ = ["parse_ab_args"]

_SHORT_OPTS: Final = "".join(spec.short + (":" if spec.takes_value else "") for spec in OPTIONS if spec.short)
_LONG_OPTS: Final = [spec.long + ("=" if spec.takes_value else "") for spec in OPTIONS if spec.long]
_BY_NAME: Final = {name: spec for spec in OPTIONS for name in spec.names}


class _Parser:
    """State of one parse: ab applies options in order, and a later -n overrides -t's 50000."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.usage = format_usage(prog)
        self.values: dict[str, object] = {}
        self.repeated: dict[str, list[object]] = {}
        self.method_option: str | None = None  # the first of -p, -u, -i given

    def fail(self, message: str, exit_code: int = EXIT_USAGE) -> AbUsageError:
        return AbUsageError(f"{self.prog}: {message}", self.usage, exit_code)

    def apply(self, spec: OptionSpec[object], option: str, value: str) -> None:
        if spec.method is not None:
            # ab's err(): "Cannot mix POST with other methods" (exit 1).
            if self.method_option is not None and self.method_option != option:
                raise self.fail(
                    f"Cannot mix {spec.method} with other methods ({self.method_option} and {option})", EXIT_VALUE
                )
            self.method_option = option
        try:
            converted = spec.convert(option, value)
        except OptionValueError as error:
            raise self.fail(error.message, error.exit_code) from None
        if spec.repeatable:
            self.repeated.setdefault(spec.field, []).append(converted)
        else:
            self.values[spec.field] = converted
        for implied, implied_value in spec.implies:
            self.apply(_BY_NAME[implied], implied, implied_value)


def _build(values: dict[str, Any]) -> AbOptions:
    # mypy cannot follow a value from its option's converter through a dict keyed by field name, hence Any.
    # Each value was made by the converter declared on that very field, and option() made mypy check the
    # converter's result type against the field's; test_abargs_table checks the values' types at run time.
    return AbOptions(**values)


def _getopt_message(prog: str, error: getopt.GetoptError) -> str:
    """GNU getopt's wording for getopt's errors."""
    opt = error.opt
    long = len(opt) > 1
    if "requires argument" in error.msg:
        return (
            f"{prog}: option '--{opt}' requires an argument"
            if long
            else f"{prog}: option requires an argument -- '{opt}'"
        )
    if "must not have an argument" in error.msg:
        return f"{prog}: option '--{opt}' doesn't allow an argument"
    if "not a unique prefix" in error.msg:
        return f"{prog}: option '--{opt}' is ambiguous"
    return f"{prog}: unrecognized option '--{opt}'" if long else f"{prog}: invalid option -- '{opt}'"


def parse_ab_args(argv: Sequence[str], *, prog: str = "bankscore-bench") -> AbOptions:
    """Parse ab's command line (without the program name) into ``AbOptions``; raise ``AbUsageError``."""
    parser = _Parser(prog)
    try:
        pairs, positionals = getopt.gnu_getopt(list(argv), _SHORT_OPTS, _LONG_OPTS)
    except getopt.GetoptError as error:
        raise AbUsageError(_getopt_message(prog, error), parser.usage) from None
    given = [(_BY_NAME[option], option, value) for option, value in pairs]

    for spec, option, value in given:
        # ab acts on -h and -V as soon as it meets them, before checking anything else.
        if spec.stops_parsing:
            return _build({spec.field: spec.convert(option, value)})
    for spec, option, value in given:
        parser.apply(spec, option, value)

    if len(positionals) > 1:
        raise parser.fail("wrong number of arguments")
    repeated = {field: tuple(items) for field, items in parser.repeated.items()}
    options = _build({"url": positionals[0] if positionals else None, **parser.values, **repeated})
    _check_combination(parser, options)
    return options


def _check_combination(parser: _Parser, options: AbOptions) -> None:
    if options.url is not None:
        parse_ab_url(options.url, prog=parser.prog)
        if options.deployment is not None:
            raise parser.fail(f"give either a URL or --deployment, not both (URL {options.url!r})")
    if options.concurrency > options.requests:
        raise parser.fail(
            "Cannot use concurrency level greater than total number of requests "
            f"(-c {options.concurrency} > -n {options.requests})"
        )
    if options.master and options.worker:
        raise parser.fail("--master and --worker exclude each other")
    # Options that only mean something with another one are refused rather than silently ignored.
    rate_sweep = (options.sweep or "").strip().startswith("rate")
    if options.arrivals != "constant" and options.rate is None and not rate_sweep:
        raise parser.fail(f"--arrivals {options.arrivals} needs --rate R (or --sweep rate=...): it shapes an open loop")
    if options.expect_workers is not None and not options.master:
        raise parser.fail("--expect-workers needs --master")
    authorizations = [
        flag
        for flag, given in (
            ("-A", options.basic_auth is not None),
            ("--key", options.key is not None),
            ("-H Authorization", any(name.lower() == "authorization" for name, _ in options.headers)),
        )
        if given
    ]
    if len(authorizations) > 1:
        raise parser.fail(f"{' and '.join(authorizations)} both set the Authorization header; give one")
    if options.model_deployment is not None and any(
        name.lower() == MODEL_DEPLOYMENT_HEADER for name, _ in options.headers
    ):
        raise parser.fail(
            f"--model-deployment and -H {MODEL_DEPLOYMENT_HEADER} both set the {MODEL_DEPLOYMENT_HEADER} header; "
            "give one"
        )
