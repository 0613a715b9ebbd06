"""A disk file of an onedock backup (`disk.<N>.0`, a tar) and its way back into the private
registry when `oneimage restore` makes an image of it.

The root disk's tar is the container's filesystem as `docker export` gives it, after a first
member IMAGE_CONFIG: the config the VM's image ran with (Cmd, Entrypoint, Env, WorkingDir...),
which an export drops and a restored VM needs. A volume's tar is its tree, rooted at `volume/`
as onedock's volume-kind images are. Either way the tar becomes the single uncompressed layer
of an image, streamed from the backup datastore's downloader to the registry, never spooled.
"""

from __future__ import annotations

import json
from typing import IO

from onedock import names, streams
from onedock.errors import OneDockError
from onedock.registry.client import Registry, sha256_digest
from onedock.registry.image import KIND_LABEL, from_manifest, single_layer_image
from onedock.streams import read_exactly

IMAGE_CONFIG = ".onedock-image-config.json"

_HEADER = 512


def config_member(config: dict) -> bytes:
    """The tar member that leads a root disk's file: header, JSON, padding."""
    import tarfile

    data = json.dumps(config, sort_keys=True).encode()
    info = tarfile.TarInfo(IMAGE_CONFIG)
    info.size, info.mode = len(data), 0o644
    return info.tobuf(format=tarfile.USTAR_FORMAT) + data + b"\0" * (-len(data) % _HEADER)


def push(stream: IO[bytes], registry: Registry, repo: str, tag: str, *, root: bool,
         arch: str, labels: dict[str, str] | None = None) -> int:
    """The disk file read from `stream` as `repo:tag`; returns the layer's size in bytes."""
    head = read_exactly(stream, _HEADER)
    if len(head) < _HEADER:
        raise OneDockError("the backup's disk file is empty or not a tar archive")
    run: dict = {"Cmd": ["none"]}
    if root:
        name = head[:100].rstrip(b"\0").decode(errors="replace")
        if name != IMAGE_CONFIG:
            raise OneDockError("the backup's root disk lacks the image config onedock writes",
                               hint="restore onedock backups of onedock VMs only")
        size = int(head[124:136].strip(b"\0 ") or b"0", 8)
        data = read_exactly(stream, size + (-size % _HEADER))
        head += data
        try:
            run = json.loads(data[:size])
        except ValueError as exc:
            raise OneDockError("the backup's image config is not JSON") from exc
        if not isinstance(run, dict):
            raise OneDockError("the backup's image config is not a JSON object")

    def chunks():
        yield head
        while chunk := stream.read(streams.BLOCK):
            yield chunk

    digest, size = registry.upload_stream(repo, chunks())
    if not root:
        run = {"Labels": {KIND_LABEL: "volume",
                          names.LABEL_SIZE: str(max(1, -(-size // (1 << 20))))},
               "Cmd": ["none"]}
    if labels:  # a backup's own: two backups of the same content stay two manifests
        run = {**run, "Labels": {**(run.get("Labels") or {}), **labels}}
    manifest, config = single_layer_image(digest, size, run, arch)
    blob = from_manifest(manifest).config
    registry.upload_blob(repo, blob.digest, len(config), config)
    registry.put_manifest(repo, tag, manifest)
    return size


def download(url: str, registry: Registry, repo: str, tag: str, *, root: bool,
             platform: str) -> int:
    """The disk file at `url` (rsync://, restic://) as `repo:tag`, fetched by OpenNebula's own
    downloader (it resolves the backup datastore through oned, as the stock drivers do)."""
    import os
    import subprocess

    from onedock.one import one_remotes

    downloader = os.path.join(one_remotes(), "datastore", "downloader.sh")
    if not os.access(downloader, os.X_OK):
        raise OneDockError(f"OpenNebula's {downloader} is missing",
                           hint="restore on the front-end, where OpenNebula's remotes are")
    argv = [downloader, "--nodecomp", url, "-"]
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        try:
            size = push(proc.stdout, registry, repo, tag, root=root,
                        arch=platform.partition("/")[2] or "amd64")
        except BaseException:
            proc.kill()
            raise
        finally:
            err = proc.stderr.read()
    if proc.returncode != 0:
        why = err.decode(errors="replace").strip().splitlines() or [f"exit {proc.returncode}"]
        raise OneDockError(f"cannot download {url[:120]}: {why[-1][:200]}")
    return size


def put_file(registry: Registry, repo: str, tag: str, name: str, data: bytes,
             labels: dict[str, str]) -> int:
    """A small file of a backup (vm.xml) as `repo:tag`, one tar layer holding it."""
    from onedock import tarball

    layer = tarball.build([(name, data, 0o600)])
    digest = sha256_digest(layer)
    manifest, config = single_layer_image(digest, len(layer), {
        "Labels": {KIND_LABEL: "backup-file", **labels}, "Cmd": ["none"]})
    registry.upload_blob(repo, digest, len(layer), layer)
    registry.upload_blob(repo, from_manifest(manifest).config.digest, len(config), config)
    registry.put_manifest(repo, tag, manifest)
    return len(data)


def read_file(registry: Registry, repo: str, tag: str) -> bytes:
    """The file put_file stored."""
    import io
    import tarfile

    found = from_manifest(registry.get_manifest(repo, tag))
    layer = registry.open_blob(repo, found.layers[0].digest).read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        handle = tar.extractfile(member) if member is not None else None
        if handle is None:
            raise OneDockError(f"registry {registry.host}: {repo}:{tag} holds no file")
        return handle.read()
