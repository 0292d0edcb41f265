"""The server's edge: what every request passes before the web page or the API sees it.

``seedqa serve`` wraps the whole app (FastAPI with the Gradio page mounted) in
:class:`Edge`, one ASGI middleware, because the checks must hold for every
route, Gradio's own included, and some must run before a body is read:

1. **Host.** The ``Host`` header must name the server: localhost, the
   loopback addresses, what ``--host`` adds (any IP address where it is a
   wildcard), and the hosts of ``--allow-origin``. A DNS-rebinding page reaches
   the server under its own name and is refused.
2. **Origin.** A request a browser sends for another site's page (``Origin``
   foreign or ``null``, or ``Sec-Fetch-Site: cross-site``/``same-site`` on a
   request that is not a plain navigation) is refused, whatever its method, unless
   the origin was allowed with ``--allow-origin``. Only allowed origins get
   CORS headers; Gradio's own (which echo any localhost origin, with
   credentials) are dropped.
3. **Credentials first.** ``/api`` and ``/v1`` check ``Authorization`` before
   a byte of the body is read (401 with ``WWW-Authenticate``), and failed
   logins, there and at the page's ``/login``, slow a client down
   (:class:`LoginThrottle`: 429 with ``Retry-After``).
4. **Bodies capped before they are read:** a declared ``Content-Length`` over
   the limit, or a chunked body that grows past it, is answered 413.
5. **Headers** on every response: ``nosniff``, no framing, no referrer.

Starlette's CORSMiddleware and TrustedHostMiddleware each do part of 1-2, but
neither refuses a credentialed cross-site POST that needs no preflight (a
``no-cors`` form upload), nor can they run under Gradio's own CORS layer,
which answers localhost origins first; so this is written here, in one place.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 1024 * 1024  # a question is at most 4,000 characters; history fits easily
UPLOAD_SLACK = 64 * 1024  # multipart framing around the 20 MB of a file
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


class EdgeConfigError(ValueError):
    """An --allow-origin that is not an origin (the CLI turns it into a usage error)."""


def normalise_origin(raw: str) -> str:
    """``scheme://host[:port]`` in lower case, as browsers send ``Origin``."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EdgeConfigError(
            f"{raw!r} is not an origin: give scheme and host, e.g. https://qa.example.com"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise EdgeConfigError(
            f"{raw!r} is not an origin: no path, query or user, only scheme://host[:port]"
        )
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without its port or brackets, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass
class LoginThrottle:
    """Failed logins per client: free for the first few, then a doubling wait.

    After ``free`` failures a client must wait 1, 2, 4… seconds (at most
    ``max_wait_s``) before its next try is even checked; a success or
    ``forget_s`` of quiet clears its record. Bounded memory: the oldest
    clients are forgotten past ``max_clients``.
    """

    free: int = 5
    max_wait_s: float = 300.0
    forget_s: float = 900.0
    max_clients: int = 10_000
    clock: object = time.monotonic
    _failures: OrderedDict[str, tuple[int, float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, client: str) -> float:
        """Seconds ``client`` must still wait before a login is checked (0: go ahead)."""
        now = self.clock()
        with self._lock:
            if client not in self._failures:
                return 0.0
            count, last = self._failures[client]
            if now - last > self.forget_s:
                self._failures.pop(client, None)
                return 0.0
            if count < self.free:
                return 0.0
            wait = min(self.max_wait_s, 2.0 ** (count - self.free))
            return max(0.0, last + wait - now)

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            count, _ = self._failures.pop(client, (0, now))
            self._failures[client] = (count + 1, now)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
        log.warning("failed login from %s (%d in a row)", client, count + 1)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


class Credentials:
    """Who may call the API: nobody needs to log in unless --auth or --api-key is set.

    ``Authorization: Bearer KEY`` (the API key) or HTTP Basic with the --auth
    user and password; compared in constant time.
    """

    def __init__(self, auth: tuple[str, str] | None, api_key: str | None) -> None:
        self.auth, self.api_key = auth, api_key

    @property
    def required(self) -> bool:
        return self.auth is not None or self.api_key is not None

    def present(self, header: str) -> bool:
        return bool(header.strip())

    def accept(self, header: str) -> bool:
        if not self.required:
            return True
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.api_key is not None:
            return hmac.compare_digest(value.strip().encode(), self.api_key.encode())
        if scheme.lower() == "basic" and self.auth is not None:
            try:
                user, _, password = (
                    base64.b64decode(value.strip(), validate=True).decode().partition(":")
                )
            except ValueError:
                return False
            ok_user = hmac.compare_digest(user.encode(), self.auth[0].encode())
            ok_password = hmac.compare_digest(password.encode(), self.auth[1].encode())
            return ok_user and ok_password
        return False

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value for a 401."""
        schemes = []
        if self.api_key is not None:
            schemes.append('Bearer realm="seedqa"')
        if self.auth is not None:
            schemes.append('Basic realm="seedqa", charset="UTF-8"')
        return ", ".join(schemes)

    def refusal(self) -> str:
        return "Missing or wrong credentials: send 'Authorization: Bearer <api key>'" + (
            " or HTTP Basic with the --auth user and password." if self.auth else "."
        )


@dataclass
class EdgePolicy:
    """What the edge accepts: host names, foreign origins, credentials, limits."""

    hosts: frozenset[str]
    any_ip: bool = False  # a wildcard bind: any IP literal (IPs cannot be DNS-rebound)
    origins: frozenset[str] = frozenset()
    credentials: Credentials = field(default_factory=lambda: Credentials(None, None))
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    json_limit: int = MAX_JSON_BYTES
    upload_limit: int = 20 * 1024 * 1024 + UPLOAD_SLACK
    # (path, body) -> why the body is refused, or None; run on every body read here
    body_check: Callable[[str, bytes], str | None] | None = None

    @classmethod
    def for_server(
        cls,
        host: str,
        *,
        allow_origins: list[str] | tuple[str, ...] = (),
        auth: tuple[str, str] | None = None,
        api_key: str | None = None,
    ) -> EdgePolicy:
        origins = frozenset(normalise_origin(o) for o in allow_origins)
        hosts = set(LOOPBACK_NAMES)
        wildcard = host.strip("[]") in WILDCARDS
        if wildcard:
            for name in (socket.gethostname(), socket.getfqdn()):
                if name:
                    hosts.add(name.lower())
        else:
            hosts.add(host.strip("[]").lower())
        hosts |= {_host_name(urlsplit(o).netloc) for o in origins}
        return cls(
            hosts=frozenset(hosts),
            any_ip=wildcard,
            origins=origins,
            credentials=Credentials(auth, api_key),
        )

    def host_allowed(self, header: str) -> bool:
        name = _host_name(header)
        return bool(name) and (name in self.hosts or (self.any_ip and _is_ip(name)))


def _plain(status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None):
    body = json.dumps({"error": {"message": message, "type": _kind(status), "code": status}})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *(extra or []),
    ]
    return status, headers, body.encode()


def _kind(status: int) -> str:
    return {
        401: "authentication_error",
        403: "permission_error",
        413: "invalid_request_error",
        429: "rate_limit_error",
    }.get(status, "invalid_request_error")


class _TooLarge(Exception):
    pass


class Edge:
    """ASGI middleware applying :class:`EdgePolicy` to every HTTP request (see module doc)."""

    def __init__(self, app, policy: EdgePolicy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope.get("method", "GET").upper()
        path = scope.get("path", "")
        client = (scope.get("client") or ("unknown", 0))[0]

        refusal = self._refusal(scope, headers, method, path, client)
        if refusal is not None:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await self._respond(send, *refusal)

        origin = headers.get("origin")
        cors = origin is not None and origin != "null" and _same(origin) in self.policy.origins
        if method == "OPTIONS" and cors and "access-control-request-method" in headers:
            return await self._respond(send, 204, self._cors_headers(origin, preflight=True), b"")

        login = _is_login(method, path)
        status_seen: list[int] = []

        async def guarded_send(message):
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                kept = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not k.lower().startswith(b"access-control-")
                    and k.lower() not in _SECURITY_NAMES
                ]
                kept += SECURITY_HEADERS
                if cors:
                    kept += self._cors_headers(origin)
                message = {**message, "headers": kept}
            await send(message)

        limit = self._limit(method, path)
        if limit is not None:
            too_large = _plain(413, f"The request body is larger than {limit // 1024:,} KB.")
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                return await self._respond(send, *too_large)
            try:
                receive, body = await _buffered(receive, limit)
            except _TooLarge:
                return await self._respond(send, *too_large)
            check = self.policy.body_check
            why = check(path, body) if check is not None else None
            if why is not None:
                log.warning("refused %s %s from %s: %s", method, path, client, why)
                return await self._respond(send, *_plain(400, why))
        await self.app(scope, receive, guarded_send)
        if login and status_seen:
            if status_seen[0] == 200:
                self.policy.throttle.succeeded(client)
            elif status_seen[0] in (400, 401, 403):
                self.policy.throttle.failed(client)

    def _refusal(self, scope, headers: dict[str, str], method: str, path: str, client: str):
        """Why this request is refused, as (status, headers, body), or None."""
        if not self.policy.host_allowed(headers.get("host", "")):
            log.warning("refused a request for host %r from %s", headers.get("host"), client)
            return _plain(
                400,
                "Unknown host name in the request: reach the server by the address it "
                "listens on (or start it with --allow-origin for a front end).",
            )
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site", "")
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '').lower()}"
        if origin is not None:
            foreign = _same(origin) != _same(own) and _same(origin) not in self.policy.origins
        else:
            navigation = method in SAFE_METHODS and headers.get("sec-fetch-mode") in (
                None,
                "navigate",
            )
            foreign = fetch_site in ("cross-site", "same-site") and not navigation
        if foreign:
            log.warning("refused a cross-origin %s %s from %r", method, path, origin or fetch_site)
            return _plain(
                403,
                "Cross-origin request refused: only the server's own page may call it "
                "(start it with --allow-origin ORIGIN for a front end served elsewhere).",
            )
        guarded = path.startswith(("/api/", "/v1/")) and path != "/api/health"
        if (guarded and self.policy.credentials.required) or _is_login(method, path):
            wait = self.policy.throttle.retry_after(client)
            if wait > 0:
                return _plain(
                    429,
                    f"Too many failed logins: try again in {wait:.0f} s.",
                    [(b"retry-after", str(max(1, round(wait))).encode())],
                )
        if guarded and method != "OPTIONS":
            creds = self.policy.credentials
            header = headers.get("authorization", "")
            if not creds.accept(header):
                if creds.present(header):
                    self.policy.throttle.failed(client)
                return _plain(
                    401,
                    creds.refusal(),
                    [(b"www-authenticate", creds.challenge().encode())],
                )
            if creds.required and creds.present(header):
                self.policy.throttle.succeeded(client)
        return None

    def _limit(self, method: str, path: str) -> int | None:
        """The body limit for this request; None where Gradio enforces its own."""
        if method in ("GET", "HEAD", "OPTIONS"):
            return None
        if path.startswith("/gradio_api/upload"):
            return None  # Gradio streams uploads to disk under max_file_size
        if path.startswith("/api/") and path.endswith("/documents"):
            return self.policy.upload_limit
        return self.policy.json_limit

    def _cors_headers(self, origin: str, preflight: bool = False) -> list[tuple[bytes, bytes]]:
        out = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]
        if preflight:
            out += [
                (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
                (b"access-control-allow-headers", b"authorization, content-type"),
                (b"access-control-max-age", b"600"),
            ]
        return out

    async def _respond(self, send, status: int, headers, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, *SECURITY_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _is_login(method: str, path: str) -> bool:
    """The page's login form (Gradio's ``POST /login``), whose failures are counted."""
    return method == "POST" and path.rstrip("/") == "/login"


def _same(origin: str) -> str:
    """An origin or ``scheme://host`` string in the form :func:`normalise_origin` gives."""
    try:
        return normalise_origin(origin)
    except (EdgeConfigError, ValueError):
        return origin.strip().lower()


async def _buffered(receive, limit: int):
    """Read the whole body (at most ``limit`` bytes, else _TooLarge) and replay it.

    Reading it here, not in the app, is what makes an oversized chunked body a
    413: FastAPI turns any error raised while it reads a body into a 400.
    """
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            chunks = []
            break
        if message["type"] == "http.request":
            body = message.get("body", b"")
            seen += len(body)
            if seen > limit:
                raise _TooLarge
            chunks.append(body)
            if not message.get("more_body", False):
                break
    data = b"".join(chunks)
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        return await receive()

    return replay, data
