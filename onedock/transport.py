"""Connections to registries and Docker engines, and the ssh argv that reaches a host.

Engines are reached over a unix socket, over TCP, or over `ssh HOST docker system dial-stdio`
(no remote shell command is built); registries over TCP, with TLS unless declared insecure.
All speak HTTP/1.1 through onedock.http1.
"""

from __future__ import annotations

import _socket
import os
import re
import shlex
import stat
from _thread import _local as thread_local  # threading.local, without importing threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from onedock import sockets
from onedock.errors import OneDockError, unreachable
from onedock.http1 import Connection, Response
from onedock.urls import URL

if TYPE_CHECKING:
    from onedock.config import Config

_SSH_TARGET = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


def ssh_options(cfg: Config) -> tuple[str, ...]:
    """What every ssh of this process adds: onedock's ssh_config file, and connection sharing.

    A TM action on the front-end reaches a host's engine over ssh, and the handshake is most of
    a warm clone (bench/image_path.py). With ssh_persist, the first ssh to a host leaves a
    master connection that later actions reuse until it has been idle that many seconds, as
    OpenNebula's own ssh configuration does for its drivers. The masters' sockets live in a
    directory of this user's under state_dir; when that cannot be had, each ssh connects anew.
    """
    options: tuple[str, ...] = ("-F", cfg.ssh_config) if cfg.ssh_config else ()
    control = _control_dir(cfg.state_dir) if cfg.ssh_persist else None
    if control is None:
        return options
    return (*options, "-o", "ControlMaster=auto", "-o", f"ControlPath={control}/%C",
            "-o", f"ControlPersist={cfg.ssh_persist}")


def _control_dir(state_dir: str) -> str | None:
    """state_dir/ssh-UID, made 0700 and checked to be this user's own (an ssh master's
    socket there lets anyone who can reach it run commands as this user on the host)."""
    path = os.path.join(state_dir, f"ssh-{os.getuid()}")
    if len(path) + 58 > 107:  # "/%C" and ssh's 17-character temporary suffix must fit sun_path
        return None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        found = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        return None
    return path


def ssh_argv(url: str, host: str, command: list[str], options: tuple[str, ...] = ()) -> list[str]:
    """`ssh` running `command` on a host, reached as its engine is: the user, host and port of
    an ssh:// engine URL, else the host's name. The remote command is one quoted string, so
    the far side's shell sees the words given and nothing else."""
    parts = URL(url)
    argv = ["ssh", *options, "-o", "BatchMode=yes"]
    target = host
    if parts.scheme == "ssh":
        target = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname or ""
        if parts.port:
            argv += ["-p", str(parts.port)]
    if not _SSH_TARGET.match(target):
        raise OneDockError(f"'{target[:80]}' is not a valid ssh host")
    return [*argv, "--", target, shlex.join(command)]


class SshConnection(Connection):
    """HTTP over `docker system dial-stdio` on the far side of ssh, as `docker -H ssh://` does."""

    def __init__(self, url: str, timeout: float, options: tuple[str, ...] = ()):
        super().__init__(self._spawn)
        self._argv = ssh_argv(url, "", ["docker", "system", "dial-stdio"], options)
        self._timeout = timeout
        self._proc = None

    def _spawn(self) -> _socket.socket:
        import subprocess  # only ssh engines pay for it

        ours, theirs = _socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                self._argv, stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL
            )
        except OSError as exc:
            ours.close()
            raise OneDockError(f"cannot run ssh: {exc.strerror}") from exc
        finally:
            theirs.close()
        ours.settimeout(self._timeout)
        return ours

    def close(self) -> None:
        super().close()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()
            self._proc = None


def engine_connection(url: str, timeout: float, ssh: tuple[str, ...] = ()) -> Connection:
    parts = URL(url)
    if parts.scheme == "unix":
        return Connection(lambda: sockets.unix(parts.path, timeout))
    if parts.scheme == "tcp":
        netloc = url.partition("://")[2].partition("/")[0]
        return Connection(lambda: sockets.tcp(netloc, 2375, timeout))
    if parts.scheme == "ssh":
        return SshConnection(url, timeout, ssh)
    raise OneDockError(f"unsupported Docker engine URL '{url}'", hint="use unix://, tcp:// or ssh://")


def registry_connection(host: str, *, secure: bool, ca: str, timeout: float) -> Connection:
    if not secure:
        return Connection(lambda: sockets.tcp(host, 80, timeout))
    import ssl  # only TLS registries pay for it

    context = ssl.create_default_context(cafile=ca or None)
    name = URL(host).hostname or host
    return Connection(lambda: sockets.tls(sockets.tcp(host, 443, timeout), context, name))


class Peer:
    """What the engine and registry clients share: a keep-alive connection per thread (blob
    copies run in parallel) and one failure when the peer does not answer at all."""

    def __init__(self, name: str, connect: Callable[[], Connection], hint: str,
                 address: str = ""):
        self.name = name
        self._address = address
        self._connect = connect
        self._hint = hint
        self._local = thread_local()

    def connection(self) -> Connection:
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
             body: bytes | IO[bytes] | None) -> Response:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers)
            return conn.getresponse()
        except OSError as exc:
            self.close()
            raise unreachable(self.name, self._address, exc, self._hint) from exc
