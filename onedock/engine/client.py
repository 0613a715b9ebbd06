"""A lean Docker Engine API client for driver actions.

Driver actions are short processes, and importing the docker SDK costs more than the API calls a
warm TM clone makes (bench/startup.py measures both), so actions use this thin layer over
onedock.http1; the SDK stays the reference client of the tests and benchmarks.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from typing import IO

from onedock.engine.views import (
    ENGINE_HINT,
    ContainerInfo,
    ExecInfo,
    ImageInfo,
    VolumeInfo,
    error_message,
)
from onedock.errors import Conflict, NotFound, OneDockError, for_status
from onedock.http1 import Response
from onedock.names import LABEL_CONTEXT_ENV
from onedock.streams import read_exactly
from onedock.transport import Peer, engine_connection
from onedock.urls import encode_query, quote


def registry_auth(username: str, password: str, server: str) -> str:
    data = json.dumps({"username": username, "password": password, "serveraddress": server})
    return base64.urlsafe_b64encode(data.encode()).decode()


class Engine:
    def __init__(self, url: str, timeout: float = 60.0, name: str = "",
                 ssh: tuple[str, ...] = ()):
        self.url = url
        self.name = name or url
        self.timeout = timeout
        self.peer = Peer(f"Docker engine of {self.name}",
                         lambda: engine_connection(url, timeout, ssh), ENGINE_HINT, url)

    def close(self) -> None:
        self.peer.close()

    # -- plumbing -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict | None = None,
        body: bytes | IO[bytes] | None = None,
        headers: dict | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
        stream: bool = False,
        json_body=None,
    ) -> Response:
        if query:
            path = f"{path}?{encode_query(query)}"
        sent = {"Host": "docker", "User-Agent": "onedock"}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        resp = self.peer.send(method, path, sent, body)
        if resp.status in ok:
            if not stream:
                resp.body = resp.read()
            return resp
        message = error_message(resp.read()) or resp.reason
        raise for_status(resp.status, f"Docker engine of {self.name}: {message}")

    def json(self, method: str, path: str, **kw):
        body = self.request(method, path, **kw).body
        return json.loads(body) if body else None

    def _stream_json(self, resp: Response) -> Iterator[dict]:
        """Docker's progress streams: one JSON object per line; an 'error' key is a failure."""
        for line in resp:
            line = line.strip()
            if not line:
                continue
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("error"):
                raise OneDockError(f"Docker engine of {self.name}: {item['error']}")
            yield item

    # -- images ---------------------------------------------------------------------------

    def image_inspect(self, ref: str) -> ImageInfo | None:
        try:
            return ImageInfo(self.json("GET", f"/images/{_q(ref)}/json"))
        except NotFound:
            return None

    def pull(self, ref: str, auth: str = "") -> None:
        repo, _, digest = ref.partition("@")
        query = {"fromImage": repo, "tag": digest or "latest"}
        headers = {"X-Registry-Auth": auth} if auth else None
        resp = self.request("POST", "/images/create", query=query, headers=headers, stream=True)
        self._drain(resp, f"pull {ref}")

    def push(self, repo: str, tag: str, auth: str = "") -> str:
        """Push repo:tag from this engine; returns the manifest digest the registry stored."""
        headers = {"X-Registry-Auth": auth or registry_auth("", "", "")}
        resp = self.request(
            "POST", f"/images/{_q(repo)}/push", query={"tag": tag}, headers=headers, stream=True
        )
        digest = ""
        for item in self._stream_json(resp):
            aux = item.get("aux") or {}
            digest = aux.get("Digest", digest)
        if not digest:
            raise OneDockError(f"Docker engine of {self.name}: push of {repo}:{tag} gave no digest")
        return digest

    def tag(self, image: str, repo: str, tag: str) -> None:
        self.request("POST", f"/images/{_q(image)}/tag", query={"repo": repo, "tag": tag})

    def remove_image(self, ref: str, force: bool = False) -> bool:
        try:
            self.request("DELETE", f"/images/{_q(ref)}", query={"force": int(force)})
        except NotFound:
            return False
        return True

    def import_tar(self, data: bytes, repo: str, tag: str) -> None:
        resp = self.request(
            "POST", "/images/create", query={"fromSrc": "-", "repo": repo, "tag": tag},
            body=data, headers={"Content-Type": "application/x-tar"}, stream=True,
        )
        self._drain(resp, f"import {repo}:{tag}")

    def commit(self, container: str, repo: str, tag: str, pause: bool = True) -> str:
        """Commit a VM's container, blanking the context it got as environment.

        Context values (passwords, tokens, keys) must not travel into images that other VMs
        start from; Docker's commit cannot drop variables, so they are set to empty strings.
        """
        info = self.container_inspect(container)
        labels = info.labels if info is not None else {}
        names = [n for n in labels.get(LABEL_CONTEXT_ENV, "").split(",") if n]
        query = [("container", container), ("repo", repo), ("tag", tag),
                 ("pause", "true" if pause else "false")]
        query += [("changes", f"ENV {name}=") for name in names]
        resp = self.request("POST", f"/commit?{encode_query(query)}", json_body={})
        return json.loads(resp.body)["Id"]

    # -- containers -----------------------------------------------------------------------

    def container_inspect(self, name: str) -> ContainerInfo | None:
        try:
            return ContainerInfo(self.json("GET", f"/containers/{_q(name)}/json"))
        except NotFound:
            return None

    def containers(self, labels: list[str] | None = None,
                   all_: bool = True) -> list[ContainerInfo]:
        filters = json.dumps({"label": labels or []})
        found = self.json("GET", "/containers/json", query={"all": int(all_), "filters": filters})
        return [ContainerInfo(raw) for raw in found]

    def create_container(self, name: str, config: dict) -> str:
        query = {"name": name} if name else None
        return self.json("POST", "/containers/create", query=query, json_body=config)["Id"]

    def remove_container(self, name: str, force: bool = True, volumes: bool = False) -> bool:
        try:
            self.request(
                "DELETE", f"/containers/{_q(name)}", query={"force": int(force), "v": int(volumes)}
            )
        except NotFound:
            return False
        return True

    def start(self, name: str) -> None:
        self.request("POST", f"/containers/{_q(name)}/start", ok=(204, 304))

    def stop(self, name: str, timeout: int) -> None:
        self.request("POST", f"/containers/{_q(name)}/stop", query={"t": timeout},
                     ok=(204, 304))

    def kill(self, name: str) -> None:
        with contextlib.suppress(Conflict):  # not running: already what a kill wants
            self.request("POST", f"/containers/{_q(name)}/kill")

    def pause(self, name: str) -> None:
        self.request("POST", f"/containers/{_q(name)}/pause")

    def unpause(self, name: str) -> None:
        with contextlib.suppress(Conflict):  # not paused: already what an unpause wants
            self.request("POST", f"/containers/{_q(name)}/unpause")

    def export(self, name: str) -> Response:
        """The container's whole filesystem as a streaming tar."""
        return self.request("GET", f"/containers/{_q(name)}/export", stream=True)

    def restart(self, name: str, timeout: int) -> None:
        self.request("POST", f"/containers/{_q(name)}/restart", query={"t": timeout})

    def update(self, name: str, resources: dict) -> None:
        self.json("POST", f"/containers/{_q(name)}/update", json_body=resources)

    def exec_detached(self, name: str, cmd: list[str]) -> None:
        created = self.json("POST", f"/containers/{_q(name)}/exec",
                            json_body={"Cmd": cmd, "AttachStdout": False, "AttachStderr": False})
        self.request("POST", f"/exec/{created['Id']}/start", json_body={"Detach": True})

    def exec_create(self, name: str, cmd: list[str], stdin: bool) -> str:
        """An exec instance in the container, as its own user, env and working directory."""
        created = self.json("POST", f"/containers/{_q(name)}/exec", json_body={
            "Cmd": cmd, "AttachStdin": stdin, "AttachStdout": True, "AttachStderr": True,
            "Tty": False})
        return created["Id"]

    def exec_inspect(self, exec_id: str) -> ExecInfo | None:
        try:
            return ExecInfo(self.json("GET", f"/exec/{_q(exec_id)}/json"))
        except NotFound:
            return None

    def exec_attached(self, exec_id: str, stdin: bytes, limit: int) -> tuple[bytes, bytes]:
        """Start the exec and wait for its end: (stdout, stderr), each cut at `limit` bytes.

        The connection is upgraded to the raw stream (HTTP 101): stdin is written and
        half-closed, then Docker's frames (8-byte header: stream, 0, 0, 0, big-endian size) are
        read until the command ends. No timeout while reading: a command runs as long as it
        runs (exec_cancel ends it).
        """
        resp = self.request("POST", f"/exec/{_q(exec_id)}/start", stream=True, ok=(101, 200),
                            json_body={"Detach": False, "Tty": False},
                            headers={"Connection": "Upgrade", "Upgrade": "tcp"})
        sock = self.peer.connection().sock
        if sock is None:
            raise OneDockError(f"Docker engine of {self.name}: exec stream closed at once")
        sock.settimeout(None)
        if stdin:
            sock.sendall(stdin)
        with contextlib.suppress(OSError):
            sock.shutdown(1)  # SHUT_WR: the command sees the end of its stdin
        out: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        while True:
            head = read_exactly(resp, 8)
            if len(head) < 8:
                break
            size = int.from_bytes(head[4:8], "big")
            data = read_exactly(resp, size)
            kept = out.get(head[0])
            if kept is not None and len(kept) < limit:
                kept += data[:limit - len(kept)]
            if len(data) < size:
                break
        self.close()
        return bytes(out[1]), bytes(out[2])

    def get_archive(self, container: str, path: str) -> Response:
        return self.request(
            "GET", f"/containers/{_q(container)}/archive", query={"path": path}, stream=True
        )

    def path_stat(self, container: str, path: str) -> dict:
        """name, size, mode, mtime of a path in the container (the archive endpoint's HEAD)."""
        resp = self.request("HEAD", f"/containers/{_q(container)}/archive", query={"path": path})
        found = resp.getheader("X-Docker-Container-Path-Stat") or ""
        try:
            return json.loads(base64.b64decode(found)) if found else {}
        except ValueError:
            return {}

    def put_archive(self, container: str, path: str, data: bytes | IO[bytes]) -> None:
        self.request(
            "PUT", f"/containers/{_q(container)}/archive", query={"path": path}, body=data,
            headers={"Content-Type": "application/x-tar"},
        )

    # -- volumes --------------------------------------------------------------------------

    def volume_inspect(self, name: str) -> VolumeInfo | None:
        try:
            return VolumeInfo(self.json("GET", f"/volumes/{_q(name)}"))
        except NotFound:
            return None

    def create_volume(self, name: str, labels: dict[str, str]) -> VolumeInfo:
        return VolumeInfo(self.json("POST", "/volumes/create",
                                    json_body={"Name": name, "Labels": labels}))

    def remove_volume(self, name: str) -> bool:
        try:
            self.request("DELETE", f"/volumes/{_q(name)}")
        except NotFound:
            return False
        return True

    def volumes(self, labels: list[str]) -> list[VolumeInfo]:
        filters = json.dumps({"label": labels})
        found = self.json("GET", "/volumes", query={"filters": filters}).get("Volumes") or []
        return [VolumeInfo(raw) for raw in found]

    def images(self, reference: str) -> list[ImageInfo]:
        filters = json.dumps({"reference": [reference]})
        return [ImageInfo(raw) for raw in
                self.json("GET", "/images/json", query={"filters": filters})]

    # -- helpers --------------------------------------------------------------------------

    def _drain(self, resp: Response, what: str) -> None:
        """Read a pull/push/import stream to its end; Docker's per-layer progress summed."""
        from onedock.progress import Progress

        progress, layers = Progress(0, what), {}
        try:
            for item in self._stream_json(resp):
                detail = item.get("progressDetail") or {}
                if "total" in detail and item.get("id"):
                    layers[item["id"]] = (detail.get("current", 0), detail["total"])
                    progress.set(sum(c for c, _ in layers.values()),
                                 sum(t for _, t in layers.values()))
        finally:
            progress.close()


def _q(value: str) -> str:
    return quote(value, safe="/:@")
