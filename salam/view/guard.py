"""What keeps other pages on the user's machine out of the viewer: the Host check against DNS rebinding,
an Origin check on every POST, and headers that forbid framing (clickjacking) and content sniffing.

Written as one small ASGI middleware rather than Starlette's ``TrustedHostMiddleware`` plus a second
middleware, because the three checks share the set of host names the server was started for and one
refusal page.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlparse

LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def allowed_hosts(bound: str) -> set[str]:
    """Host names a request may name: the loopback names, the bound host, and (bound to every interface)
    this machine's own names; an IP literal is always allowed then, since rebinding needs a name."""
    hosts = {*LOCAL_NAMES, bound.lower()}
    if bound in ("0.0.0.0", "::"):
        hosts |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return hosts


def _hostname(host: str) -> str:
    if host.startswith("["):  # [::1]:7777
        return host[1 : host.find("]")].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class LocalOnly:
    """Refuse a request whose Host (or a POST whose Origin) is not this server's; add the security headers."""

    def __init__(self, app: Any, bound: str = "127.0.0.1") -> None:
        self.app = app
        self.hosts = allowed_hosts(bound)
        self.any_ip = bound in ("0.0.0.0", "::")

    def _allowed(self, name: str) -> bool:
        return name in self.hosts or (self.any_ip and _is_ip(name))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _hostname(headers.get(b"host", ""))
        if not self._allowed(host):
            await _refuse(send, f"refused: Host {host!r} is not this viewer's (a page from another site?)")
            return
        if scope.get("method") == "POST":
            origin = headers.get(b"origin") or headers.get(b"referer") or ""
            named = (urlparse(origin).hostname or "").lower() if origin and origin != "null" else None
            if origin == "null" or (named is not None and not self._allowed(named)):
                await _refuse(send, f"refused: a form posted from {origin!r}, not from this viewer")
                return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(send: Any, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
