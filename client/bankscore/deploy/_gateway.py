"""The key-checking gateway: nginx in front of the inference server, as Azure's front end sits in front of it.

Azure checks scoring keys before a request reaches the container, so bankscore does not patch the server:
nginx answers 401 for a missing or wrong key, 400 (text/plain, ACI's exact words) for an Authorization
header without ``Bearer ``, strips the header before proxying (the key never reaches the server or its
logs), and logs one JSON line per request without the key.

A deployment without keys gets the same nginx in front, as a plain pass-through: the public port then belongs
to nginx, not to one server process, so a redeploy can start a new server on another backend port and switch
nginx to it with ``nginx -s reload`` (SIGHUP) without a refused or reset connection (see ``_local.py``).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

__all__ = ["MALFORMED_AUTH_MESSAGE", "find_nginx", "new_key", "nginx_config"]

MALFORMED_AUTH_MESSAGE = (
    'Authorization header is malformed. Header should be in the form: "Authorization: Bearer <token>"'
)


def new_key() -> str:
    """A 32-character key, the length of Azure's scoring keys."""
    return secrets.token_urlsafe(24)


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pcre_literal(text: str) -> str:
    """``text`` matched literally inside a PCRE pattern."""
    return "".join("\\" + ch if not ch.isalnum() and ch != "_" else ch for ch in text)


def nginx_config(*, run_dir: Path, port: int, backend_port: int, keys: list[str] | None, max_body_bytes: int) -> str:
    """A complete nginx.conf that runs in the foreground with every file inside ``run_dir``.

    With ``keys`` it is the key-checking gateway; without, a pass-through that answers like the server itself.
    """
    user = "user root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    temp = run_dir / "nginx-temp"
    server = _keyed_server(port, backend_port, keys, max_body_bytes) if keys else _open_server(port, backend_port)
    return f"""# Written by bankscore deploy: the gateway in front of the inference server. May hold keys: mode 0600.
{user}daemon off;
worker_processes 1;
pid {run_dir / "nginx.pid"};
error_log {run_dir / "gateway-error.log"} warn;
events {{ worker_connections 1024; }}
http {{
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
    # One request per client connection, as the server itself does (it answers `Connection: close`). A reload
    # (the zero-downtime redeploy) makes the old worker close its idle keep-alive connections at once, and a
    # request already on its way on one of them meets a reset (a failed request under keep-alive load).
    # Without keep-alive no connection is ever idle, and every accepted one is answered.
    keepalive_timeout 0;
    log_format bankscore escape=json '{{"event":"gateway","time":"$time_iso8601","request_id":"$bankscore_request_id",'
        '"method":"$request_method","path":"$uri","status":$status,"latency_ms":$request_time,'
        '"auth":"$bankscore_auth","bytes_in":"$request_length"}}';
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
{server}}}
"""


def _keyed_server(port: int, backend_port: int, keys: list[str], max_body_bytes: int) -> str:
    # Regexes, not plain strings: nginx compares a map's plain strings case-insensitively, and a key is not.
    exact = "\n".join(f"        {_quote('~^Bearer ' + _pcre_literal(key) + '$')} ok;" for key in keys)
    return f"""
    map $http_authorization $bankscore_auth {{
        default bad;
        "" missing;
{exact}
        "~^Bearer " wrong;
    }}

    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Authorization "";
        proxy_set_header X-Request-Id $bankscore_request_id;
        proxy_set_header Host $host;

        location = /score {{
            default_type text/plain;
            if ($bankscore_auth = missing) {{ return 401; }}
            if ($bankscore_auth = wrong) {{ return 401; }}
            if ($bankscore_auth = bad) {{ return 400 {_quote(MALFORMED_AUTH_MESSAGE)}; }}
            proxy_pass http://127.0.0.1:{backend_port};
        }}
        location / {{
            proxy_pass http://127.0.0.1:{backend_port};
        }}
        error_page 401 = @unauthorized;
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


def _open_server(port: int, backend_port: int) -> str:
    # Requests pass unchanged (Host and Authorization included); only an oversized body is answered here,
    # with the server's own words and headers, for the reason given at client_max_body_size.
    return f"""
    map $http_authorization $bankscore_auth {{
        default none;
    }}

    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Host $host;

        location / {{
            proxy_pass http://127.0.0.1:{backend_port};
        }}
        error_page 413 = @too_large;
        location @too_large {{
            default_type application/json;
            add_header x-ms-run-function-failed False always;
            return 413 '{{"message": "$bankscore_too_large"}}';
        }}
    }}
"""
