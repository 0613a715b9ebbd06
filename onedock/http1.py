"""HTTP/1.1 over a socket someone else opened: what the engine and registry clients speak.

Every driver action is a fresh process, and http.client costs about 20 ms of its start-up
(it imports the email package and ssl; bench/startup.py shows the sum). These clients need
little of it: keep-alive, Content-Length and chunked bodies both ways, a body read in pieces
(blob copies, pull progress) and the raw stream of an upgraded connection (exec). A malformed
answer is a WireError, an OSError, so callers treat it as the peer not answering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from onedock import sockets
from onedock.errors import WireError

BLOCK = 1 << 20  # bytes sent per write of a streamed body: blob copies are bandwidth-bound
_LINE = 65536  # longest status or header line accepted
_HEADERS = 200  # most header lines accepted


class Response:
    """One answer. read(n) returns what arrives, at most n bytes and b"" only at the end, so
    progress streams show progress; read() returns the rest of the body."""

    def __init__(self, reader: IO[bytes], status: int, reason: str, headers: dict[str, str],
                 bodyless: bool):
        self.status = status
        self.reason = reason
        self.headers = headers
        self._reader = reader
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._left = 0 if bodyless else _length(headers, self._chunked or status == 101)
        self.done = self._left == 0 and not self._chunked or bodyless
        self.body = b""  # filled by clients that read the whole answer at once

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(BLOCK), b""))
        if self.done or n == 0:
            return b""
        if self._chunked and self._left == 0 and not self._next_chunk():
            return b""
        want = n if self._left < 0 else min(n, self._left)
        data = self._reader.read1(want)  # type: ignore[attr-defined]
        if self._left < 0:  # the body ends when the peer closes
            self.done = not data
            return data
        if not data:
            raise WireError("connection closed in the middle of an answer")
        self._left -= len(data)
        if self._left == 0 and not self._chunked:
            self.done = True
        elif self._left == 0:
            self._line()  # the CRLF after a chunk
        return data

    def __iter__(self) -> Iterator[bytes]:
        """The body line by line, as each arrives: Docker's JSON progress streams."""
        pending = b""
        while data := self.read(BLOCK):
            *lines, pending = (pending + data).split(b"\n")
            yield from lines
        if pending:
            yield pending

    def _next_chunk(self) -> bool:
        size = self._line().split(b";", 1)[0].strip()
        try:
            self._left = int(size, 16)
        except ValueError:
            raise WireError(f"bad chunk size {size[:20]!r}") from None
        if self._left == 0:
            while self._line() not in (b"", b"\r\n", b"\n"):  # trailers
                pass
            self.done = True
        return not self.done

    def _line(self) -> bytes:
        line = self._reader.readline(_LINE + 1)
        if len(line) > _LINE:
            raise WireError("answer line too long")
        return line


class Connection:
    """A keep-alive connection, opened on first use and again after the peer closed it."""

    def __init__(self, dial: Callable[[], object]):
        self._dial = dial
        self.sock = None
        self._reader: IO[bytes] | None = None
        self._last: Response | None = None
        self._method = ""
        self._keep = True  # False once the peer said it closes after this answer
        self._awaiting = False  # a request went out whose answer was not read

    def request(self, method: str, path: str, body: bytes | IO[bytes] | None = None,
                headers: dict[str, str] | None = None) -> None:
        if self._awaiting or self._last is not None and not (self._last.done and self._keep):
            self.close()  # an unread or a last answer: start afresh rather than misread the next
        if self.sock is None:
            self.sock = self._dial()
            self._reader = sockets.reader(self.sock)
        sent = dict(headers or {})
        named = {k.lower() for k in sent}
        chunked = False
        if isinstance(body, bytes | bytearray):
            sent.setdefault("Content-Length", str(len(body)))
        elif body is not None and "content-length" not in named:
            sent["Transfer-Encoding"] = "chunked"
            chunked = True
        elif body is None and method in ("POST", "PUT", "PATCH"):
            sent.setdefault("Content-Length", "0")
        lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in sent.items())]
        if any(c in line for line in lines for c in "\r\n\0"):
            raise WireError("refusing a request line or header with a line break")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._method = method
        self._awaiting = True  # until getresponse: an interrupted exchange is not reused
        if body is None or isinstance(body, bytes | bytearray):
            self.sock.sendall(head + (body or b""))  # one write: one packet for small requests
            return
        self.sock.sendall(head)
        while data := body.read(BLOCK):
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        if chunked:
            self.sock.sendall(b"0\r\n\r\n")

    def getresponse(self) -> Response:
        assert self._reader is not None, "getresponse() before request()"
        while True:
            line = self._reader.readline(_LINE + 1)
            if not line:
                self.close()
                raise WireError("closed the connection without answering")
            version, _, rest = line.decode("latin-1").strip().partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or not code.isdigit() or len(code) != 3:
                self.close()
                raise WireError(f"not an HTTP answer: {line[:40]!r}")
            status, headers = int(code), self._headers()
            if status == 101 or not 100 <= status < 200:
                break  # 100 Continue and other interim answers come before the real one
        self._awaiting = False
        bodyless = self._method == "HEAD" or status in (204, 304)
        self._keep = version != "HTTP/1.0" and "close" not in headers.get("connection", "").lower()
        self._last = Response(self._reader, status, reason, headers, bodyless)
        return self._last

    def _headers(self) -> dict[str, str]:
        assert self._reader is not None
        headers: dict[str, str] = {}
        for _ in range(_HEADERS):
            line = self._reader.readline(_LINE + 1).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                return headers
            name, sep, value = line.partition(":")
            if not sep:
                raise WireError(f"bad header line {line[:40]!r}")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        raise WireError("too many header lines")

    def close(self) -> None:
        for part in (self._reader, self.sock):
            if part is not None:
                part.close()
        self.sock = self._reader = self._last = None
        self._awaiting = False


def _length(headers: dict[str, str], open_ended: bool) -> int:
    """Bytes of body to read: 0 for a chunked body (chunks say), -1 for one ending at close."""
    if open_ended:
        return 0 if "chunked" in headers.get("transfer-encoding", "").lower() else -1
    value = headers.get("content-length")
    if value is None:
        return -1
    if not value.strip().isdigit():
        raise WireError(f"bad Content-Length {value[:20]!r}")
    return int(value)
