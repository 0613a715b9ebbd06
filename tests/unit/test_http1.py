"""onedock.http1 against a real peer on a socket pair: the peer reads what the client sent and
writes answers byte for byte, so framing (chunks, lengths, close-delimited bodies, interim
answers, keep-alive) is checked on the wire, not against a model of it."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from onedock.errors import WireError
from onedock.http1 import Connection


class Peer:
    """The far end: records each request's raw bytes, answers with the next scripted reply."""

    def __init__(self, *answers: bytes):
        self.answers = list(answers)
        self.dials = 0
        self.received: list[bytes] = []
        self._threads: list[threading.Thread] = []

    def dial(self) -> socket.socket:
        self.dials += 1
        ours, theirs = socket.socketpair()
        ours.settimeout(5)
        theirs.settimeout(5)
        thread = threading.Thread(target=self._serve, args=(theirs,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return ours

    def _serve(self, sock: socket.socket) -> None:
        with sock, contextlib.suppress(ConnectionError):  # the client may drop the connection
            self._answer(sock)

    def _answer(self, sock: socket.socket) -> None:
        buf = b""
        while self.answers:
            while b"\r\n\r\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            body = b""
            if b"transfer-encoding: chunked" in head.lower():
                while not buf.endswith(b"0\r\n\r\n"):
                    buf += sock.recv(65536)
                body, buf = buf, b""
            else:
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        size = int(line.split(b":")[1])
                        while len(buf) < size:
                            buf += sock.recv(65536)
                        body, buf = buf[:size], buf[size:]
            self.received.append(head + b"\r\n\r\n" + body)
            answer = self.answers.pop(0)
            sock.sendall(answer)
            if answer.endswith(b"<close>"):
                return


def answer(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_content_length_bodies_share_one_connection():
    peer = Peer(answer("200 OK", {"Content-Length": "5"}, b"hello"),
                answer("201 Created", {"Content-Length": "2", "Location": "/v2/x"}, b"ok"))
    conn = Connection(peer.dial)
    conn.request("GET", "/a", headers={"Host": "docker"})
    first = conn.getresponse()
    assert (first.status, first.read()) == (200, b"hello")
    conn.request("POST", "/b", b'{"x": 1}', {"Host": "docker"})
    second = conn.getresponse()
    assert (second.status, second.reason, second.getheader("location")) == (201, "Created", "/v2/x")
    assert second.read() == b"ok"
    assert peer.dials == 1
    assert peer.received[0].startswith(b"GET /a HTTP/1.1\r\nHost: docker\r\n")
    assert peer.received[1].endswith(b'Content-Length: 8\r\n\r\n{"x": 1}')


def test_a_chunked_answer_is_read_in_pieces_and_by_lines():
    body = b"5\r\n{\"a\":\r\n4\r\n 1}\n\r\n9;ext=1\r\n{\"b\": 2}\n\r\n0\r\nX-Trailer: 1\r\n\r\n"
    peer = Peer(answer("200 OK", {"Transfer-Encoding": "chunked"}, body),
                answer("204 No Content", {}))
    conn = Connection(peer.dial)
    conn.request("POST", "/images/create")
    assert list(conn.getresponse()) == [b'{"a": 1}', b'{"b": 2}']
    conn.request("DELETE", "/x")
    gone = conn.getresponse()
    assert (gone.status, gone.read(), peer.dials) == (204, b"", 1)


def test_a_stream_without_length_upload_goes_chunked():
    import io

    peer = Peer(answer("201 Created", {"Content-Length": "0"}))
    conn = Connection(peer.dial)
    conn.request("PUT", "/archive", io.BytesIO(b"x" * 10), {"Content-Type": "application/x-tar"})
    assert conn.getresponse().status == 201
    framed = b"Transfer-Encoding: chunked\r\n\r\na\r\nxxxxxxxxxx\r\n0\r\n\r\n"
    assert peer.received[0].endswith(framed)


def test_interim_answers_are_skipped_and_a_close_delimited_body_ends_at_close():
    peer = Peer(b"HTTP/1.1 100 Continue\r\n\r\n"
                + answer("200 OK", {"Connection": "close"}, b"all of it<close>"),
                answer("200 OK", {"Content-Length": "1"}, b"2"))
    conn = Connection(peer.dial)
    conn.request("GET", "/1")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"all of it<close>")
    conn.request("GET", "/2")  # the peer said close: a new connection
    assert conn.getresponse().read() == b"2"
    assert peer.dials == 2


def test_an_unread_body_is_not_misread_as_the_next_answer():
    peer = Peer(answer("200 OK", {"Content-Length": "3"}, b"abc"),
                answer("200 OK", {"Content-Length": "1"}, b"z"))
    conn = Connection(peer.dial)
    conn.request("GET", "/big")
    conn.getresponse()  # left unread
    conn.request("GET", "/next")
    assert conn.getresponse().read() == b"z"
    assert peer.dials == 2


def test_head_and_304_have_no_body_whatever_the_length_says():
    peer = Peer(answer("200 OK", {"Content-Length": "99"}),
                answer("304 Not Modified", {"Content-Length": "5"}))
    conn = Connection(peer.dial)
    conn.request("HEAD", "/v2/x/blobs/sha256:0")
    assert conn.getresponse().read() == b""
    conn.request("POST", "/containers/x/start")
    assert conn.getresponse().status == 304
    assert peer.dials == 1


@pytest.mark.parametrize("reply", [
    b"SSH-2.0-OpenSSH_9.2\r\n<close>",
    b"HTTP/1.1 2OO OK\r\n\r\n<close>",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n<close>",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n<close>",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n<close>",
    b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nshort<close>",
    b"<close>",
])
def test_what_is_not_http_is_a_wire_error(reply):
    peer = Peer(reply)
    conn = Connection(peer.dial)
    conn.request("GET", "/")
    with pytest.raises(WireError):
        resp = conn.getresponse()
        while resp.read(4):
            pass
        resp.read(1)


@pytest.mark.parametrize("path, headers", [
    ("/x HTTP/1.1\r\nX-Injected: 1\r\n", {}),
    ("/x", {"X-Registry-Auth": "abc\r\nX-Injected: 1"}),
])
def test_a_line_break_in_a_request_is_refused_before_sending(path, headers):
    peer = Peer()
    conn = Connection(peer.dial)
    with pytest.raises(WireError, match="line break"):
        conn.request("GET", path, headers=headers)
    assert peer.received == []


def test_a_request_whose_answer_was_never_read_is_not_followed_on_that_connection():
    """An action interrupted between sending and reading (a signal, a timeout) must not read
    that answer as the next request's."""
    peer = Peer(answer("204 No Content", {}), answer("200 OK", {"Content-Length": "2"}, b"[]"))
    conn = Connection(peer.dial)
    conn.request("POST", "/containers/one-1/pause")  # ... and then the caller was interrupted
    conn.request("GET", "/containers/json")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"[]")
    assert peer.dials == 2
