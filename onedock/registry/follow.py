"""Images that follow their tag: `onedock image update` on the front-end.

`cp` pins the digest a tag named at registration, and OpenNebula keeps the PATH it came from
(`docker://ubuntu:24.04`). Following the tag re-resolves that PATH and, when the tag moved,
copies the new manifest under the image's repository: VMs staged from then on get it. VMs
already made keep theirs, because each VM's disk is its own copy (TM `clone` tags it per VM,
migrations park it under the VM's repository). The old manifest stays tagged
`was-<digest prefix>`, so nothing a VM or a snapshot may still name is left untagged.
"""

from __future__ import annotations

from typing import NamedTuple

from onedock import registries
from onedock.config import Config
from onedock.errors import OneDockError
from onedock.registry import image as images
from onedock.registry.copy import copy_image
from onedock.registry.reference import Reference
from onedock.registry.reference import parse as parse_reference

TAG = "latest"  # the tag of an image's repository that `clone` stages (drivers.datastore.TAG)


class TagMove(NamedTuple):
    """What following one image's tag finds: its digest now and the one its tag names."""

    repo: str
    reference: Reference
    current: str | None
    upstream: str
    upstream_size: int

    @property
    def moved(self) -> bool:
        return self.current != self.upstream

    @property
    def kept_as(self) -> str:
        return f"was-{(self.current or 'sha256:none')[7:19]}"

    def describe(self, dry_run: bool) -> str:
        if not self.moved:
            return f"{self.repo}: {self.reference} still names {self.upstream[:19]}: up to date"
        verb = "would move" if dry_run else "moved"
        return (f"{self.repo}: {self.reference} {verb} from {(self.current or 'none')[:19]} to "
                f"{self.upstream[:19]} ({self.upstream_size / (1 << 20):.1f} MiB; the old one "
                f"kept as {self.repo}:{self.kept_as})")


def tag_of(path: str) -> Reference:
    """The reference an image was registered from, if it was registered from a tag."""
    from onedock.drivers.datastore import docker_reference

    given = docker_reference(path)
    if given is None:
        raise OneDockError(f"PATH '{path[:120]}' is not a docker:// reference: nothing to follow",
                           hint="only images registered from a registry tag follow it")
    ref = parse_reference(given)
    if ref.digest:
        raise OneDockError(f"{ref} is pinned by digest: nothing to follow",
                           hint="register it from a tag to follow the tag")
    return ref


class Follow:
    """One image's repository in the private registry and the tag it was registered from."""

    def __init__(self, cfg: Config, repo: str, path: str, auth_file: str = ""):
        self.cfg, self.repo = cfg, repo
        self.reference = tag_of(path)
        self.private = registries.private(cfg)
        self.source = registries.source(cfg, self.reference, auth_file)

    def check(self) -> TagMove:
        self._found = images.resolve(self.source, self.reference.repository, self.reference.ref,
                                     self.cfg.platform)
        current = self.private.head_manifest(self.repo, TAG)
        if current is None:
            raise OneDockError(f"{self.repo}:{TAG} is not in the private registry "
                               f"{self.cfg.registry}", hint="is the image still registered?")
        return TagMove(self.repo, self.reference, current, self._found.manifest.digest,
                       self._found.size)

    def apply(self, move: TagMove) -> None:
        """Keep the old manifest under its own tag first, then copy the new one: interrupted
        anywhere, the repository still has every manifest it had."""
        if not move.moved:
            return
        if move.current:
            self.private.put_manifest(self.repo, move.kept_as,
                                      self.private.get_manifest(self.repo, move.current))
        copy_image(self._found, self.private, self.repo, TAG, src=self.source,
                   src_repo=self.reference.repository, parallel=self.cfg.copy_parallel)


def update(cfg: Config, oned, image_id: int, dry_run: bool) -> str:
    """Follow the tag of OpenNebula image `image_id`, and record the digests in its template
    (ONEDOCK_DIGEST, ONEDOCK_PREVIOUS_DIGESTS) so `oneimage show` says what new VMs get."""
    doc = oned.info("image", image_id)
    ds = oned.info("datastore", int(doc.findtext("DATASTORE_ID") or "-1"))
    if (ds.findtext("DS_MAD") or "") != "onedock":
        raise OneDockError(f"image {image_id} is not in an onedock datastore")
    follow = Follow(cfg, doc.findtext("SOURCE") or "", doc.findtext("PATH") or "",
                    ds.findtext("TEMPLATE/REGISTRY_AUTH_FILE") or "")
    move = follow.check()
    line = f"image {image_id} ({doc.findtext('NAME') or ''}) {move.describe(dry_run)}"
    if dry_run or not move.moved:
        return line
    follow.apply(move)
    previous = (doc.findtext("TEMPLATE/ONEDOCK_PREVIOUS_DIGESTS") or "").split()
    attrs = (f'ONEDOCK_DIGEST="{move.upstream}"\n'
             f'ONEDOCK_PREVIOUS_DIGESTS="{" ".join([*previous, move.current or ""][-10:])}"\n')
    oned.call("one.image.update", image_id, attrs, 1)  # 1: merge into the template
    return line
