"""Connected sockets to an engine or a registry, from _socket.

The socket module builds its enums when imported, several ms of every action's start-up
(bench/startup.py); _socket is the same object underneath. Only TLS wraps one in socket.socket,
since ssl needs it and loads socket anyway.
"""

from __future__ import annotations

import _socket
import io

from onedock.urls import address


def unix(path: str, timeout: float) -> _socket.socket:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def tcp(hostport: str, default_port: int, timeout: float) -> _socket.socket:
    """Connected to the first address of hostport that answers, Nagle off (requests are one
    write each and wait for their answer)."""
    host, port = address(hostport, default_port)
    failure: OSError = OSError(f"no address for '{host}'")
    for family, kind, proto, _, peer in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(peer)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock
    raise failure


def tls(sock: _socket.socket, context, server_hostname: str):
    import socket  # ssl wraps only socket.socket

    return context.wrap_socket(socket.socket(fileno=sock.detach()),
                               server_hostname=server_hostname)


class _Raw(io.RawIOBase):
    def __init__(self, sock):
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._sock.recv_into(buffer)


def reader(sock) -> io.BufferedReader:
    """Buffered reads of a socket (readline, read1), as socket.makefile("rb") gives."""
    return io.BufferedReader(_Raw(sock), 1 << 16)
