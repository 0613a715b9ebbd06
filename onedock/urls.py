"""The URLs an action meets on its way to an engine: engine URLs, host:port, query strings.

Every action is a fresh process, and urllib.parse adds several ms to its start-up
(bench/startup.py) for these few cases. The registry's own URLs (redirects, upload
locations, token realms) come from the peer and keep urllib.parse, loaded where they are read.
"""

from __future__ import annotations

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def quote(text: str, safe: str = "") -> str:
    """Percent-encoding, as urllib.parse.quote(text, safe) does."""
    keep = _UNRESERVED | frozenset(safe.encode()) if safe else _UNRESERVED
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode())


def encode_query(pairs) -> str:
    """A query string from a dict or from (key, value) pairs, a key repeated as given."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in items)


class URL:
    """scheme://[user@]host[:port]/path, the parts an engine URL has (None where absent)."""

    __slots__ = ("scheme", "username", "hostname", "port", "path")

    def __init__(self, url: str):
        scheme, sep, rest = url.partition("://")
        if not sep:
            scheme, rest = "", url.removeprefix("//")
        self.scheme = scheme.lower()
        netloc, slash, path = rest.partition("/")
        self.path = slash + path
        user, at, hostport = netloc.rpartition("@")
        self.username = user if at else None
        host, self.port = address(hostport)
        self.hostname = host or None


def address(hostport: str, default_port: int | None = None) -> tuple[str, int | None]:
    """(host, port) of "host", "host:port" or "[v6]:port"; a port that is no number is a
    ValueError, as urllib.parse's .port is."""
    host, port = hostport, ""
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest.removeprefix(":")
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    if not port:
        return host.lower(), default_port
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"port '{port[:20]}' is not a number from 0 to 65535")
    return host.lower(), int(port)
