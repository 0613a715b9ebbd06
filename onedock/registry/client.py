"""A registry API v2 client: manifests, blobs, uploads, token and basic auth.

Copies are registry-to-registry: blobs stream from one HTTP response into the next request's
body, and never touch a Docker engine's storage or the local disk.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import IO, NamedTuple

from onedock.errors import NotFound, OneDockError, for_status
from onedock.http1 import Response
from onedock.transport import Peer, registry_connection
from onedock.urls import encode_query

REGISTRY_HINT = "is the registry running, and are the host, port and TLS settings right?"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_LIST, OCI_INDEX)
ACCEPT = ", ".join(MANIFESTS + INDEXES)
BLOCK = 1 << 20


class Manifest(NamedTuple):
    body: bytes
    media_type: str
    digest: str

    @property
    def data(self) -> dict:
        return json.loads(self.body)


def sha256_digest(data: bytes) -> str:
    import hashlib  # OpenSSL's import: only for actions that hash content (_hashlib, ~2 ms)

    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """One registry. Connections are per thread so blob copies can run in parallel."""

    def __init__(
        self,
        host: str,
        *,
        secure: bool = True,
        ca: str = "",
        username: str = "",
        password: str = "",
        timeout: float = 60.0,
        api_host: str | None = None,
        login_hint: str = "",
    ):
        self.host = host
        self.login_hint = login_hint
        self.api_host = api_host or host
        self.secure = secure
        self.ca = ca
        self.timeout = timeout
        self._basic = (
            "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
            if username
            else None
        )
        self._tokens: dict[str, str] = {}
        self.peer = Peer(f"registry {host}", lambda: registry_connection(
            self.api_host, secure=secure, ca=ca, timeout=timeout), REGISTRY_HINT)

    # -- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        self.peer.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        headers: dict | None = None,
        body: bytes | IO[bytes] | None = None,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
    ) -> Response:
        """Send one API request; answer an auth challenge once; raise on unexpected status."""
        base = {"Host": self.api_host, "User-Agent": "onedock"}
        base.update(headers or {})
        for attempt in range(2):
            auth = self._tokens.get(scope) or self._basic
            sent = dict(base)
            if auth:
                sent["Authorization"] = auth
            resp = self.peer.send(method, path, sent, body)
            if resp.status == 401 and attempt == 0 and not hasattr(body, "read"):
                challenge = resp.getheader("WWW-Authenticate", "")
                resp.read()
                self._authenticate(challenge, scope)
                continue
            break
        if resp.status in ok:
            if not stream:
                resp.body = resp.read()
            return resp
        payload = resp.read()
        if resp.status == 429:
            from onedock.registry.auth import PRIVATE_LOGIN, rate_limited

            raise rate_limited(self.host, resp.getheader("Retry-After", ""),
                               self._basic is not None, self.login_hint or PRIVATE_LOGIN)
        said = "not found" if resp.status == 404 else f"answered {resp.status}"
        raise for_status(resp.status,
                         f"registry {self.host}: {method} {path}: {said} ({_errors(payload)})")

    def _authenticate(self, challenge: str, scope: str) -> None:
        from onedock.registry.auth import PRIVATE_LOGIN, answer

        self._tokens[scope] = answer(challenge, scope, self.host, self._basic, self.ca,
                                     self.timeout, self.login_hint or PRIVATE_LOGIN)

    # -- manifests ------------------------------------------------------------------------

    def get_manifest(self, repo: str, ref: str) -> Manifest:
        resp = self.request(
            "GET", f"/v2/{repo}/manifests/{ref}", scope=_pull(repo), headers={"Accept": ACCEPT}
        )
        body = resp.body
        media = (resp.getheader("Content-Type") or "").split(";")[0].strip()
        if media not in MANIFESTS + INDEXES:
            media = json.loads(body).get("mediaType", media)
        if media not in MANIFESTS + INDEXES:
            raise OneDockError(
                f"{self.host}/{repo}:{ref} has an unsupported manifest type '{media}'",
                hint="schema1 images must be re-pushed with a current Docker",
            )
        digest = sha256_digest(body)
        if ref.startswith("sha256:") and digest != ref:
            raise OneDockError(f"{self.host}/{repo}@{ref}: manifest does not match its digest")
        return Manifest(body, media, digest)

    def head_manifest(self, repo: str, ref: str) -> str | None:
        try:
            resp = self.request(
                "HEAD", f"/v2/{repo}/manifests/{ref}", scope=_pull(repo),
                headers={"Accept": ACCEPT},
            )
        except NotFound:
            return None
        return resp.getheader("Docker-Content-Digest")

    def put_manifest(self, repo: str, ref: str, manifest: Manifest) -> None:
        self.request(
            "PUT", f"/v2/{repo}/manifests/{ref}", scope=_push(repo),
            headers={"Content-Type": manifest.media_type}, body=manifest.body, ok=(201,),
        )

    def tags(self, repo: str) -> list[str]:
        try:
            resp = self.request("GET", f"/v2/{repo}/tags/list", scope=_pull(repo))
        except NotFound:
            return []
        return json.loads(resp.body).get("tags") or []

    def forget(self, repo: str, tag: str) -> None:
        """Delete the manifest a tag points to (and with it every tag of that manifest)."""
        digest = self.head_manifest(repo, tag)
        if digest:
            self.delete_manifest(repo, digest)

    def delete_manifest(self, repo: str, digest: str) -> bool:
        try:
            self.request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=_push(repo), ok=(202,))
        except NotFound:
            return False
        return True

    # -- blobs ----------------------------------------------------------------------------

    def has_blob(self, repo: str, digest: str) -> bool:
        try:
            self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=_pull(repo))
        except NotFound:
            return False
        return True

    def open_blob(self, repo: str, digest: str) -> Response:
        """A streaming response for the blob, following the redirects registries use for storage."""
        resp = self.request(
            "GET", f"/v2/{repo}/blobs/{digest}", scope=_pull(repo), ok=(200, 307, 302),
            stream=True,
        )
        for _ in range(5):
            if resp.status == 200:
                return resp
            location = resp.getheader("Location", "")
            resp.read()
            from urllib.parse import urlsplit  # a redirect's URL is the peer's: parse it fully

            target = urlsplit(location)
            if target.scheme not in ("http", "https") or not target.netloc:
                raise OneDockError(f"registry {self.host}: bad blob redirect '{location}'")
            conn = registry_connection(
                target.netloc, secure=target.scheme == "https", ca=self.ca, timeout=self.timeout
            )
            path = target.path + (f"?{target.query}" if target.query else "")
            conn.request("GET", path, headers={"User-Agent": "onedock"})
            resp = conn.getresponse()
        raise OneDockError(f"registry {self.host}: too many redirects for blob {digest}")

    def mount_blob(self, repo: str, digest: str, source_repo: str) -> bool:
        """Cross-repository mount: a metadata-only copy inside one registry."""
        query = encode_query({"mount": digest, "from": source_repo})
        resp = self.request(
            "POST", f"/v2/{repo}/blobs/uploads/?{query}", scope=_push(repo), ok=(201, 202),
        )
        if resp.status == 201:
            return True
        self._cancel_upload(resp.getheader("Location", ""), repo)
        return False

    def upload_blob(self, repo: str, digest: str, size: int, data: IO[bytes] | bytes) -> None:
        """Monolithic upload: one POST for a session, one PUT streaming the whole body."""
        location = self._start_upload(repo)
        sep = "&" if "?" in location else "?"
        self.request(
            "PUT", f"{location}{sep}{encode_query({'digest': digest})}", scope=_push(repo),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            body=data, ok=(201,),
        )

    def upload_stream(self, repo: str, chunks) -> tuple[str, int]:
        """Upload content whose digest is only known at the end (PATCH chunks, then PUT)."""
        location = self._start_upload(repo)
        import hashlib

        hasher = hashlib.sha256()
        size = 0
        for chunk in chunks:
            if not chunk:
                continue
            hasher.update(chunk)
            resp = self.request(
                "PATCH", location, scope=_push(repo),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(len(chunk)),
                    "Content-Range": f"{size}-{size + len(chunk) - 1}",
                },
                body=chunk, ok=(202,),
            )
            size += len(chunk)
            location = self._path(resp.getheader("Location", location))
        digest = "sha256:" + hasher.hexdigest()
        sep = "&" if "?" in location else "?"
        self.request(
            "PUT", f"{location}{sep}{encode_query({'digest': digest})}", scope=_push(repo),
            headers={"Content-Length": "0"}, body=b"", ok=(201,),
        )
        return digest, size

    def delete_blob(self, repo: str, digest: str) -> bool:
        try:
            self.request("DELETE", f"/v2/{repo}/blobs/{digest}", scope=_push(repo), ok=(202,))
        except NotFound:
            return False
        return True

    def _start_upload(self, repo: str) -> str:
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope=_push(repo), ok=(202,))
        return self._path(resp.getheader("Location", ""))

    def _cancel_upload(self, location: str, repo: str) -> None:
        if location:
            with contextlib.suppress(OneDockError):
                self.request("DELETE", self._path(location), scope=_push(repo), ok=(204, 404))

    def _path(self, location: str) -> str:
        from urllib.parse import urlsplit  # a Location is the peer's: parse it fully

        parts = urlsplit(location)
        if parts.netloc and parts.netloc != self.api_host:
            raise OneDockError(f"registry {self.host} sent an upload location on another host")
        if not parts.path.startswith("/v2/"):
            raise OneDockError(f"registry {self.host} sent a bad upload location '{location}'")
        return parts.path + (f"?{parts.query}" if parts.query else "")


def _pull(repo: str) -> str:
    return f"repository:{repo}:pull"


def _push(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def _errors(payload: bytes) -> str:
    try:
        errors = json.loads(payload).get("errors") or []
        text = "; ".join(f"{e.get('code', '')} {e.get('message', '')}".strip() for e in errors)
        return text or "no details"
    except (ValueError, AttributeError):
        return payload[:200].decode("utf-8", "replace").strip() or "no details"
