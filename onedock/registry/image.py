"""An image as the registry stores it: one manifest, its config blob and its layers."""

from __future__ import annotations

import json
from typing import NamedTuple

from onedock import names, tarball
from onedock.errors import OneDockError
from onedock.registry.client import INDEXES, OCI_MANIFEST, Manifest, Registry, sha256_digest

KIND_LABEL = "org.opennebula.onedock.kind"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


class Blob(NamedTuple):
    digest: str
    size: int


class Image(NamedTuple):
    manifest: Manifest
    config: Blob
    layers: list[Blob]

    @property
    def blobs(self) -> list[Blob]:
        return [self.config, *self.layers]

    @property
    def size(self) -> int:
        """Bytes the image occupies in a registry (compressed layers plus config)."""
        return sum(b.size for b in self.blobs) + len(self.manifest.body)


def from_manifest(manifest: Manifest) -> Image:
    data = manifest.data
    try:
        config = Blob(data["config"]["digest"], int(data["config"]["size"]))
        layers = [Blob(item["digest"], int(item["size"])) for item in data.get("layers", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise OneDockError(f"malformed image manifest {manifest.digest}") from exc
    return Image(manifest, config, layers)


def resolve(registry: Registry, repo: str, ref: str, platform: str) -> Image:
    """Fetch the manifest for `ref`, picking `platform` out of a multi-arch index."""
    manifest = registry.get_manifest(repo, ref)
    if manifest.media_type in INDEXES:
        wanted_os, _, wanted_arch = platform.partition("/")
        wanted_arch, _, variant = wanted_arch.partition("/")
        choices = []
        for entry in manifest.data.get("manifests", []):
            plat = entry.get("platform") or {}
            same = plat.get("os") == wanted_os and plat.get("architecture") == wanted_arch
            if same and (not variant or plat.get("variant") == variant):
                choices.append(entry["digest"])
        if not choices:
            raise OneDockError(
                f"{registry.host}/{repo}:{ref} has no image for platform {platform}",
                hint="set platform in onedock.conf or pick another tag",
            )
        manifest = registry.get_manifest(repo, choices[0])
    return from_manifest(manifest)


# -- volume-kind images: the content of datablocks and of parked volumes -----------------


def empty_volume_image(size_mb: int, fs: str) -> tuple[Manifest, bytes, bytes]:
    """A volume-kind image holding an empty /volume tree: the content of a new datablock."""
    layer = tarball.build([(names.VOLUME_MOUNT.strip("/"), tarball.DIR, 0o755)])
    return volume_manifest(layer, sha256_digest(layer), len(layer), size_mb, fs)


def volume_manifest(
    layer: bytes | None, digest: str, size: int, size_mb: int, fs: str = ""
) -> tuple[Manifest, bytes, bytes | None]:
    labels = {KIND_LABEL: "volume", names.LABEL_SIZE: str(size_mb)}
    if fs:
        labels[f"{names.LABEL}.fs"] = fs
    manifest, config = single_layer_image(digest, size, {"Labels": labels, "Cmd": ["none"]})
    return manifest, config, layer


def single_layer_image(digest: str, size: int, run: dict,
                       arch: str = "amd64") -> tuple[Manifest, bytes]:
    """An OCI image of one uncompressed tar layer (its digest is its diff_id): a volume's
    tree, or a root filesystem restored from a backup with the config it ran with."""
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": run,
            "rootfs": {"type": "layers", "diff_ids": [digest]},
        },
        separators=(",", ":"),
    ).encode()
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config),
                       "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": digest, "size": size}],
        },
        separators=(",", ":"),
    ).encode()
    return Manifest(body, OCI_MANIFEST, sha256_digest(body)), config


def put_volume_image(registry: Registry, repo: str, tag: str, manifest: Manifest,
                     config: bytes, layer: bytes | None) -> None:
    found = from_manifest(manifest)
    if not registry.has_blob(repo, found.config.digest):
        registry.upload_blob(repo, found.config.digest, len(config), config)
    if layer is not None and not registry.has_blob(repo, found.layers[0].digest):
        registry.upload_blob(repo, found.layers[0].digest, len(layer), layer)
    registry.put_manifest(repo, tag, manifest)
