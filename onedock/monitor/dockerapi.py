"""The few Engine API GETs the probes make, over a bare socket.

Probes are fresh processes every few seconds, so this imports only what a GET to the local
engine needs, not onedock.engine.client's keep-alive connections and chunked bodies. An
HTTP/1.0 request gets a plain body that ends when the engine closes the connection.
local_docker is unix:// or tcp:// (Config refuses anything else).
"""

from __future__ import annotations

import _socket
import json
import time

from onedock import sockets
from onedock.engine.views import ENGINE_HINT, ContainerInfo, error_message
from onedock.errors import for_status, unreachable
from onedock.urls import encode_query

MAX_BODY = 64 << 20  # a listing bigger than this is not something a probe should parse


class LocalEngine:
    def __init__(self, url: str, timeout: float, name: str = "this host"):
        self.url = url
        self.timeout = timeout
        self.name = name

    def get(self, path: str, query: dict[str, str] | list[tuple[str, str]] | None = None,
            timeout: float | None = None):
        """GET path?query (pairs may repeat a key); the decoded JSON body. One connection each."""
        if query:
            path += "?" + encode_query(query)
        budget = self.timeout if timeout is None else timeout
        try:
            status, body = self._exchange(path, budget)
        except (OSError, ValueError) as exc:
            raise unreachable(f"Docker engine of {self.name}", self.url, exc, ENGINE_HINT) from exc
        if status != 200:
            message = error_message(body) or status
            raise for_status(status, f"Docker engine of {self.name}: {message}")
        return json.loads(body)

    def containers(self, labels: list[str]) -> list[ContainerInfo]:
        query = {"all": "1", "filters": json.dumps({"label": labels})}
        return [ContainerInfo(raw) for raw in self.get("/containers/json", query)]

    def _open(self, budget: float) -> tuple[_socket.socket, str]:
        """(socket, unix path to connect it to, '' when it is connected already)."""
        scheme, _, rest = self.url.partition("://")
        if scheme == "unix":
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            sock.settimeout(budget)
            return sock, rest
        if scheme == "tcp":
            return sockets.tcp(rest.partition("/")[0], 2375, budget), ""
        raise ValueError(f"unsupported Docker engine URL '{self.url}'")

    def _exchange(self, path: str, budget: float) -> tuple[int, bytes]:
        deadline = time.monotonic() + budget
        sock, path_to = self._open(budget)
        try:
            if path_to:
                sock.connect(path_to)
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: onedock\r\n\r\n"
                         .encode())
            chunks, size = [], 0
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out")
                sock.settimeout(left)
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY:
                    raise ValueError(f"answer to GET {path.partition('?')[0]} exceeds "
                                     f"{MAX_BODY >> 20} MiB")
        finally:
            sock.close()
        head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].split()
        if not sep or len(status_line) < 2 or not status_line[1].isdigit():
            raise ValueError("not an HTTP answer")
        return int(status_line[1]), body

