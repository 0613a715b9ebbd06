"""What lives on a virtualization host for a VM, and how it gets there and back.

A VM's disks on a host are Docker objects named after the files OpenNebula would use:
image disks are local tags `one-<vmid>:disk.<N>` of an image pulled by digest from the private
registry; volatile, datablock and context disks are volumes `one-<vmid>-disk.<N>`. Moving a VM
(stop, resume, cold migrate, save-as) goes through the private registry: content is *parked*
in `<prefix>/vm-<vmid>` (or an image's own repository) and *staged* again from there.
"""

from __future__ import annotations

import contextlib

from onedock import names, registries
from onedock.config import Config
from onedock.engine import Conflict, Engine
from onedock.errors import NotFound, OneDockError
from onedock.registry.image import KIND_LABEL

LABEL_SOURCE = f"{names.LABEL}.source"  # the registry content a volume was made from


class Host:
    def __init__(self, cfg: Config, name: str):
        self.cfg = cfg
        self.name = name
        self.engine = Engine(cfg.engine_url(name), cfg.timeout, name)

    def registry_ref(self, repo: str, ref: str) -> str:
        sep = "@" if ref.startswith("sha256:") else ":"
        return f"{self.cfg.registry}/{repo}{sep}{ref}"

    # -- images ---------------------------------------------------------------------------

    def ensure_image(self, ref: str) -> dict:
        """Inspect `ref`, pulling it first when the host lacks it (the warm path is one call)."""
        info = self.engine.image_inspect(ref)
        if info is None:
            self.engine.pull(ref, registries.engine_auth(self.cfg))
            info = self.engine.image_inspect(ref)
            if info is None:
                raise OneDockError(f"{self.name}: {ref} missing right after a successful pull")
        return info

    def stage(self, repo: str, tag: str, vmid: int, disk_id: int, role: str,
              volumes: bool = True) -> str:
        """Make disk.N of the VM from registry repo:tag; returns 'image' or 'volume'.

        volumes=False only pre-pulls volume-kind content (live-migration warm-up): the
        volume itself is made when its current content arrives.
        """
        registry = registries.private(self.cfg)
        digest = registry.head_manifest(repo, tag)
        if digest is None:
            raise OneDockError(
                f"{repo}:{tag} is not in the private registry {self.cfg.registry}",
                hint="was the image registered in an onedock datastore, and is it still there?",
            )
        ref = self.registry_ref(repo, digest)
        info = self.ensure_image(ref)
        labels = (info.get("Config") or {}).get("Labels") or {}
        if labels.get(KIND_LABEL) == "volume":
            if volumes:
                self.volume_from_image(ref, vmid, disk_id, role)
            return "volume"
        self.engine.tag(ref, names.disk_repo(vmid), names.disk_tag(disk_id))
        return "image"

    def has_disk(self, vmid: int, disk_id: int) -> bool:
        return self.disk_image(vmid, disk_id) is not None or self.engine.volume_inspect(
            names.volume(vmid, disk_id)) is not None

    def disk_image(self, vmid: int, disk_id: int) -> dict | None:
        return self.engine.image_inspect(f"{names.disk_repo(vmid)}:{names.disk_tag(disk_id)}")

    def untag_disk(self, vmid: int, disk_id: int) -> bool:
        ref = f"{names.disk_repo(vmid)}:{names.disk_tag(disk_id)}"
        try:
            return self.engine.remove_image(ref)
        except Conflict:
            # a committed layer (save, resume) is only held by the VM's own container
            box = self.engine.container_inspect(names.container(vmid))
            if box is None or (box.get("State") or {}).get("Running"):
                raise
            self.engine.remove_container(names.container(vmid), force=True, volumes=True)
            return self.engine.remove_image(ref)

    # -- volumes --------------------------------------------------------------------------

    def volume_labels(self, vmid: int, disk_id: int, role: str, size_mb: int = 0) -> dict:
        labels = {names.LABEL_VMID: str(vmid), names.LABEL_DISK: str(disk_id),
                  names.LABEL_ROLE: role}
        if size_mb:
            labels[names.LABEL_SIZE] = str(size_mb)
        return labels

    def create_volume(self, vmid: int, disk_id: int, role: str, size_mb: int = 0) -> None:
        name = names.volume(vmid, disk_id)
        if self.engine.volume_inspect(name) is None:
            self.engine.create_volume(name, self.volume_labels(vmid, disk_id, role, size_mb))

    def volume_from_image(self, ref: str, vmid: int, disk_id: int, role: str) -> None:
        """Fill a new volume from a volume-kind image: Docker copies /volume into it on create."""
        name = names.volume(vmid, disk_id)
        existing = self.engine.volume_inspect(name)
        if existing is not None:
            if (existing.get("Labels") or {}).get(LABEL_SOURCE) in (ref, None):
                return  # already made from this very content (a retried action)
            self.remove_volume(name, vmid)  # older content: the parked copy is newer
        labels = {**self.volume_labels(vmid, disk_id, role), LABEL_SOURCE: ref}
        mount = {"Type": "volume", "Source": name, "Target": names.VOLUME_MOUNT,
                 "VolumeOptions": {"Labels": labels}}
        try:
            with self.helper(ref, mount):
                pass
        except BaseException:
            self.engine.remove_volume(name)
            raise

    @contextlib.contextmanager
    def helper(self, image: str, mount: dict):
        """A created, never started container that only exists to reach a volume's files."""
        config = {"Image": image, "Cmd": ["none"], "NetworkDisabled": True,
                  "Labels": {names.LABEL_ROLE: "helper"},
                  "HostConfig": {"Mounts": [mount], "NetworkMode": "none"}}
        cid = self.engine.create_container("", config)
        try:
            yield cid
        finally:
            self.engine.remove_container(cid, force=True)

    def scratch(self) -> str:
        repo, tag = names.SCRATCH
        ref = f"{repo}:{tag}"
        if self.engine.image_inspect(ref) is None:
            import io
            import tarfile

            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                info = tarfile.TarInfo(".onedock-scratch")
                tar.addfile(info, io.BytesIO(b""))
            self.engine.import_tar(buf.getvalue(), repo, tag)
        return ref

    def write_volume(self, name: str, tar_bytes: bytes) -> None:
        mount = {"Type": "volume", "Source": name, "Target": names.VOLUME_MOUNT}
        with self.helper(self.scratch(), mount) as cid:
            self.engine.put_archive(cid, names.VOLUME_MOUNT, tar_bytes)

    @contextlib.contextmanager
    def read_volume(self, name: str):
        """A streaming tar of the volume's tree, rooted at `volume/`."""
        mount = {"Type": "volume", "Source": name, "Target": names.VOLUME_MOUNT}
        with self.helper(self.scratch(), mount) as cid:
            resp = self.engine.get_archive(cid, names.VOLUME_MOUNT)
            try:
                yield resp
            finally:
                resp.read()  # drain, so the connection can remove the helper

    def remove_volume(self, name: str, vmid: int) -> None:
        try:
            self.engine.remove_volume(name)
        except Conflict as exc:
            box = self.engine.container_inspect(names.container(vmid))
            if box is not None and not (box.get("State") or {}).get("Running"):
                return  # held by the VM's stopped container: goes with the VM directory
            raise OneDockError(f"{self.name}: volume {name} is still in use") from exc

    # -- parking --------------------------------------------------------------------------

    def park(self, vmid: int, disk_id: int, repo: str, tag: str) -> bool:
        """Push disk.N of the VM to the registry as repo:tag. False when the host lacks it."""
        volume = names.volume(vmid, disk_id)
        if self.engine.volume_inspect(volume) is not None:
            self.park_volume(volume, repo, tag)
            return True
        box = self.engine.container_inspect(names.container(vmid))
        disk_label = ((box or {}).get("Config") or {}).get("Labels", {}).get(names.LABEL_DISK)
        source = None
        if box is not None and disk_label == str(disk_id):
            source = "container"
        elif self.disk_image(vmid, disk_id) is not None:
            source = "image"
        if source is None:
            return False
        target = f"{self.cfg.registry}/{repo}"
        if source == "container":
            self.engine.commit(names.container(vmid), target, tag)
        else:
            self.engine.tag(f"{names.disk_repo(vmid)}:{names.disk_tag(disk_id)}", target, tag)
        try:
            self.engine.push(target, tag, registries.engine_auth(self.cfg))
        finally:
            self.engine.remove_image(f"{target}:{tag}")
        return True

    def park_volume(self, volume: str, repo: str, tag: str) -> None:
        from onedock.registry.image import put_volume_image, volume_manifest

        registry = registries.private(self.cfg)
        info = self.engine.volume_inspect(volume) or {}
        size_mb = int((info.get("Labels") or {}).get(names.LABEL_SIZE, "0") or 0)
        with self.read_volume(volume) as stream:
            digest, size = registry.upload_stream(repo, iter(lambda: stream.read(1 << 20), b""))
        manifest, config, _ = volume_manifest(None, digest, size, size_mb)
        put_volume_image(registry, repo, tag, manifest, config, None)

    # -- whole VMs ------------------------------------------------------------------------

    def remove_vm(self, vmid: int) -> None:
        """Everything of the VM on this host: its container, volumes and disk tags."""
        self.engine.remove_container(names.container(vmid), force=True, volumes=True)
        for vol in self.engine.volumes([f"{names.LABEL_VMID}={vmid}"]):
            with contextlib.suppress(NotFound):
                self.engine.remove_volume(vol["Name"])
        for img in self.engine.images(names.disk_repo(vmid)):
            for tag in img.get("RepoTags") or []:
                if tag.startswith(f"{names.disk_repo(vmid)}:"):
                    with contextlib.suppress(NotFound):
                        self.engine.remove_image(tag)
