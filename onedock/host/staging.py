"""What lives on a virtualization host for a VM, and how it gets there and back.

A VM's disks on a host are Docker objects named after the files OpenNebula would use:
image disks are local tags `one-<vmid>:disk.<N>` of an image pulled by digest from the private
registry; volatile, datablock and context disks are volumes `one-<vmid>-disk.<N>`. Moving a VM
(stop, resume, cold migrate, save-as) goes through the private registry: content is *parked*
in `<prefix>/vm-<vmid>` (or an image's own repository) and *staged* again from there.

The private registry is the hosts' cache. A host keeps the copy it pulled of an image only
while something of a VM on it is made from that copy (a container, a `one-*` tag); the last
VM's delete removes it, and a parked copy goes as soon as it became the VM's disk. The price:
the next VM of that image on that host pulls it again from the registry on the LAN (layers
other images share stay). The gain: a host that runs VMs for months does not fill up with
images that were deleted in OpenNebula long ago.
"""

from __future__ import annotations

import contextlib

from onedock import names, registries, tarball
from onedock.config import Config
from onedock.engine.client import Engine
from onedock.engine.views import ImageInfo
from onedock.errors import Conflict, NotFound, OneDockError
from onedock.registry.image import KIND_LABEL
from onedock.transport import ssh_options

LABEL_SOURCE = f"{names.LABEL}.source"  # the registry content a volume was made from


class Host:
    def __init__(self, cfg: Config, name: str):
        self.cfg = cfg
        self.name = name
        self.engine = Engine(cfg.engine_url(name), cfg.timeout, name, ssh_options(cfg))

    def registry_ref(self, repo: str, ref: str) -> str:
        sep = "@" if ref.startswith("sha256:") else ":"
        return f"{self.cfg.registry}/{repo}{sep}{ref}"

    # -- images ---------------------------------------------------------------------------

    def ensure_image(self, ref: str) -> ImageInfo:
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
        kind = "volume" if info.labels.get(KIND_LABEL) == "volume" else "image"
        if kind == "volume" and volumes:
            self.volume_from_image(ref, vmid, disk_id, role)
        elif kind == "image":
            self._tag_pulled(ref, names.disk_repo(vmid), names.disk_tag(disk_id))
        if repo == names.vm_repo(self.cfg.prefix, vmid):
            with contextlib.suppress(NotFound, Conflict):  # the parked copy is the disk now
                self.engine.remove_image(ref)
        elif kind == "volume" and not volumes:
            self.prune_cache({info.id})  # of no use here before the volume itself moves
        return kind

    def _tag_pulled(self, ref: str, repo: str, tag: str) -> None:
        """Tag what was just pulled; once more if another VM's delete removed it in between."""
        try:
            self.engine.tag(ref, repo, tag)
        except NotFound:
            self.ensure_image(ref)
            self.engine.tag(ref, repo, tag)

    def container_state(self, vmid: int) -> str | None:
        """The VM's container here: "running", another Docker state, or None for none."""
        box = self.engine.container_inspect(names.container(vmid))
        return None if box is None else box.status

    def has_disk(self, vmid: int, disk_id: int) -> bool:
        return self.disk_image(vmid, disk_id) is not None or self.engine.volume_inspect(
            names.volume(vmid, disk_id)) is not None

    def disk_image(self, vmid: int, disk_id: int) -> ImageInfo | None:
        return self.engine.image_inspect(f"{names.disk_repo(vmid)}:{names.disk_tag(disk_id)}")

    def drop_disk(self, vmid: int, disk_id: int) -> None:
        """disk.N of the VM leaves this host: its tag or volume, its snapshots, unused cache."""
        origins = self.origins(vmid, [disk_id])
        self.untag_disk(vmid, disk_id)
        if self.engine.volume_inspect(names.volume(vmid, disk_id)) is not None:
            self.remove_volume(names.volume(vmid, disk_id), vmid)
        for tag in self.disk_tags(vmid):
            if tag.startswith(f"{names.disk_repo(vmid)}:{snapshot_prefix(disk_id)}"):
                with contextlib.suppress(NotFound):
                    self.engine.remove_image(tag)
        self.prune_cache(origins)

    def disk_tags(self, vmid: int) -> list[str]:
        """Every `one-<vmid>:*` tag here: disks, disk snapshots, system snapshots."""
        mine = f"{names.disk_repo(vmid)}:"
        return [t for img in self.engine.images(names.disk_repo(vmid))
                for t in img.tags if t.startswith(mine)]

    def untag_disk(self, vmid: int, disk_id: int) -> bool:
        ref = f"{names.disk_repo(vmid)}:{names.disk_tag(disk_id)}"
        try:
            return self.engine.remove_image(ref)
        except Conflict:
            # a committed layer (save, resume) is only held by the VM's own container
            box = self.engine.container_inspect(names.container(vmid))
            if box is None or box.running:
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

    def volume_from_image(self, ref: str, vmid: int, disk_id: int, role: str,
                          labels: dict | None = None) -> None:
        """Fill a new volume from a volume-kind image: Docker copies /volume into it on create."""
        name = names.volume(vmid, disk_id)
        existing = self.engine.volume_inspect(name)
        if existing is not None:
            if existing.labels.get(LABEL_SOURCE) in (ref, None):
                return  # already made from this very content (a retried action)
            self.remove_volume(name, vmid)  # older content: the parked copy is newer
        labels = {**(labels or self.volume_labels(vmid, disk_id, role)), LABEL_SOURCE: ref}
        mount = {"Type": "volume", "Source": name, "Target": names.VOLUME_MOUNT,
                 "VolumeOptions": {"Labels": labels}}
        try:
            try:
                with self.helper(ref, mount):
                    pass
            except NotFound:  # another VM's delete removed the pulled copy: pull once more
                if ref.startswith(f"{names.disk_repo(vmid)}:"):
                    raise
                self.ensure_image(ref)
                with self.helper(ref, mount):
                    pass
        except BaseException:
            self.engine.remove_volume(name)
            raise

    @contextlib.contextmanager
    def helper(self, image: str, mount: dict, vmid: int | None = None, binds: tuple = ()):
        """A created, never started container that only exists to reach a volume's files;
        labelled with the VM it works for, so what a killed action left can be found."""
        labels = {names.LABEL_ROLE: "helper"}
        if vmid is not None:
            labels[names.LABEL_VMID] = str(vmid)
        config = {"Image": image, "Cmd": ["none"], "NetworkDisabled": True, "Labels": labels,
                  "HostConfig": {"Mounts": [mount] if mount else [], "NetworkMode": "none",
                                 "Binds": list(binds)}}
        cid = self.engine.create_container("", config)
        try:
            yield cid
        finally:
            self.engine.remove_container(cid, force=True)

    def scratch(self) -> str:
        repo, tag = names.SCRATCH
        ref = f"{repo}:{tag}"
        if self.engine.image_inspect(ref) is None:
            self.engine.import_tar(tarball.build([(".onedock-scratch", b"", 0o644)]), repo, tag)
        return ref

    def write_volume(self, name: str, tar_bytes: bytes) -> None:
        mount = {"Type": "volume", "Source": name, "Target": names.VOLUME_MOUNT}
        with self.helper(self.scratch(), mount) as cid:
            self.engine.put_archive(cid, names.VOLUME_MOUNT, tar_bytes)

    @contextlib.contextmanager
    def read_volume(self, name: str, vmid: int | None = None):
        """A streaming tar of the volume's tree, rooted at `volume/`."""
        mount = {"Type": "volume", "Source": name, "Target": names.VOLUME_MOUNT}
        with self.helper(self.scratch(), mount, vmid) as cid:
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
            if box is not None and not box.running:
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
        disk_label = box.labels.get(names.LABEL_DISK) if box is not None else None
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
        info = self.engine.volume_inspect(volume)
        size_mb = int((info.labels if info else {}).get(names.LABEL_SIZE, "0") or 0)
        with self.read_volume(volume) as stream:
            digest, size = registry.upload_stream(repo, iter(lambda: stream.read(1 << 20), b""))
        manifest, config, _ = volume_manifest(None, digest, size, size_mb)
        put_volume_image(registry, repo, tag, manifest, config, None)

    # -- whole VMs ------------------------------------------------------------------------

    def remove_vm(self, vmid: int) -> None:
        """Everything of the VM on this host: container, volumes, tags, the cache they used."""
        origins = self.origins(vmid, None)
        self.engine.remove_container(names.container(vmid), force=True, volumes=True)
        for helper in self.engine.containers([f"{names.LABEL_ROLE}=helper",  # a killed action's
                                              f"{names.LABEL_VMID}={vmid}"]):
            self.engine.remove_container(helper.id, force=True)
        for vol in self.engine.volumes([f"{names.LABEL_VMID}={vmid}"]):
            with contextlib.suppress(NotFound):
                self.engine.remove_volume(vol.name)
        for tag in self.disk_tags(vmid):
            with contextlib.suppress(NotFound):
                self.engine.remove_image(tag)
        self.prune_cache(origins)

    def remove_dir(self, path: str) -> None:
        """The VM's directory on this host (validated by the caller): host/vm_dir.py."""
        from onedock.host import vm_dir

        vm_dir.remove(self.cfg, self.name, path)

    # -- the cache of pulled images -------------------------------------------------------

    def origins(self, vmid: int, disk_ids: list[int] | None) -> set[str]:
        """Image ids the VM's disks (all, or these) were made from, with their parents."""
        refs = []
        box = self.engine.container_inspect(names.container(vmid))
        if box is not None and (disk_ids is None or box.labels.get(names.LABEL_DISK) in {
                str(d) for d in disk_ids}):
            refs.append(box.image_id)
        if disk_ids is None:
            refs += self.disk_tags(vmid)
            vols = self.engine.volumes([f"{names.LABEL_VMID}={vmid}"])
        else:
            refs += [f"{names.disk_repo(vmid)}:{names.disk_tag(d)}" for d in disk_ids]
            vols = [v for v in (self.engine.volume_inspect(names.volume(vmid, d))
                                for d in disk_ids) if v is not None]
        refs += [v.labels.get(LABEL_SOURCE, "") for v in vols]
        found: set[str] = set()
        for ref in filter(None, refs):
            for _ in range(64):  # commits (save, snapshots) sit on the pulled image
                info = self.engine.image_inspect(ref) if ref else None
                if info is None or info.id in found:
                    break
                found.add(info.id)
                ref = info.parent
        return found

    def prune_cache(self, image_ids: set[str]) -> None:
        """Remove this host's registry copies of these images unless a VM here still uses one.

        In use: the image of any container (VMs and volume helpers of running actions) or of a
        `one-*` tag. Only the registry reference goes: an image still needed as a parent keeps
        its layers. A clone racing with this re-pulls once (see _tag_pulled).
        """
        if not image_ids:
            return
        used = {c.image_id for c in self.engine.containers()}
        used |= {img.id for img in self.engine.images("one-*") if any(map(_vm_tag, img.tags))}
        prefix = f"{self.cfg.registry}/"
        for image_id in image_ids - used:
            info = self.engine.image_inspect(image_id)
            for ref in info.digests if info is not None else []:
                if ref.startswith(prefix):
                    with contextlib.suppress(NotFound, Conflict):
                        self.engine.remove_image(ref)


def _vm_tag(tag: str) -> bool:
    repo = tag.split(":", 1)[0]
    return repo.startswith("one-") and repo[4:].isdigit()


def snapshot_prefix(disk_id: int) -> str:
    return f"{names.disk_tag(disk_id)}.snap."


def snapshot_tag(disk_id: int, snap_id: int) -> str:
    """`disk.N.snap.S`: a disk snapshot, next to system snapshots (`snap-S`) in `one-<vmid>`."""
    return f"{snapshot_prefix(disk_id)}{snap_id}"
