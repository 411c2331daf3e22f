"""Serve the explorer: the address it binds, the token that guards any address but this
machine's own, and the Panel server.

On 127.0.0.1 (the default) only this machine reaches the page. On any other host the server
requires a token, printed at start: a request must carry ``?token=...`` (which sets a cookie for
the page's later requests and its websocket) or that cookie; anything else gets 403.
"""

from __future__ import annotations

import errno
import hmac
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler
from tornado.websocket import WebSocketHandler

from simengine.errors import SimEngineError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
COOKIE = "simengine_explore_token"
REFUSED_PATH = "/token-required"


def needs_token(host: str) -> bool:
    """True unless ``host`` is this machine's loopback address."""
    return host not in LOOPBACK


def new_token() -> str:
    return secrets.token_urlsafe(18)


class _Refused(RequestHandler):
    """Where a request without the token ends: 403 and what to do."""

    def get(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("403: this simengine explorer needs the token printed when it started: open "
                   "the address it printed, which ends in ?token=...\n")


class TokenAuth(AuthProvider):
    """Bokeh auth provider: a request is let in with the right token, as ``?token=`` or as the
    cookie that such a request sets (HttpOnly, SameSite=Strict)."""

    def __init__(self, token: str):
        if not token:
            raise SimEngineError("token: expected a non-empty token, found none")
        self.token = token
        super().__init__()

    def _match(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def _user(self, handler: RequestHandler) -> str | None:
        if self._match(handler.get_cookie(COOKIE)):
            return "token"
        if self._match(handler.get_argument("token", None)):
            if not isinstance(handler, WebSocketHandler):
                handler.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
            return "token"
        return None

    @property
    def get_user(self) -> Callable[[RequestHandler], str | None]:
        return self._user

    @property
    def login_url(self) -> str:
        return REFUSED_PATH

    @property
    def login_handler(self) -> type[RequestHandler]:
        return _Refused


def _bind(host: str, port: int) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, port))
        return int(s.getsockname()[1])


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at the moment (the OS picks it)."""
    return _bind(host, 0)


@dataclass(frozen=True)
class Access:
    """Where the explorer listens and the address a user opens."""

    host: str
    port: int
    token: str | None

    @property
    def url(self) -> str:
        shown = self.host
        if self.host in ("0.0.0.0", "::", ""):
            shown = socket.gethostname()
        if ":" in shown:
            shown = f"[{shown}]"
        q = f"?token={quote(self.token)}" if self.token else ""
        return f"http://{shown}:{self.port}/{q}"

    @property
    def origins(self) -> list[str]:
        """Websocket origins the server accepts (any, behind the token, on a wildcard host)."""
        if self.host in ("0.0.0.0", "::", ""):
            return ["*"]
        hosts = ["127.0.0.1", "localhost"] if self.host in LOOPBACK else [self.host]
        return [f"{h}:{self.port}" for h in hosts]


def access(host: str = "127.0.0.1", port: int | None = None, token: str | None = None) -> Access:
    """The access plan: a free port when none is given (or 0), a new token off loopback."""
    if port is not None and not 0 <= int(port) < 65536:
        raise SimEngineError(f"--port: expected a port number 0-65535, found {port}")
    probe = "127.0.0.1" if host in ("", "localhost") else host
    try:
        port = _bind(probe, int(port or 0))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SimEngineError(f"--port {port}: expected a free port on {host}, found it in "
                                 f"use (--port 0 picks a free one)") from None
        raise SimEngineError(f"--host {host}: expected an address this machine can listen on"
                             f"{f' at port {port}' if port else ''}, found that it cannot "
                             f"({exc.strerror})") from None
    if token is None and needs_token(host):
        token = new_token()
    return Access(host, port, token)


def serve(explorer, acc: Access, *, threaded: bool = False, title: str | None = None):
    """Start the Panel server of ``explorer`` (blocking unless ``threaded``).

    Returns the server thread (``.stop()`` ends it) when ``threaded``; otherwise returns when
    the server stops.
    """
    import panel as pn

    from simengine.explore.app import page

    opts = {}
    if acc.token:
        opts["auth_provider"] = TokenAuth(acc.token)
    return pn.serve({"/": lambda: page(explorer)}, port=acc.port, address=acc.host,
                    websocket_origin=acc.origins, show=False, threaded=threaded, start=True,
                    title=title or f"simengine explore: {explorer.scenario.name}",
                    verbose=False, **opts)
