"""An image as the registry stores it: one manifest, its config blob and its layers."""

from __future__ import annotations

import json
from dataclasses import dataclass

from onedock.errors import OneDockError
from onedock.registry.client import INDEXES, Manifest, Registry

KIND_LABEL = "org.opennebula.onedock.kind"


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int


@dataclass
class Image:
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


def image_config(registry: Registry, repo: str, image: Image) -> dict:
    return json.loads(registry.read_blob(repo, image.config.digest))


def kind(config: dict) -> str:
    """'volume' for datablock images (a directory tree for a Docker volume), else 'image'."""
    labels = (config.get("config") or {}).get("Labels") or {}
    return "volume" if labels.get(KIND_LABEL) == "volume" else "image"
