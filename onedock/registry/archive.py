"""`docker save` tarballs as a blob source, so images built offline can be registered too."""

from __future__ import annotations

import io
import json
import os
import tarfile

from onedock.errors import OneDockError
from onedock.registry.client import OCI_MANIFEST, Manifest, sha256_digest
from onedock.registry.image import OCI_CONFIG, OCI_LAYER, Blob, Image

MAX_INDEX = 16 << 20


class Archive:
    """The first image of a `docker save` archive (legacy or OCI-layout flavoured)."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed by close()
            index = self._json("manifest.json")
        except (OSError, tarfile.TarError) as exc:
            raise OneDockError(f"{path} is not a readable docker save archive: {exc}",
                               hint="an uncompressed `docker save -o file.tar`") from exc
        if not isinstance(index, list) or not index or not isinstance(index[0], dict):
            raise OneDockError(f"{path}: manifest.json lists no image")
        entry = index[0]
        try:
            config_name = entry["Config"]
            layer_names = list(entry["Layers"])
        except (KeyError, TypeError) as exc:
            raise OneDockError(f"{path}: manifest.json entry lacks Config or Layers") from exc
        self.config_bytes = self._read(config_name, MAX_INDEX)
        config = json.loads(self.config_bytes)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layer_names):
            raise OneDockError(f"{path}: config lists {len(diff_ids)} layers, archive has "
                               f"{len(layer_names)}")
        self._members: dict[str, tarfile.TarInfo] = {}
        layers = []
        for name, digest in zip(layer_names, diff_ids, strict=True):
            member = self._member(name)
            self._members[digest] = member
            layers.append(Blob(digest, member.size))
        config_blob = Blob(sha256_digest(self.config_bytes), len(self.config_bytes))
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_blob.digest,
                           "size": config_blob.size},
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": b.digest, "size": b.size} for b in layers
                ],
            },
            separators=(",", ":"),
        ).encode()
        self.image = Image(Manifest(body, OCI_MANIFEST, sha256_digest(body)), config_blob, layers)

    def open(self, blob: Blob):
        """A readable stream of one blob, for `copy_image(opener=...)`.

        Each stream has its own file handle: copies run in threads, and tarfile's shared handle
        would interleave their reads.
        """
        if blob.digest == self.image.config.digest:
            return io.BytesIO(self.config_bytes)
        member = self._members[blob.digest]
        if member.sparse:
            raise OneDockError(f"{self.path}: sparse layer files are not supported")
        handle = open(self.path, "rb")  # noqa: SIM115 - closed by copy_image
        handle.seek(member.offset_data)
        return _Bounded(handle, member.size)

    def close(self) -> None:
        self._tar.close()

    def _member(self, name: str) -> tarfile.TarInfo:
        try:
            member = self._tar.getmember(name)
        except KeyError as exc:
            raise OneDockError(f"{self.path}: archive lacks {name}") from exc
        for _ in range(8):  # OCI-layout saves link layer paths to blobs/sha256/...
            if not (member.issym() or member.islnk()):
                break
            target = member.linkname
            if member.issym():
                target = os.path.normpath(os.path.join(os.path.dirname(member.name), target))
            try:
                member = self._tar.getmember(target)
            except KeyError as exc:
                raise OneDockError(f"{self.path}: {name} links to missing {target}") from exc
        if not member.isfile():
            raise OneDockError(f"{self.path}: {name} is not a file")
        return member

    def _read(self, name: str, limit: int) -> bytes:
        member = self._member(name)
        if member.size > limit:
            raise OneDockError(f"{self.path}: {name} is implausibly large")
        handle = self._tar.extractfile(member)
        assert handle is not None
        return handle.read()

    def _json(self, name: str):
        try:
            return json.loads(self._read(name, MAX_INDEX))
        except ValueError as exc:
            raise OneDockError(f"{self.path}: {name} is not JSON") from exc


class _Bounded:
    """The `size` bytes of an open file from its current offset."""

    def __init__(self, handle, size: int):
        self._handle = handle
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._handle.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()
