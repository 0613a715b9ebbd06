"""A registry's auth challenge answered (distribution's token flow, or basic credentials):
the Authorization value to send for one scope. Used only when a registry asks, so most
actions never load it."""

from __future__ import annotations

import json
import re

from onedock.errors import Denied, OneDockError, RateLimited
from onedock.transport import registry_connection
from onedock.urls import encode_query

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


PRIVATE_LOGIN = "set registry_username and registry_password_file in onedock.conf"


def answer(challenge: str, scope: str, host: str, basic: str, ca: str | None,
           timeout: float, login_hint: str = PRIVATE_LOGIN) -> str:
    """`Bearer <token>` for scope, from the realm the challenge names; basic auth that was
    refused, or a scheme onedock does not speak, is one clear error. login_hint says where
    this registry's login comes from."""
    kind, _, params = challenge.partition(" ")
    if kind.lower() == "basic":
        if not basic:
            raise Denied(f"registry {host} wants a user name and password", hint=login_hint)
        raise Denied(f"registry {host} refused the login", hint=login_hint)
    if kind.lower() != "bearer":
        raise OneDockError(f"registry {host}: unsupported auth challenge '{kind}'")
    fields = dict(_CHALLENGE.findall(params))
    from urllib.parse import urlsplit  # only a token challenge pays for it

    realm = urlsplit(fields.get("realm", ""))
    if realm.scheme not in ("http", "https") or not realm.hostname:
        raise OneDockError(f"registry {host}: bad token realm in auth challenge")
    query = {"service": fields.get("service", "")}
    query["scope"] = fields.get("scope") or scope
    netloc = realm.netloc
    conn = registry_connection(
        netloc, secure=realm.scheme == "https", ca=ca, timeout=timeout
    )
    headers = {"User-Agent": "onedock"}
    if basic:
        headers["Authorization"] = basic
    try:
        conn.request("GET", f"{realm.path or '/'}?{encode_query(query)}", headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
    except OSError as exc:
        raise OneDockError(f"token service {netloc} unreachable: {exc}") from exc
    finally:
        conn.close()
    if resp.status in (401, 403):
        raise Denied(f"registry {host} " + ("refused the login" if basic else
                                             "does not allow anonymous pulls"), hint=login_hint)
    if resp.status == 429:
        raise rate_limited(host, resp.getheader("Retry-After", ""), bool(basic), login_hint)
    if resp.status != 200:
        raise OneDockError(f"token service {netloc} answered {resp.status}")
    data = json.loads(payload or b"{}")
    token = data.get("token") or data.get("access_token")
    if not token:
        raise OneDockError(f"token service {netloc} returned no token")
    return f"Bearer {token}"


def rate_limited(host: str, retry_after: str, logged_in: bool, login_hint: str) -> RateLimited:
    """Docker Hub's answer to too many pulls (429), as one line that says what to do."""
    when = (f"retry in {retry_after} s" if retry_after.isdigit() else "retry later")
    if logged_in:
        return RateLimited(f"registry {host} limits this account's pulls: too many requests",
                           hint=when)
    return RateLimited(f"registry {host} limits anonymous pulls: too many requests",
                       hint=f"log in to it ({login_hint}); or {when}")
