"""oned's XML-RPC API, for the one action that must call it: a backup datastore's `restore`
creates the images and the VM template itself, as OpenNebula's own backup datastores do.

Reached as OpenNebula's CLI reaches it: $ONE_XMLRPC (default http://localhost:2633/RPC2) with
the credentials in $ONE_AUTH (default ~/.one/one_auth) of the user the driver runs as.
"""

from __future__ import annotations

import os
from xml.etree.ElementTree import Element

from onedock.errors import OneDockError
from onedock.one.xmldoc import parse

DEFAULT_ENDPOINT = "http://localhost:2633/RPC2"


class Oned:
    def __init__(self, endpoint: str, session: str, timeout: float = 60.0):
        import xmlrpc.client  # only restore pays for it

        self.endpoint = endpoint
        self._session = session
        self._proxy = xmlrpc.client.ServerProxy(endpoint, allow_none=False)
        self._timeout = timeout

    @classmethod
    def from_env(cls) -> Oned:
        path = os.environ.get("ONE_AUTH") or os.path.expanduser("~/.one/one_auth")
        try:
            with open(path) as handle:
                session = handle.read().strip()
        except OSError as exc:
            raise OneDockError(f"cannot read oned's credentials {path}: {exc.strerror}",
                               hint="run it as oneadmin on the front-end (ONE_AUTH)") \
                from exc
        if ":" not in session:
            raise OneDockError(f"{path} is not <user>:<password>")
        return cls(os.environ.get("ONE_XMLRPC") or DEFAULT_ENDPOINT, session)

    def call(self, method: str, *args):
        import socket
        import xmlrpc.client

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self._timeout)
        try:
            answer = getattr(self._proxy, method)(self._session, *args)
        except (OSError, xmlrpc.client.Error) as exc:
            raise OneDockError(f"oned at {self.endpoint} did not answer {method}: {exc}",
                               hint="is oned running, and ONE_XMLRPC right?") from exc
        finally:
            socket.setdefaulttimeout(previous)
        if not isinstance(answer, list) or not answer or answer[0] is not True:
            message = answer[1] if isinstance(answer, list) and len(answer) > 1 else answer
            raise OneDockError(f"oned refused {method}: {message}")
        return answer[1]

    def info(self, kind: str, object_id: int) -> Element:
        return parse(self.call(f"one.{kind}.info", object_id), kind.upper(), f"{kind} {object_id}")

    def user_id(self, name: str) -> int:
        users = parse(self.call("one.userpool.info"), "USER_POOL", "user pool")
        for user in users.findall("USER"):
            if (user.findtext("NAME") or "") == name:
                return int(user.findtext("ID") or "-1")
        raise OneDockError(f"oned has no user '{name[:60]}'")
