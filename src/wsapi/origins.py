"""Which web pages may open a WebSocket: the handshake's `Origin` checked before the connection is accepted.

Browsers send cookies with a cross-site WebSocket handshake and apply no CORS rule to it, so without this check any
page a logged-in user visits could open an authenticated socket (cross-site WebSocket hijacking). Only browsers send
`Origin`; a handshake without one (a server-side client, a mobile app) is not a page's and passes.

An allowed-origins setting is a list of entries:

- `"https://example.com"`: that scheme, host and port (default ports may be left out);
- `"https://*.example.com"`: any subdomain of example.com, at any depth, not example.com itself;
- `"*"`: any origin, opt-in: logged once as a warning.

The default, `None`, allows the app's own host only: the `Origin`'s host and port equal the handshake's `Host`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.types import Scope

logger = logging.getLogger("wsapi")

ANY = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_DECISIONS_KEPT = 1024
_warned_any = False

__all__ = ["ANY", "OriginPolicy"]


def _split(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, lower-cased with its default port filled in; None if it is not one."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.username:
        return None
    return scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS[scheme]


def _host_port(host: str) -> tuple[str, int | None]:
    """A `Host` header's host and port (None when it names none)."""
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and not name.endswith(":"):  # "[::1]:8000", "example.com:8000"; not a bare IPv6
        return name.strip("[]").lower(), int(port)
    return host.strip("[]").lower(), None


class OriginPolicy:
    """An allowed-origins setting, parsed once; `allows(origin, host)` per handshake."""

    def __init__(self, allowed: Sequence[str] | None = None) -> None:
        self.allowed = None if allowed is None else tuple(allowed)
        self.any = False
        self.exact: set[tuple[str, str, int]] = set()
        self.suffixes: list[tuple[str, str, int]] = []  # (scheme, ".example.com", port)
        # Decisions by (Origin, Host): a handshake from a known page costs a dict lookup, not a URL parse.
        self._decided: dict[tuple[str, str | None], bool] = {}
        if isinstance(allowed, str):
            raise TypeError("allowed_origins is a list of origins, not one string")
        for entry in allowed or ():
            if entry == ANY:
                self.any = True
                continue
            wildcard = "://*." in entry
            parsed = _split(entry.replace("://*.", "://", 1))
            if parsed is None:
                raise ValueError(f"{entry!r} is not an origin such as 'https://example.com' or 'https://*.example.com'")
            scheme, host, port = parsed
            if wildcard:
                self.suffixes.append((scheme, "." + host, port))
            else:
                self.exact.add(parsed)
        if self.any:
            _warn_any_once()

    def allows(self, origin: str | None, host: str | None) -> bool:
        if origin is None or self.any:
            return True
        key = (origin, host)
        allowed = self._decided.get(key)
        if allowed is None:
            allowed = self._decide(origin, host)
            if len(self._decided) >= _DECISIONS_KEPT:  # many origins: an attack, or a misconfiguration
                self._decided.clear()
            self._decided[key] = allowed
        return allowed

    def _decide(self, origin: str, host: str | None) -> bool:
        parsed = _split(origin)
        if parsed is None:  # "null" (sandboxed frames, file:// pages) or garbage
            return False
        if self.allowed is None:
            return host is not None and _same_host(parsed, host)
        if parsed in self.exact:
            return True
        scheme, name, port = parsed
        return any(scheme == s and port == p and name.endswith(suffix) for s, suffix, p in self.suffixes)


def _same_host(origin: tuple[str, str, int], host: str) -> bool:
    name, port = _host_port(host)
    scheme, origin_name, origin_port = origin
    # A Host without a port means the default one of the scheme the page was loaded with.
    return origin_name == name and ((port is None and origin_port == _DEFAULT_PORTS[scheme]) or origin_port == port)


def _warn_any_once() -> None:
    global _warned_any
    if not _warned_any:
        _warned_any = True
        logger.warning("WebSocket origins are not checked (allowed_origins=['*']): any web page can open a socket")


def handshake_origin(scope: Scope) -> tuple[str | None, str | None]:
    """The `Origin` and `Host` headers of a handshake."""
    origin = host = None
    for key, value in scope["headers"]:
        if key == b"origin":
            origin = value.decode("latin-1")
        elif key == b"host":
            host = value.decode("latin-1")
    return origin, host
