"""HTTP connections to registries and Docker engines, on the standard library's http.client.

Every driver action is a fresh process, so what an action imports is paid on every VM
operation; http.client costs a fraction of requests/urllib3 (see bench/startup.py) and is all a
short-lived process with one or two peers needs. Engines are reached over a unix socket,
over TCP, or over `ssh HOST docker system dial-stdio` (no remote shell command is built).
"""

from __future__ import annotations

import http.client
import re
import shlex
import socket
import subprocess
import threading
from collections.abc import Callable
from typing import IO
from urllib.parse import urlsplit

from onedock.errors import OneDockError, unreachable

BLOCK = 1 << 20  # body chunk http.client sends; its 8 KiB default caps blob copies
_SSH_TARGET = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def ssh_argv(url: str, host: str, command: list[str]) -> list[str]:
    """`ssh` running `command` on a host, reached as its engine is: the user, host and port of
    an ssh:// engine URL, else the host's name. The remote command is one quoted string, so
    the far side's shell sees the words given and nothing else."""
    parts = urlsplit(url)
    argv = ["ssh", "-o", "BatchMode=yes"]
    target = host
    if parts.scheme == "ssh":
        target = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname or ""
        if parts.port:
            argv += ["-p", str(parts.port)]
    if not _SSH_TARGET.match(target):
        raise OneDockError(f"'{target[:80]}' is not a valid ssh host")
    return [*argv, "--", target, shlex.join(command)]


class SshConnection(http.client.HTTPConnection):
    """HTTP over `docker system dial-stdio` on the far side of ssh, as `docker -H ssh://` does."""

    def __init__(self, url: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._argv = ssh_argv(url, "", ["docker", "system", "dial-stdio"])
        self._proc: subprocess.Popen | None = None

    def connect(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                self._argv, stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL
            )
        except OSError as exc:
            ours.close()
            raise OneDockError(f"cannot run ssh: {exc.strerror}") from exc
        finally:
            theirs.close()
        ours.settimeout(self.timeout)
        self.sock = ours

    def close(self) -> None:
        super().close()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()
            self._proc = None


def engine_connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return UnixConnection(parts.path, timeout)
    if parts.scheme == "tcp":
        return http.client.HTTPConnection(parts.hostname or "", parts.port or 2375, timeout=timeout)
    if parts.scheme == "ssh":
        return SshConnection(url, timeout)
    raise OneDockError(f"unsupported Docker engine URL '{url}'", hint="use unix://, tcp:// or ssh://")


def registry_connection(
    host: str, *, secure: bool, ca: str, timeout: float
) -> http.client.HTTPConnection:
    if not secure:
        return http.client.HTTPConnection(host, timeout=timeout, blocksize=BLOCK)
    import ssl  # only TLS registries pay for it

    context = ssl.create_default_context(cafile=ca or None)
    return http.client.HTTPSConnection(host, timeout=timeout, context=context, blocksize=BLOCK)


class Peer:
    """What the engine and registry clients share: a keep-alive connection per thread (blob
    copies run in parallel) and one failure when the peer does not answer at all."""

    def __init__(self, name: str, connect: Callable[[], http.client.HTTPConnection], hint: str,
                 address: str = ""):
        self.name = name
        self._address = address
        self._connect = connect
        self._hint = hint
        self._local = threading.local()

    def connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def send(self, method: str, path: str, headers: dict,
             body: bytes | IO[bytes] | None) -> http.client.HTTPResponse:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers)
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise unreachable(self.name, self._address, exc, self._hint) from exc
