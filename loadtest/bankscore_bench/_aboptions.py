"""The options of bankscore-bench's ab command line, each declared once, and the typed ``AbOptions`` they fill.

Each field of ``AbOptions`` that a flag sets is that flag's one declaration (see ``_abspec``): the flag as ab's
usage text spells it, the converter that reads and checks its value, the default and the help lines. The
getopt spec, the parser's dispatch, ``format_usage`` and the refusal of nonsense all read ``OPTIONS``, which
is built from those fields. The fields are in the order the usage text lists the options.

Meanings and defaults are ab's (Apache httpd 2.4.x ``support/ab.c`` ``main()``); where ab silently accepts
nonsense (``atoi("abc")`` is 0), bankscore-bench names the option and the value instead. The differences
are listed in ``AB_COMPAT.md``.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import urlsplit

from bankscore._facts import DEPLOYMENT_HEADER
from bankscore_bench._abspec import (
    EXIT_USAGE,
    EXIT_VALUE,
    SPEC_KEY,
    OptionSpec,
    choice,
    cookie,
    credentials,
    file_name,
    header,
    integer,
    nonblank,
    option,
    positive_number,
    proxy_address,
    refused,
    repeated,
    switch,
    token,
    verbatim,
    whole_number,
)

__all__ = [
    "AB_VERSION",
    "ARRIVALS",
    "DEFAULT_MASTER_PORT",
    "DEFAULT_MAX_TIME_S",
    "EXIT_USAGE",
    "EXIT_VALUE",
    "GENERATIONS",
    "MAX_CONCURRENCY",
    "MODEL_DEPLOYMENT_HEADER",
    "OPTIONS",
    "TIMELIMIT_REQUESTS",
    "AbOptions",
    "AbUrl",
    "AbUsageError",
    "basic_credentials",
    "format_request_head",
    "format_usage",
    "parse_ab_url",
]

AB_VERSION: Final = "2.3"  # the ab whose report format and request bytes are reproduced
MAX_CONCURRENCY: Final = 200000  # ab.c MAX_CONCURRENCY in apache2-utils 2.4.71 ("Range 0..200000")
TIMELIMIT_REQUESTS: Final = 50000  # ab.c MAX_REQUESTS: what -t sets the request count to
DEFAULT_MAX_TIME_S: Final = 600.0  # bankscore's hard cap on a run, whatever -n/-t say
DEFAULT_MASTER_PORT: Final = 5557  # Locust's default master port
# The header that pins one deployment of an Azure ML managed online endpoint, past its traffic rules.
MODEL_DEPLOYMENT_HEADER: Final = DEPLOYMENT_HEADER

GENERATIONS: Final = ("A", "B", "C", "D", "auto")
ARRIVALS: Final = ("constant", "poisson")
_AB_HELP_COLUMN: Final = 20  # where ab's usage text starts the help of its flags
_OWN_HELP_COLUMN: Final = 25  # the same for bankscore-bench's long options, which are wider
_TLS: Final = "TLS options are not supported"
_HTML_ATTRIBUTES: Final = "HTML table attributes are not supported (no -w); use --html FILE"


class AbUsageError(Exception):
    """A command line that ab would refuse, or that bankscore-bench cannot run.

    ``message`` names the option and value (never a key); ``usage`` is the text to print after it;
    ``exit_code`` is the status ab exits with for the same mistake.
    """

    def __init__(self, message: str, usage: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.exit_code = exit_code


@dataclasses.dataclass(frozen=True, slots=True)
class AbUrl:
    """ab's view of the URL (ab.c ``parse_url``): where to connect and what to put in the request line."""

    scheme: str  # http | https
    host: str  # without IPv6 brackets
    port: int
    path: str  # path and query as sent in the request line; "/" at least

    @property
    def host_header(self) -> str:
        """The ``Host:`` value ab sends: brackets for IPv6, ``:port`` only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_ab_url(url: str, *, prog: str = "bankscore-bench") -> AbUrl:
    """Split ``[http[s]://]hostname[:port]/path`` as ab does; a missing path means ``/``."""
    text = url if "://" in url else f"http://{url}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise AbUsageError(f"{prog}: invalid URL: {url!r}", format_usage(prog)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AbUsageError(
            f"{prog}: invalid URL: {url!r} (expected [http[s]://]hostname[:port]/path)", format_usage(prog)
        )
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would be printed in reports; ab has -A for them.
        raise AbUsageError(f"{prog}: invalid URL: credentials in the URL are not supported; use -A", format_usage(prog))
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return AbUrl(scheme=parts.scheme, host=parts.hostname, port=port, path=path)


@dataclasses.dataclass(frozen=True, slots=True)
class AbOptions:
    """One parsed command line: ab's flags with ab's defaults, and bankscore-bench's raw extra options.

    Secrets (``key``, ``-A``/``-P`` credentials, ``-H`` and ``-C`` values) are left out of the repr.
    """

    url: str | None = None  # None: --deployment or the saved local deployment supplies it (the CLI decides)

    # ab's flags, in its usage text's order. A bad -n is one of the mistakes ab reports with err() (exit 1).
    requests: int = option(
        "-n requests",
        whole_number("Invalid number of requests", exit_code=EXIT_VALUE),
        1,
        "Number of requests to perform",
    )
    concurrency: int = option(
        "-c concurrency",
        whole_number(
            "Invalid concurrency level",
            maximum=MAX_CONCURRENCY,
            too_big="Invalid Concurrency [Range 1..{maximum}]: {option} {value!r}",
        ),
        1,
        "Number of multiple requests to make at a time",
    )
    time_limit_s: float | None = option(
        "-t timelimit",
        positive_number("Invalid time limit"),
        None,
        f"Seconds to max. to spend on benchmarking\nThis implies -n {TIMELIMIT_REQUESTS}",
        implies=(("-n", str(TIMELIMIT_REQUESTS)),),
    )
    timeout_s: float = option(
        "-s timeout",
        positive_number("Invalid timeout"),
        30.0,
        "Seconds to max. wait for each response\nDefault is 30 seconds",
    )
    post_file: str | None = option(
        "-p postfile", verbatim, None, "File containing data to POST. Remember also to set -T", method="POST"
    )
    put_file: str | None = option(
        "-u putfile", verbatim, None, "File containing data to PUT. Remember also to set -T", method="PUT"
    )
    # None: not given; ab then sends text/plain with a body.
    content_type: str | None = option(
        "-T content-type",
        nonblank("invalid content type: {option} '' (expected e.g. application/json)"),
        None,
        "Content-type header to use for POST/PUT data, eg.\n'application/x-www-form-urlencoded'\n"
        "Default is 'text/plain'",
    )
    verbosity: int = option("-v verbosity", integer("invalid verbosity"), 0, "How much troubleshooting info to print")
    head: bool = switch("-i", "Use HEAD instead of GET", method="HEAD")
    cookies: tuple[str, ...] = repeated(
        "-C attribute", cookie, "Add cookie, eg. 'Apache=1234'. (repeatable)", secret=True
    )
    headers: tuple[tuple[str, str], ...] = repeated(
        "-H attribute",
        header,
        "Add Arbitrary header line, eg. 'Accept-Encoding: gzip'\nInserted after all normal header lines. (repeatable)",
        secret=True,
    )
    basic_auth: str | None = option(
        "-A attribute",
        credentials("Basic WWW Authentication"),
        None,
        "Add Basic WWW Authentication, the attributes\nare a colon separated username and password.",
        secret=True,
    )
    proxy_auth: str | None = option(
        "-P attribute",
        credentials("Basic Proxy Authentication"),
        None,
        "Add Basic Proxy Authentication, the attributes\nare a colon separated username and password.",
        secret=True,
    )
    proxy: tuple[str, int] | None = option("-X proxy:port", proxy_address, None, "Proxyserver and port number to use")
    show_version: bool = switch("-V", "Print version number and exit", long="version", stops_parsing=True)
    keepalive: bool = switch("-k", "Use HTTP KeepAlive feature")
    percentiles: bool = switch("-d", "Do not show percentiles served table.", sets=False)
    confidence: bool = switch("-S", "Do not show confidence estimators and warnings.", sets=False)
    quiet: bool = switch("-q", "Do not show progress when doing more than 150 requests")
    variable_length: bool = switch("-l", "Accept variable document length (use this for dynamic pages)")
    gnuplot_file: str | None = option("-g filename", file_name, None, "Output collected data to gnuplot format file.")
    csv_file: str | None = option("-e filename", file_name, None, "Output CSV file with percentages served")
    receive_errors_ok: bool = switch("-r", "Don't exit on socket receive errors.")
    method_name: str | None = option(
        "-m method", token("invalid method", "expected a method name such as POST"), None, "Method name"
    )
    show_help: bool = switch("-h", "Display usage information (this message)", long="help", stops_parsing=True)

    # bankscore-bench's own options, typed and checked here but interpreted by the CLI.
    key: str | None = option(
        "--key KEY",
        nonblank("invalid key: {option} is empty"),
        None,
        "Send 'Authorization: Bearer KEY' (the endpoint's key)",
        secret=True,
    )
    deployment: str | None = option(
        "--deployment NAME", nonblank(), None, "Use the saved local deployment's URI and key"
    )
    model_deployment: str | None = option(
        "--model-deployment NAME",
        token("invalid deployment name", "expected the name of one of the endpoint's deployments, such as blue"),
        None,
        f"Send '{MODEL_DEPLOYMENT_HEADER}: NAME': score with that deployment\n"
        "of a managed online endpoint, whatever its traffic split says",
    )
    rate: float | None = option(
        "--rate R",
        positive_number("invalid rate", "requests per second"),
        None,
        "Open loop: R requests/s in total instead of -c back-to-back users",
    )
    arrivals: str = option(
        "--arrivals KIND", choice(ARRIVALS), "constant", "constant or poisson arrivals at --rate (default constant)"
    )
    batch_size: int | None = option(
        "--batch-size N",
        whole_number("invalid batch size"),
        None,
        "Records per request in the generated Bank Marketing payloads (1..10000)",
    )
    generation: str = option(
        "--generation G",
        choice(GENERATIONS),
        "auto",
        "Wire generation A, B, C, D or auto (read from the endpoint's spec)",
    )
    proba: bool = switch("--proba", "Ask for probabilities (predict_proba) instead of labels")
    seed: int | None = option(
        "--seed N", whole_number("invalid seed", minimum=0), None, "Seed for payload choice and Poisson arrivals"
    )
    warmup: int = option(
        "--warmup N",
        whole_number("invalid warm-up count", minimum=0),
        0,
        "Send N requests first and leave them out of every statistic",
    )
    max_time_s: float = option(
        "--max-time S",
        positive_number("invalid maximum time"),
        DEFAULT_MAX_TIME_S,
        f"Hard cap on the run's duration in seconds (default {DEFAULT_MAX_TIME_S:g})",
    )
    workers: int | None = option(
        "--workers N", whole_number("invalid number of workers"), None, "Run N local worker processes"
    )
    master: bool = switch("--master", "Be the master of distributed workers")
    worker: bool = switch("--worker", "Be a worker; connect to --master-host/--master-port")
    master_host: str = option(
        "--master-host H",
        nonblank("invalid master host: {option} '' (expected a host name or address)"),
        "127.0.0.1",
        "Master's address (default 127.0.0.1)",
    )
    master_port: int = option(
        "--master-port P",
        whole_number("invalid master port", maximum=65535),
        DEFAULT_MASTER_PORT,
        f"Master's port (default {DEFAULT_MASTER_PORT})",
    )
    expect_workers: int | None = option(
        "--expect-workers N",
        whole_number("invalid number of workers"),
        None,
        "Master: wait for N workers before starting",
    )
    sweep: str | None = option("--sweep SPEC", nonblank(), None, "Sweep concurrency or rate and report the curve")
    slo: str | None = option("--slo EXPR", nonblank(), None, "Sweep: the latency/error objective to search against")
    thresholds: tuple[str, ...] = repeated(
        "--threshold EXPR", verbatim, "Fail the run (non-zero exit) unless EXPR holds (repeatable)"
    )
    json_file: str | None = option("--json FILE", file_name, None, "Write the full report as JSON")
    csv_prefix: str | None = option("--csv PREFIX", file_name, None, "Write CSV reports with this file prefix")
    html_file: str | None = option("--html FILE", file_name, None, "Write a self-contained HTML report")
    timeline: bool = switch("--timeline", "Print the per-second table")
    ab_strict: bool = switch("--ab-strict", "Reproduce ab's numbers exactly, quirks included")
    show_locustfile: bool = switch(
        "--locustfile",
        "Print the path of the shipped locustfile (locust -f PATH) and exit",
        stops_parsing=True,
    )

    @property
    def body_file(self) -> str | None:
        """The file whose bytes are sent as the request body (-p or -u)."""
        return self.post_file if self.post_file is not None else self.put_file

    @property
    def method(self) -> str:
        """The request method, as ab chooses it: -m, else HEAD (-i), POST (-p), PUT (-u), GET."""
        if self.method_name is not None:
            return self.method_name
        if self.head:
            return "HEAD"
        if self.post_file is not None:
            return "POST"
        if self.put_file is not None:
            return "PUT"
        return "GET"

    def target(self) -> AbUrl | None:
        """The parsed URL, or None when it is left to --deployment / the saved deployment."""
        return None if self.url is None else parse_ab_url(self.url)

    def request_headers(
        self,
        *,
        host_header: str | None = None,
        content_length: int | None = None,
        content_type: str | None = None,
        user_agent: str | None = None,
    ) -> list[tuple[str, str]]:
        """The request's headers in ab's order (ab.c ``test()``; see reference 11-request-dump-v2).

        ``Connection: Keep-Alive`` (-k), ``Cookie``, ``Authorization``/``Proxy-Authorization``, then
        ``Content-length`` and ``Content-type`` when a body is sent (``content_length`` given),
        ``azureml-model-deployment`` (--model-deployment), the -H
        headers in order, and last ``Host``, ``User-Agent`` and ``Accept`` unless -H overrode them.
        ``host_header`` defaults to the URL's; ``content_type`` overrides -T (for generated payloads);
        ``user_agent`` defaults to ``bankscore-bench/<version>`` (not ab's, which would misname the client).
        """
        headers: list[tuple[str, str]] = []
        if self.keepalive:
            headers.append(("Connection", "Keep-Alive"))
        if self.cookies:
            # ab keeps only the last -C although its usage says "repeatable"; we send them all.
            headers.append(("Cookie", "; ".join(self.cookies)))
        if self.basic_auth is not None:
            headers.append(("Authorization", basic_credentials(self.basic_auth)))
        if self.key is not None:
            headers.append(("Authorization", f"Bearer {self.key}"))
        if self.proxy_auth is not None:
            headers.append(("Proxy-Authorization", basic_credentials(self.proxy_auth)))
        if content_length is not None:
            headers.append(("Content-length", str(content_length)))
            headers.append(("Content-type", content_type or self.content_type or "text/plain"))
        if self.model_deployment is not None:
            headers.append((MODEL_DEPLOYMENT_HEADER, self.model_deployment))
        headers.extend(self.headers)
        given = {name.lower() for name, _ in self.headers}
        if "host" not in given:
            if host_header is None:
                target = self.target()
                if target is None:
                    raise ValueError("request_headers() needs host_header when the URL is not given")
                host_header = target.host_header
            headers.append(("Host", host_header))
        if "user-agent" not in given:
            headers.append(("User-Agent", user_agent or _default_user_agent()))
        if "accept" not in given:
            headers.append(("Accept", "*/*"))
        return headers


def _declared_options() -> tuple[OptionSpec[object], ...]:
    """The specs on AbOptions' fields, in field order, each told the name of the field it sets."""
    return tuple(
        dataclasses.replace(spec, field=field.name)
        for field in dataclasses.fields(AbOptions)
        if isinstance(spec := field.metadata.get(SPEC_KEY), OptionSpec)
    )


# ab flags that bankscore-bench recognises but does not implement: getopt knows them, so that they are
# refused with the reason instead of "invalid option". They set no field, so they are declared here.
_REFUSED: Final[tuple[OptionSpec[object], ...]] = (
    refused(
        "w", "HTML table output is not supported; use --html FILE for bankscore-bench's HTML report", takes_value=False
    ),
    refused("x", _HTML_ATTRIBUTES),
    refused("y", _HTML_ATTRIBUTES),
    refused("z", _HTML_ATTRIBUTES),
    refused("b", "setting the TCP window size is not supported"),
    refused("B", "binding to a local address is not supported"),
    refused("I", _TLS, takes_value=False),
    refused("Z", _TLS),
    refused("f", _TLS),
    refused("E", _TLS),
)
# Every option getopt is told about.
OPTIONS: Final[tuple[OptionSpec[object], ...]] = (*_declared_options(), *_REFUSED)


def _help_lines(specs: Iterable[OptionSpec[object]], column: int) -> list[str]:
    lines: list[str] = []
    for spec in specs:
        if not spec.help:
            continue
        label = f"    {spec.label}"
        first, *rest = spec.help
        if len(label) < column:
            lines.append(label.ljust(column) + first)
        else:  # too wide for the column: the help starts on the next line
            lines.extend((label, " " * column + first))
        lines.extend(" " * column + line for line in rest)
    return lines


def format_usage(prog: str = "bankscore-bench") -> str:
    """ab's usage text, naming ``prog``, with bankscore-bench's own options at the end."""
    lines = [
        f"Usage: {prog} [options] [http[s]://]hostname[:port]/path",
        "Options are:",
        *_help_lines((spec for spec in OPTIONS if spec.from_ab), _AB_HELP_COLUMN),
        "bankscore-bench options:",
        *_help_lines((spec for spec in OPTIONS if not spec.from_ab), _OWN_HELP_COLUMN),
    ]
    return "\n".join(lines) + "\n"


def format_request_head(method: str, path: str, headers: Sequence[tuple[str, str]]) -> str:
    """Request line and headers as ab writes them: HTTP/1.0, CRLF line ends, blank line at the end."""
    lines = [f"{method} {path} HTTP/1.0", *(f"{name}: {value}" for name, value in headers)]
    return "\r\n".join(lines) + "\r\n\r\n"


def basic_credentials(credentials: str) -> str:
    """The ``Basic ...`` header value of ``-A``/``-P user:pass``, encoded as ab encodes it."""
    # ab skips leading whitespace before encoding (ab.c case 'A').
    return "Basic " + base64.b64encode(credentials.lstrip().encode()).decode("ascii")


def _default_user_agent() -> str:
    from bankscore._version import __version__

    return f"bankscore-bench/{__version__}"
