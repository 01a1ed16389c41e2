"""The key-checking gateway: nginx in front of the inference server, as Azure's front end sits in front of it.

Azure checks scoring keys before a request reaches the container, so bankscore does not patch the server:
nginx answers 401 for a missing or wrong key (or ``Bearer`` without one), 400 (text/plain, ACI's exact words)
for an Authorization header of another scheme, strips the header before proxying (the key never reaches the
server or its logs), and logs one JSON line per request without the key. The scheme is matched without regard
to case (RFC 9110 section 11.1), the key exactly.

With keys, the gateway also adds a per-deployment secret header that the server requires (``_launch``
answers 403 without it): the server's backend port is on loopback, where any local process could otherwise
score without a key. The secret is only in two private files (mode 0600), ``nginx.conf`` and
``gateway.secret``, which the server reads (the file's path, not the secret, is in its environment): never in
a log, a command line or a process's environment.

A hung server must not hang its callers: the gateway waits ``UPSTREAM_TIMEOUT_S`` seconds for the server's
answer, then answers 504 itself, and 502 at once when nothing takes the connection (a server being
restarted), both as ``{"message": ...}`` like the server's own errors. Azure's front end answers such calls
itself too (its documentation lists 502 for a container that crashed and 504/408 for one that did not answer
in time; its default ``request_timeout_ms`` is 5 s, at most 180 s).

The gateway must not fall to idle connections (a caller that opens sockets and sends nothing): it may hold
as many connections as the open-file limit allows, and drops, with a reset, a connection that has not sent its
request header within ``IDLE_TIMEOUT_S`` seconds. No per-address connection limit: every local caller,
legitimate load tests included, comes from 127.0.0.1, and nginx counts a connection against such a limit
only once its header has arrived, so an idle one would not be counted anyway.

A deployment without keys gets the same nginx in front, as a plain pass-through: the public port then belongs
to nginx, not to one server process, so a redeploy can start a new server on another backend port and switch
nginx to it with ``nginx -s reload`` (SIGHUP) without a refused or reset connection (see ``_local.py``).

One gateway serves an endpoint's deployments (``_traffic.Routing``), as Azure's front end does: a request that
names one in the ``azureml-model-deployment`` header goes there (an unknown name gets 404), any other follows
the traffic split, a hash of nginx's random ``$request_id`` (``split_clients``), so each request is an
independent draw with the deployment's weight. Every answer a deployment gave carries the header naming it.
A mirror copies a share of the split's requests (a second, independent draw; never a pinned request, as on
Azure) to its deployment with nginx's ``mirror``: nginx discards the copy's answer, the caller gets the live one.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
from pathlib import Path

from bankscore._facts import DEPLOYMENT_HEADER
from bankscore.deploy._traffic import Routing

__all__ = [
    "GATEWAY_SECRET_HEADER",
    "IDLE_TIMEOUT_S",
    "KEEPALIVE_TIMEOUT_S",
    "MALFORMED_AUTH_MESSAGE",
    "SECRET_FILE_ENV",
    "UPSTREAM_TIMEOUT_S",
    "find_nginx",
    "new_key",
    "new_secret",
    "nginx_config",
    "read_secret",
]

MALFORMED_AUTH_MESSAGE = (
    'Authorization header is malformed. Header should be in the form: "Authorization: Bearer <token>"'
)


# The header the gateway adds so that the server can tell its calls from any other local process's, and the
# environment variable that tells the server (and its supervisor) which file holds the secret (see _launch).
GATEWAY_SECRET_HEADER = "X-Bankscore-Gateway"  # noqa: S105 - the header's name, not a secret
SECRET_FILE_ENV = "BANKSCORE_GATEWAY_SECRET_FILE"  # noqa: S105 - the variable's name, not a secret

# Seconds the gateway waits for the server's answer before it answers 504 (and for a connection, 502): far
# more than a batch at the body limit takes to score, short enough that a hung server fails its callers fast.
UPSTREAM_TIMEOUT_S = 20
_CONNECT_TIMEOUT_S = 5

# Seconds a client may take to send its request header, or between two reads of its body or two writes of
# the answer: far more than any caller on a working network needs, short enough that idle sockets go quickly.
IDLE_TIMEOUT_S = 10

# Seconds a caller's kept-alive connection may wait idle for its next request. nginx closes idle kept-alive
# connections first when it runs short of connections, so they cannot starve new callers either.
KEEPALIVE_TIMEOUT_S = 60

# Open files the nginx worker asks for, at most: each connection is one file (a proxied request two).
MAX_OPEN_FILES = 16384
# Files the worker keeps for itself besides connections: logs, the listening socket, temporary bodies.
_RESERVED_FILES = 64


def new_key() -> str:
    """A 32-character key, the length of Azure's scoring keys."""
    return secrets.token_urlsafe(24)


def new_secret() -> str:
    """The gateway's secret for the server: as strong as a key, and never shown to anyone."""
    return secrets.token_urlsafe(32)


def open_file_limit() -> int:
    """The most files the worker can open: the hard limit (which an unprivileged process may raise its
    soft limit to), capped at ``MAX_OPEN_FILES``."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)


def read_secret() -> str:
    """The gateway's secret, from the file ``SECRET_FILE_ENV`` names ('' when it names none)."""
    path = os.environ.get(SECRET_FILE_ENV, "")
    return Path(path).read_text().strip() if path else ""


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pcre_literal(text: str) -> str:
    """``text`` matched literally inside a PCRE pattern."""
    return "".join("\\" + ch if not ch.isalnum() and ch != "_" else ch for ch in text)


def nginx_config(
    *,
    run_dir: Path,
    port: int,
    backend_port: int | None = None,
    keys: list[str] | None,
    max_body_bytes: int,
    secret: str | None = None,
    routing: Routing | None = None,
) -> str:
    """A complete nginx.conf that runs in the foreground with every file inside ``run_dir``.

    With ``keys`` it is the key-checking gateway (which sends ``secret`` to the server in
    ``GATEWAY_SECRET_HEADER``); without, a pass-through that answers like the server itself. ``routing``: the
    endpoint's deployments; without, one deployment (blue) on ``backend_port``.
    """
    if keys and not secret:
        raise ValueError("a gateway that checks keys needs the secret the server requires")
    if routing is None:
        if backend_port is None:
            raise ValueError("give the backend port or the routing")
        routing = Routing(backends={"blue": backend_port}, traffic={"blue": 100})
    user = "user root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    temp = run_dir / "nginx-temp"
    if keys and secret:
        server = _keyed_server(port, routing, keys, max_body_bytes, secret)
    else:
        server = _open_server(port, routing)
    files = open_file_limit()
    return f"""# Written by bankscore deploy: the gateway in front of the inference server. May hold keys: mode 0600.
{user}daemon off;
worker_processes 1;
pid {run_dir / "nginx.pid"};
error_log {run_dir / "gateway-error.log"} warn;
worker_rlimit_nofile {files};
events {{ worker_connections {max(files - _RESERVED_FILES, 512)}; }}
http {{
    # Idle connections (see the module's docstring): a short wait for the header, then a reset (RST), which
    # frees the socket at once instead of leaving it in FIN_WAIT for a client that never reads.
    client_header_timeout {IDLE_TIMEOUT_S}s;
    client_body_timeout {IDLE_TIMEOUT_S}s;
    send_timeout {IDLE_TIMEOUT_S}s;
    reset_timedout_connection on;
    client_body_temp_path {temp / "body"};
    proxy_temp_path {temp / "proxy"};
    fastcgi_temp_path {temp / "fastcgi"};
    uwsgi_temp_path {temp / "uwsgi"};
    scgi_temp_path {temp / "scgi"};
    # Exactly the script's limit: nginx itself answers 413 for anything larger, before proxying a byte (a
    # server that answers 413 before reading the whole body makes nginx's upload fail: a race, then a 502).
    client_max_body_size {max_body_bytes};
    client_body_buffer_size 1m;
    server_tokens off;
    # Callers' connections are kept alive, as Azure's front end keeps them (the server behind answers
    # `Connection: close`, so nginx opens one upstream connection per request on loopback). A reload (a
    # redeploy, a key change) makes the old worker close its idle keep-alive connections at once: a request
    # already on its way on one meets a closed connection before any answer, and is sent again on a new one
    # (bankscore's client retries it, bankscore-bench and ab reopen the connection, as HTTP allows for a
    # connection closed while idle).
    keepalive_timeout {KEEPALIVE_TIMEOUT_S}s;
    # A hung or restarting server (see the module's docstring): an answer, never a caller left waiting.
    proxy_connect_timeout {_CONNECT_TIMEOUT_S}s;
    proxy_send_timeout {UPSTREAM_TIMEOUT_S}s;
    proxy_read_timeout {UPSTREAM_TIMEOUT_S}s;
    log_format bankscore escape=json '{{"event":"gateway","time":"$time_iso8601","request_id":"$bankscore_request_id",'
        '"method":"$request_method","path":"$uri","status":$status,"latency_ms":$request_time,'
        '"auth":"$bankscore_auth","bytes_in":"$request_length","deployment":"$bankscore_served"}}';
    access_log {run_dir / "gateway.log"} bankscore;

    # Keep the caller's request id (the server echoes it); give one to calls that come without.
    map $http_x_request_id $bankscore_request_id {{
        "" $request_id;
        default $http_x_request_id;
    }}

    # The server's own two messages for a body over the limit (score_script): with and without Content-Length.
    map $http_content_length $bankscore_too_large {{
        "" "the body exceeds {max_body_bytes} bytes";
        default "the body has $http_content_length bytes; this deployment takes at most {max_body_bytes}";
    }}
{_routing_maps(routing)}{server}}}
"""


# The gateway's own answers when the server cannot (see the module's docstring), in the server's error shape.
_BAD_GATEWAY = "Bad Gateway: the scoring server is not running (it is restarted by itself); retry"
_TIMED_OUT = f"upstream request timeout: the scoring server did not answer in {UPSTREAM_TIMEOUT_S} s"
_UPSTREAM_ERRORS = f"""        error_page 502 = @bad_gateway;
        error_page 504 = @upstream_timeout;
        location @bad_gateway {{
            default_type application/json;
            return 502 '{{"message": "{_BAD_GATEWAY}"}}';
        }}
        location @upstream_timeout {{
            default_type application/json;
            return 504 '{{"message": "{_TIMED_OUT}"}}';
        }}
"""

# The scheme in any case (RFC 9110: auth-scheme is case-insensitive), then one or more spaces (RFC 6750: 1*SP).
_BEARER = "^(?i:bearer)"


def _keyed_server(port: int, routing: Routing, keys: list[str], max_body_bytes: int, secret: str) -> str:
    # Regexes, not plain strings: nginx compares a map's plain strings case-insensitively, and a key is not.
    # nginx tries the regexes in order: a right key, then Bearer without a key, then Bearer with another one.
    exact = "\n".join(f"        {_quote('~' + _BEARER + ' +' + _pcre_literal(key) + '$')} ok;" for key in keys)
    return f"""
    map $http_authorization $bankscore_auth {{
        default bad;
        "" missing;
{exact}
        {_quote("~" + _BEARER + "$")} missing;
        {_quote("~" + _BEARER + " ")} wrong;
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        proxy_http_version 1.1;
        proxy_set_header Authorization "";
        proxy_set_header {GATEWAY_SECRET_HEADER} {_quote(secret)};
        proxy_set_header X-Request-Id $bankscore_request_id;
        proxy_set_header Host $host;
        add_header {DEPLOYMENT_HEADER} $bankscore_served always;

        location = /score {{
            default_type text/plain;
            if ($bankscore_auth = missing) {{ return 401; }}
            if ($bankscore_auth = wrong) {{ return 401; }}
            if ($bankscore_auth = bad) {{ return 400 {_quote(MALFORMED_AUTH_MESSAGE)}; }}
{_route(routing, score=True)}        }}
        location / {{
{_route(routing, score=False)}        }}
{_mirror_location(routing)}{_UPSTREAM_ERRORS}{_NO_DEPLOYMENT}        error_page 401 = @unauthorized;
        error_page 413 = @too_large;
        location @unauthorized {{
            default_type application/json;
            add_header WWW-Authenticate "Bearer" always;
            return 401 '{{"message": "Unauthorized: send Authorization: Bearer <key> with a key of this deployment"}}';
        }}
        location @too_large {{
            default_type application/json;
            return 413 '{{"message": "the body exceeds {max_body_bytes} bytes"}}';
        }}
    }}
"""


def _open_server(port: int, routing: Routing) -> str:
    # Requests pass unchanged (Host and Authorization included); only an oversized body is answered here,
    # with the server's own words and headers, for the reason given at client_max_body_size.
    return f"""
    map $http_authorization $bankscore_auth {{
        default none;
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        add_header {DEPLOYMENT_HEADER} $bankscore_served always;

        location = /score {{
{_route(routing, score=True)}        }}
        location / {{
{_route(routing, score=False)}        }}
{_mirror_location(routing)}{_UPSTREAM_ERRORS}{_NO_DEPLOYMENT}        error_page 413 = @too_large;
        location @too_large {{
            default_type application/json;
            add_header x-ms-run-function-failed False always;
            return 413 '{{"message": "$bankscore_too_large"}}';
        }}
    }}
"""


# Azure's words for an endpoint whose traffic is all 0 (its troubleshooting page, "HTTP status codes").
NO_POSITIVE_WEIGHT = "The endpoint doesn't have any valid deployment with positive weight"
_MIRROR_URI = "/_bankscore_mirror"
# What the routing map gives a request whose header names no deployment of the endpoint.
_UNKNOWN = "-"

# A request for no deployment: nginx's own 404 (a deployment's 404 passes through untouched: nginx intercepts
# only its own errors), answered in the server's error shape.
_NO_DEPLOYMENT = """        error_page 404 = @no_deployment;
        location @no_deployment {
            default_type application/json;
            return 404 '{"message": "$bankscore_no_deployment"}';
        }
"""


def _upstream(deployment: str) -> str:
    return f"bankscore_deployment_{deployment}"


def _routing_maps(routing: Routing) -> str:
    """The deployment each request goes to (``$bankscore_deployment``) and what the answer says about it."""
    upstreams = "".join(
        f"    upstream {_upstream(name)} {{ server 127.0.0.1:{port}; }}\n" for name, port in routing.backends.items()
    )
    live = [(name, percent) for name, percent in routing.traffic.items() if percent > 0]
    if live:
        # The last share is "*": the rest, so rounding never leaves a request without a deployment.
        shares = [f"        {percent}% {name};" for name, percent in live[:-1]] + [f"        * {live[-1][0]};"]
        split = '    split_clients "${request_id}" $bankscore_split {\n' + "\n".join(shares) + "\n    }\n"
    else:
        split = '    map $request_id $bankscore_split { default ""; }\n'
    header = "$http_" + DEPLOYMENT_HEADER.replace("-", "_")
    pinned = "".join(f"        {_quote(name)} {name};\n" for name in routing.backends)
    known = ", ".join(sorted(routing.backends))
    mirror = ""
    for name, percent in routing.mirror.items():
        mirror = (
            f'    split_clients "${{request_id}}-mirror" $bankscore_mirror_draw {{\n'
            f"        {percent}% yes;\n        * no;\n    }}\n"
            # Only the split's requests are copied: never one pinned to a deployment by the header.
            f'    map "{header}:$bankscore_mirror_draw" $bankscore_mirrored {{\n'
            f'        ":yes" {name};\n        default "";\n    }}\n'
        )
    return f"""
{upstreams}{split}
    # A deployment named in the {DEPLOYMENT_HEADER} header, whatever the split; else the split.
    map {header} $bankscore_deployment {{
        "" $bankscore_split;
{pinned}        default {_UNKNOWN};
    }}
    # Only answers that came from a deployment name it (not the gateway's own 401, 400 or 404).
    map $upstream_addr $bankscore_served {{
        "" "";
        default $bankscore_deployment;
    }}
    # A name is repeated in the answer only when it cannot break the JSON around it.
    map {header} $bankscore_named {{
        "~^[A-Za-z0-9_.-]{{1,64}}$" "named '{header}'";
        default "by the name in the {DEPLOYMENT_HEADER} header";
    }}
    map $bankscore_deployment $bankscore_no_deployment {{
        "" "{NO_POSITIVE_WEIGHT}";
        default "No deployment $bankscore_named in this endpoint; its deployments: {known}";
    }}
{mirror}"""


def _route(routing: Routing, *, score: bool) -> str:
    """A location's way to its deployment; scoring requests are also the ones a mirror copies."""
    mirror = f"            mirror {_MIRROR_URI};\n" if score and routing.mirror else ""
    return (
        f'            if ($bankscore_deployment = "") {{ return 404; }}\n'
        f'            if ($bankscore_deployment = "{_UNKNOWN}") {{ return 404; }}\n'
        f"{mirror}"
        f"            proxy_pass http://bankscore_deployment_$bankscore_deployment;\n"
    )


def _mirror_location(routing: Routing) -> str:
    if not routing.mirror:
        return ""
    (name,) = routing.mirror
    return f"""        location = {_MIRROR_URI} {{
            internal;
            if ($bankscore_mirrored = "") {{ return 204; }}
            proxy_pass http://{_upstream(name)}$request_uri;
        }}
"""
