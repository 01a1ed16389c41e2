"""ab's command line for bankscore-bench: the flags of ApacheBench 2.3 plus bankscore's long options.

ab's flag grammar is getopt's (``-kc8``, ``-n100``, ``-c 8``), so this module parses with
``getopt.gnu_getopt`` rather than click: short and long options mix freely and may follow the URL.
Meanings and defaults are ab's (Apache httpd 2.4.x ``support/ab.c`` ``main()``); where ab silently accepts
nonsense (``atoi("abc")`` is 0), bankscore-bench names the option and the value instead. The differences
are listed in ``AB_COMPAT.md``.

Errors raise ``AbUsageError`` carrying the message, the usage text and the exit code ab uses for the same
mistake: 22 (EINVAL, ab's ``usage()``) for bad flags and arguments, 1 for the errors ab reports with
``err()`` (an invalid number of requests, methods that cannot be mixed).
"""

from __future__ import annotations

import base64
import dataclasses
import getopt
import math
import re
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from bankscore._facts import DEPLOYMENT_HEADER

__all__ = [
    "AB_VERSION",
    "DEFAULT_MAX_TIME_S",
    "EXIT_USAGE",
    "EXIT_VALUE",
    "MAX_CONCURRENCY",
    "MODEL_DEPLOYMENT_HEADER",
    "TIMELIMIT_REQUESTS",
    "AbOptions",
    "AbUrl",
    "AbUsageError",
    "basic_credentials",
    "format_request_head",
    "format_usage",
    "parse_ab_args",
    "parse_ab_url",
]

AB_VERSION: Final = "2.3"  # the ab whose report format and request bytes are reproduced
EXIT_USAGE: Final = 22  # ab's usage(): exit(EINVAL)
EXIT_VALUE: Final = 1  # ab's err(): exit(1)
MAX_CONCURRENCY: Final = 200000  # ab.c MAX_CONCURRENCY in apache2-utils 2.4.71 ("Range 0..200000")
TIMELIMIT_REQUESTS: Final = 50000  # ab.c MAX_REQUESTS: what -t sets the request count to
DEFAULT_MAX_TIME_S: Final = 600.0  # bankscore's hard cap on a run, whatever -n/-t say
DEFAULT_MASTER_PORT: Final = 5557  # Locust's default master port

# ab's optstring (2.4.x, without the TLS options we refuse below) plus the TLS ones, so that they are
# recognised and refused with a clear message instead of "invalid option".
_SHORT_OPTS: Final = "n:c:t:s:b:T:p:u:v:lrkVhwiIx:y:z:C:H:P:A:g:X:de:SqB:m:Z:f:E:"
_LONG_OPTS: Final = [
    "rate=",
    "arrivals=",
    "batch-size=",
    "generation=",
    "proba",
    "seed=",
    "workers=",
    "master",
    "worker",
    "master-host=",
    "master-port=",
    "expect-workers=",
    "sweep=",
    "slo=",
    "threshold=",
    "json=",
    "csv=",
    "html=",
    "timeline",
    "warmup=",
    "ab-strict",
    "key=",
    "deployment=",
    "model-deployment=",
    "max-time=",
    "help",
    "version",
    "locustfile",
]

# ab flags that bankscore-bench recognises but does not implement, with the reason shown to the user.
_UNSUPPORTED: Final[dict[str, str]] = {
    "-w": "HTML table output is not supported; use --html FILE for bankscore-bench's HTML report",
    "-x": "HTML table attributes are not supported (no -w); use --html FILE",
    "-y": "HTML table attributes are not supported (no -w); use --html FILE",
    "-z": "HTML table attributes are not supported (no -w); use --html FILE",
    "-b": "setting the TCP window size is not supported",
    "-B": "binding to a local address is not supported",
    "-I": "TLS options are not supported",
    "-Z": "TLS options are not supported",
    "-f": "TLS options are not supported",
    "-E": "TLS options are not supported",
}

# Flags without a value: option -> (AbOptions field, value it sets).
_SWITCHES: Final[dict[str, tuple[str, bool]]] = {
    "-k": ("keepalive", True),
    "-q": ("quiet", True),
    "-l": ("variable_length", True),
    "-d": ("percentiles", False),
    "-S": ("confidence", False),
    "-r": ("receive_errors_ok", True),
    "--proba": ("proba", True),
    "--master": ("master", True),
    "--worker": ("worker", True),
    "--timeline": ("timeline", True),
    "--ab-strict": ("ab_strict", True),
}
# Options whose value is a file name or prefix, kept as given.
_FILE_OPTIONS: Final[dict[str, str]] = {
    "-e": "csv_file",
    "-g": "gnuplot_file",
    "--json": "json_file",
    "--csv": "csv_prefix",
    "--html": "html_file",
}

_GENERATIONS: Final = ("A", "B", "C", "D", "auto")
# The header that pins one deployment of an Azure ML managed online endpoint, past its traffic rules.
MODEL_DEPLOYMENT_HEADER: Final = DEPLOYMENT_HEADER
_ARRIVALS: Final = ("constant", "poisson")
# RFC 9110 token: what a method name or header name may contain.
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

_USAGE_LINES: Final = (
    "Options are:",
    "    -n requests     Number of requests to perform",
    "    -c concurrency  Number of multiple requests to make at a time",
    "    -t timelimit    Seconds to max. to spend on benchmarking",
    "                    This implies -n 50000",
    "    -s timeout      Seconds to max. wait for each response",
    "                    Default is 30 seconds",
    "    -p postfile     File containing data to POST. Remember also to set -T",
    "    -u putfile      File containing data to PUT. Remember also to set -T",
    "    -T content-type Content-type header to use for POST/PUT data, eg.",
    "                    'application/x-www-form-urlencoded'",
    "                    Default is 'text/plain'",
    "    -v verbosity    How much troubleshooting info to print",
    "    -i              Use HEAD instead of GET",
    "    -C attribute    Add cookie, eg. 'Apache=1234'. (repeatable)",
    "    -H attribute    Add Arbitrary header line, eg. 'Accept-Encoding: gzip'",
    "                    Inserted after all normal header lines. (repeatable)",
    "    -A attribute    Add Basic WWW Authentication, the attributes",
    "                    are a colon separated username and password.",
    "    -P attribute    Add Basic Proxy Authentication, the attributes",
    "                    are a colon separated username and password.",
    "    -X proxy:port   Proxyserver and port number to use",
    "    -V              Print version number and exit",
    "    -k              Use HTTP KeepAlive feature",
    "    -d              Do not show percentiles served table.",
    "    -S              Do not show confidence estimators and warnings.",
    "    -q              Do not show progress when doing more than 150 requests",
    "    -l              Accept variable document length (use this for dynamic pages)",
    "    -g filename     Output collected data to gnuplot format file.",
    "    -e filename     Output CSV file with percentages served",
    "    -r              Don't exit on socket receive errors.",
    "    -m method       Method name",
    "    -h              Display usage information (this message)",
    "bankscore-bench options:",
    "    --key KEY            Send 'Authorization: Bearer KEY' (the endpoint's key)",
    "    --deployment NAME    Use the saved local deployment's URI and key",
    "    --model-deployment NAME",
    "                         Send 'azureml-model-deployment: NAME': score with that deployment",
    "                         of a managed online endpoint, whatever its traffic split says",
    "    --rate R             Open loop: R requests/s in total instead of -c back-to-back users",
    "    --arrivals KIND      constant or poisson arrivals at --rate (default constant)",
    "    --batch-size N       Records per request in the generated Bank Marketing payloads (1..10000)",
    "    --generation G       Wire generation A, B, C, D or auto (read from the endpoint's spec)",
    "    --proba              Ask for probabilities (predict_proba) instead of labels",
    "    --seed N             Seed for payload choice and Poisson arrivals",
    "    --warmup N           Send N requests first and leave them out of every statistic",
    "    --max-time S         Hard cap on the run's duration in seconds (default 600)",
    "    --workers N          Run N local worker processes",
    "    --master             Be the master of distributed workers",
    "    --worker             Be a worker; connect to --master-host/--master-port",
    "    --master-host H      Master's address (default 127.0.0.1)",
    "    --master-port P      Master's port (default 5557)",
    "    --expect-workers N   Master: wait for N workers before starting",
    "    --sweep SPEC         Sweep concurrency or rate and report the curve",
    "    --slo EXPR           Sweep: the latency/error objective to search against",
    "    --threshold EXPR     Fail the run (non-zero exit) unless EXPR holds (repeatable)",
    "    --json FILE          Write the full report as JSON",
    "    --csv PREFIX         Write CSV reports with this file prefix",
    "    --html FILE          Write a self-contained HTML report",
    "    --timeline           Print the per-second table",
    "    --ab-strict          Reproduce ab's numbers exactly, quirks included",
    "    --locustfile         Print the path of the shipped locustfile (locust -f PATH) and exit",
)


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


def format_usage(prog: str = "bankscore-bench") -> str:
    """ab's usage text, naming ``prog``, with bankscore-bench's own options at the end."""
    head = f"Usage: {prog} [options] [http[s]://]hostname[:port]/path"
    return "\n".join((head, *_USAGE_LINES)) + "\n"


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
    requests: int = 1  # -n; -t sets it to 50000 unless a later -n overrides (ab's order rule)
    concurrency: int = 1  # -c
    time_limit_s: float | None = None  # -t
    timeout_s: float = 30.0  # -s
    post_file: str | None = None  # -p
    put_file: str | None = None  # -u
    content_type: str | None = None  # -T; None = not given (ab then sends text/plain with a body)
    headers: tuple[tuple[str, str], ...] = dataclasses.field(default=(), repr=False)  # -H, in order
    cookies: tuple[str, ...] = dataclasses.field(default=(), repr=False)  # -C
    basic_auth: str | None = dataclasses.field(default=None, repr=False)  # -A user:pass
    proxy_auth: str | None = dataclasses.field(default=None, repr=False)  # -P user:pass
    proxy: tuple[str, int] | None = None  # -X host:port
    keepalive: bool = False  # -k
    csv_file: str | None = None  # -e
    gnuplot_file: str | None = None  # -g
    quiet: bool = False  # -q
    verbosity: int = 0  # -v
    variable_length: bool = False  # -l
    percentiles: bool = True  # False with -d
    confidence: bool = True  # False with -S
    method_name: str | None = None  # -m
    head: bool = False  # -i
    receive_errors_ok: bool = False  # -r
    show_help: bool = False  # -h / --help: print usage, nothing else was validated
    show_version: bool = False  # -V / --version
    show_locustfile: bool = False  # --locustfile: print the shipped locustfile's path
    # bankscore-bench's own options, typed but not interpreted here.
    rate: float | None = None
    arrivals: str = "constant"
    batch_size: int | None = None
    generation: str = "auto"
    proba: bool = False
    seed: int | None = None
    workers: int | None = None
    master: bool = False
    worker: bool = False
    master_host: str = "127.0.0.1"
    master_port: int = DEFAULT_MASTER_PORT
    expect_workers: int | None = None
    sweep: str | None = None
    slo: str | None = None
    thresholds: tuple[str, ...] = ()
    json_file: str | None = None
    csv_prefix: str | None = None
    html_file: str | None = None
    timeline: bool = False
    warmup: int = 0
    ab_strict: bool = False
    key: str | None = dataclasses.field(default=None, repr=False)
    deployment: str | None = None
    model_deployment: str | None = None  # --model-deployment: sent as azureml-model-deployment
    max_time_s: float = DEFAULT_MAX_TIME_S

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


class _Parser:
    """State of one parse: ab applies options in order, and a later -n overrides -t's 50000."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.usage = format_usage(prog)
        self.values: dict[str, object] = {}
        self.headers: list[tuple[str, str]] = []
        self.cookies: list[str] = []
        self.thresholds: list[str] = []

    def fail(self, message: str, exit_code: int = EXIT_USAGE) -> AbUsageError:
        return AbUsageError(f"{self.prog}: {message}", self.usage, exit_code)

    def positive_int(self, option: str, value: str, what: str, *, minimum: int = 1) -> int:
        try:
            number = int(value, 10)
        except ValueError:
            number = None
        if number is None or number < minimum:
            raise self.fail(f"{what}: {option} {value!r} (expected a whole number >= {minimum})")
        return number

    def positive_float(self, option: str, value: str, what: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number <= 0:
            raise self.fail(f"{what}: {option} {value!r} (expected a number of seconds > 0)")
        return number

    def choice(self, option: str, value: str, choices: Sequence[str]) -> str:
        for allowed in choices:
            if value.lower() == allowed.lower():
                return allowed
        raise self.fail(f"invalid value for {option}: {value!r} (expected one of {', '.join(choices)})")

    def set_method(self, option: str, method: str) -> None:
        # ab's err(): "Cannot mix POST with other methods" (exit 1).
        current = self.values.get("_method_flag")
        if current is not None and current != option:
            raise self.fail(f"Cannot mix {method} with other methods ({current} and {option})", EXIT_VALUE)
        self.values["_method_flag"] = option

    def credentials(self, option: str, value: str, what: str) -> str:
        if ":" not in value:
            # The value is likely a secret: name the option, never echo it.
            raise self.fail(f"{option} expects {what} as 'user:password' (no ':' found in the value)")
        return value

    def header(self, value: str) -> tuple[str, str]:
        name, colon, rest = value.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.fullmatch(name):
            # Not echoed: a malformed header line is often a bare key.
            raise self.fail("-H expects a header line 'Name: value'; the value given has no valid 'Name:' prefix")
        return name, rest.strip()

    def apply(self, option: str, value: str) -> None:
        v = self.values
        if option in _UNSUPPORTED:
            raise self.fail(f"option {option} is not supported: {_UNSUPPORTED[option]}")
        if option in _SWITCHES:
            field, setting = _SWITCHES[option]
            v[field] = setting
            return
        if option in _FILE_OPTIONS:
            if not value:
                raise self.fail(f"option {option} needs a file name, got ''")
            v[_FILE_OPTIONS[option]] = value
            return
        match option:
            case "-n":
                try:
                    requests = int(value, 10)
                except ValueError:
                    requests = 0
                if requests <= 0:
                    raise self.fail(
                        f"Invalid number of requests: -n {value!r} (expected a whole number >= 1)", EXIT_VALUE
                    )
                v["requests"] = requests
            case "-c":
                concurrency = self.positive_int("-c", value, "Invalid concurrency level")
                if concurrency > MAX_CONCURRENCY:
                    raise self.fail(f"Invalid Concurrency [Range 1..{MAX_CONCURRENCY}]: -c {value!r}")
                v["concurrency"] = concurrency
            case "-t":
                v["time_limit_s"] = self.positive_float("-t", value, "Invalid time limit")
                v["requests"] = TIMELIMIT_REQUESTS
            case "-s":
                v["timeout_s"] = self.positive_float("-s", value, "Invalid timeout")
            case "-p":
                self.set_method("-p", "POST")
                v["post_file"] = value
            case "-u":
                self.set_method("-u", "PUT")
                v["put_file"] = value
            case "-i":
                self.set_method("-i", "HEAD")
                v["head"] = True
            case "-m":
                if not _TOKEN.fullmatch(value):
                    raise self.fail(f"invalid method: -m {value!r} (expected a method name such as POST)")
                v["method_name"] = value  # as given: ab sends custom methods verbatim
            case _:
                self.apply_request_option(option, value)

    def apply_request_option(self, option: str, value: str) -> None:
        """Options that shape the request's headers (--model-deployment too), and -v."""
        v = self.values
        match option:
            case "-T":
                if not value.strip():
                    raise self.fail("invalid content type: -T '' (expected e.g. application/json)")
                v["content_type"] = value
            case "-H":
                self.headers.append(self.header(value))
            case "--model-deployment":
                if not _TOKEN.fullmatch(value):
                    raise self.fail(
                        f"invalid deployment name: --model-deployment {value!r} "
                        "(expected the name of one of the endpoint's deployments, such as blue)"
                    )
                v["model_deployment"] = value
            case "-C":
                if "=" not in value:
                    # Not echoed: cookie values are often session secrets.
                    raise self.fail("-C expects a cookie 'name=value'; the value given has no '='")
                self.cookies.append(value)
            case "-A":
                v["basic_auth"] = self.credentials("-A", value, "Basic WWW Authentication")
            case "-P":
                v["proxy_auth"] = self.credentials("-P", value, "Basic Proxy Authentication")
            case "-X":
                host, colon, port = value.rpartition(":")
                if not colon or not host:
                    raise self.fail(f"invalid proxy: -X {value!r} (expected proxy:port)")
                number = self.positive_int("-X", port, "invalid proxy port")
                if number > 65535:
                    raise self.fail(f"invalid proxy port: -X {value!r} (expected 1..65535)")
                v["proxy"] = (host, number)
            case "-v":
                try:
                    v["verbosity"] = int(value, 10)
                except ValueError:
                    raise self.fail(f"invalid verbosity: -v {value!r} (expected a whole number)") from None
            case _:
                self.apply_long(option, value)

    def apply_long(self, option: str, value: str) -> None:
        v = self.values
        match option:
            case "--rate":
                try:
                    rate = float(value)
                except ValueError:
                    rate = math.nan
                if not math.isfinite(rate) or rate <= 0:
                    raise self.fail(f"invalid rate: --rate {value!r} (expected requests per second > 0)")
                v["rate"] = rate
            case "--arrivals":
                v["arrivals"] = self.choice(option, value, _ARRIVALS)
            case "--batch-size":
                v["batch_size"] = self.positive_int(option, value, "invalid batch size")
            case "--generation":
                v["generation"] = self.choice(option, value, _GENERATIONS)
            case "--seed":
                v["seed"] = self.positive_int(option, value, "invalid seed", minimum=0)
            case "--workers":
                v["workers"] = self.positive_int(option, value, "invalid number of workers")
            case "--master-host":
                if not value.strip():
                    raise self.fail("invalid master host: --master-host '' (expected a host name or address)")
                v["master_host"] = value
            case "--master-port":
                port = self.positive_int(option, value, "invalid master port")
                if port > 65535:
                    raise self.fail(f"invalid master port: --master-port {value!r} (expected 1..65535)")
                v["master_port"] = port
            case "--expect-workers":
                v["expect_workers"] = self.positive_int(option, value, "invalid number of workers")
            case "--warmup":
                v["warmup"] = self.positive_int(option, value, "invalid warm-up count", minimum=0)
            case "--max-time":
                v["max_time_s"] = self.positive_float(option, value, "invalid maximum time")
            case "--key":
                if not value.strip():
                    raise self.fail("invalid key: --key is empty")
                v["key"] = value
            case "--threshold":
                self.thresholds.append(value)
            case "--sweep" | "--slo" | "--deployment":
                if not value.strip():
                    raise self.fail(f"invalid value for {option}: '' (expected a value)")
                v[option[2:]] = value
            case _:  # pragma: no cover - getopt only returns the options listed above
                raise self.fail(f"unrecognized option '{option}'")


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

    for option, _value in pairs:
        # ab acts on -h and -V as soon as it meets them, before checking anything else.
        if option in ("-h", "--help"):
            return AbOptions(show_help=True)
        if option in ("-V", "--version"):
            return AbOptions(show_version=True)
        if option == "--locustfile":
            return AbOptions(show_locustfile=True)
    for option, value in pairs:
        parser.apply(option, value)

    if len(positionals) > 1:
        raise parser.fail("wrong number of arguments")
    values = parser.values
    values.pop("_method_flag", None)
    options = AbOptions(
        url=positionals[0] if positionals else None,
        headers=tuple(parser.headers),
        cookies=tuple(parser.cookies),
        thresholds=tuple(parser.thresholds),
        **values,  # type: ignore[arg-type]  # keys and types are set by _Parser.apply only
    )
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
