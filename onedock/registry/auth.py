"""A registry's auth challenge answered (distribution's token flow, or basic credentials):
the Authorization value to send for one scope. Used only when a registry asks, so most
actions never load it."""

from __future__ import annotations

import json
import re

from onedock.errors import OneDockError
from onedock.transport import registry_connection
from onedock.urls import encode_query

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def answer(challenge: str, scope: str, host: str, basic: str, ca: str | None,
           timeout: float) -> str:
    """`Bearer <token>` for scope, from the realm the challenge names; basic auth that was
    refused, or a scheme onedock does not speak, is one clear error."""
    kind, _, params = challenge.partition(" ")
    if kind.lower() == "basic":
        if not basic:
            raise OneDockError(
                f"registry {host} wants a user name and password",
                hint="set registry_username and registry_password_file in onedock.conf",
            )
        raise OneDockError(f"registry {host} refused the configured credentials")
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
    if resp.status != 200:
        raise OneDockError(f"token service {netloc} answered {resp.status}")
    data = json.loads(payload or b"{}")
    token = data.get("token") or data.get("access_token")
    if not token:
        raise OneDockError(f"token service {netloc} returned no token")
    return f"Bearer {token}"
