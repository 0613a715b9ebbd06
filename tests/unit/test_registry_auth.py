"""registry.auth: the token flow against a token service on loopback, and the refusals."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from onedock.errors import Denied, OneDockError, RateLimited
from onedock.registry.auth import answer


@pytest.fixture
def realm():
    """A token service: answers a token naming what it was asked, and records the request."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            query = parse_qs(urlsplit(self.path).query)
            seen.append((query, self.headers.get("Authorization")))
            service = query.get("service", [""])[0]
            if service in ("refuse", "busy"):
                self.send_response(401 if service == "refuse" else 429)
                if service == "busy":
                    self.send_header("Retry-After", "60")
                self.end_headers()
                return
            body = json.dumps({"token": f"t-{query['scope'][0]}"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/token", seen
    server.shutdown()


def test_bearer_challenge_gets_a_token_for_the_scope(realm):
    url, seen = realm
    challenge = f'Bearer realm="{url}",service="reg",scope="repository:a/b:pull"'
    got = answer(challenge, "repository:a/b:pull", "reg:5000", "Basic dTpw", None, 5)
    assert got == "Bearer t-repository:a/b:pull"
    assert seen == [({"service": ["reg"], "scope": ["repository:a/b:pull"]}, "Basic dTpw")]


def test_scope_falls_back_to_the_requests_own(realm):
    url, _ = realm
    assert answer(f'Bearer realm="{url}",service="reg"', "repository:x:push", "r", "", None,
                  5) == "Bearer t-repository:x:push"


@pytest.mark.parametrize("challenge, basic, message", [
    ('Basic realm="r"', "", "wants a user name and password"),
    ('Basic realm="r"', "Basic dTpw", "refused the login"),
    ('Negotiate x', "", "unsupported auth challenge 'Negotiate'"),
    ('Bearer realm="file:///etc/passwd"', "", "bad token realm"),
])
def test_refusals_are_one_clear_line(challenge, basic, message):
    with pytest.raises(OneDockError, match=message):
        answer(challenge, "repository:a:pull", "r:5000", basic, None, 5)


@pytest.mark.parametrize("basic, message", [
    ("", r"registry r does not allow anonymous pulls \(log in here\)"),
    ("Basic dTpw", r"registry r refused the login \(log in here\)"),
])
def test_token_service_refusal_says_where_the_login_comes_from(realm, basic, message):
    url, _ = realm
    with pytest.raises(Denied, match=message):
        answer(f'Bearer realm="{url}",service="refuse"', "s", "r", basic, None, 5, "log in here")


@pytest.mark.parametrize("basic, message", [
    ("", r"limits anonymous pulls: too many requests \(log in to it \(log in here\); or "
         r"retry in 60 s\)$"),
    ("Basic dTpw", r"limits this account's pulls: too many requests \(retry in 60 s\)$"),
])
def test_a_rate_limit_is_one_line_that_says_to_log_in_and_when(realm, basic, message):
    url, _ = realm
    with pytest.raises(RateLimited, match=message):
        answer(f'Bearer realm="{url}",service="busy"', "s", "r", basic, None, 5, "log in here")
