"""Disk snapshots of a powered-off (or, to create, suspended) VM: TM snap_create/revert/delete.

They live on the VM's host in its own repository, beside the system snapshots of the VMM
(`one-<vmid>:snap-<S>`), as `one-<vmid>:disk.<N>.snap.<S>`:

* the root disk (the container's filesystem, its writable layer included) as a commit of the
  stopped container, or as the disk tag itself when a save already committed the layer;
* a volume disk as a one-layer image of its tree under /volume (the form datablocks have in the
  registry), labelled like the volume was, so a revert remakes it as it was, even on a retry
  after the volume went. The tree travels host -> front-end -> host: the engine API has no
  call that turns a volume into an image on the host itself.

A revert leaves no container behind: the VMM's deploy at resume makes it again from the VM
template, as after a save (the writable layer a revert throws away is the container's).
Like the ssh TM's snapshot files they stay on the host: stop and migration do not carry them.
The per-VM volumes of image-declared VOLUMEs are not disks, so no disk snapshot has them.
"""

from __future__ import annotations

import contextlib
import json

from onedock import names
from onedock.engine.views import ContainerInfo, VolumeInfo
from onedock.errors import Conflict, NotFound, OneDockError
from onedock.host.staging import LABEL_SOURCE, Host, snapshot_tag
from onedock.registry.image import KIND_LABEL


def _box(host: Host, vmid: int) -> ContainerInfo | None:
    return host.engine.container_inspect(names.container(vmid))


def _is_root(box: ContainerInfo | None, disk_id: int) -> bool:
    return box is not None and box.labels.get(names.LABEL_DISK) == str(disk_id)


def _missing(host: Host, vmid: int, disk_id: int) -> OneDockError:
    return OneDockError(f"disk.{disk_id} of VM {vmid} is not on {host.name}",
                        hint="disk snapshots need the VM powered off or suspended on its host")


def create(host: Host, vmid: int, disk_id: int, snap_id: int) -> None:
    """Take (or, on a retry, take again: the VM is not running) snapshot S of disk.N."""
    repo, tag = names.disk_repo(vmid), snapshot_tag(disk_id, snap_id)
    before = host.engine.image_inspect(f"{repo}:{tag}")
    box = _box(host, vmid)
    volume = host.engine.volume_inspect(names.volume(vmid, disk_id))
    if volume is not None:
        _volume_image(host, names.volume(vmid, disk_id), volume, repo, tag)
    elif _is_root(box, disk_id):
        host.engine.commit(names.container(vmid), repo, tag)
    elif host.disk_image(vmid, disk_id) is not None:  # suspended: the save committed the layer
        host.engine.tag(f"{repo}:{names.disk_tag(disk_id)}", repo, tag)
    else:
        raise _missing(host, vmid, disk_id)
    if before is not None:
        _drop_if_dangling(host, before.id)


def _volume_image(host: Host, name: str, volume: VolumeInfo, repo: str, tag: str) -> None:
    import shutil
    import tempfile

    labels = {k: v for k, v in volume.labels.items() if k != LABEL_SOURCE}
    labels[KIND_LABEL] = "volume"
    changes = "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    with tempfile.TemporaryFile(prefix="onedock-snap-") as spool:
        with host.read_volume(name) as stream:
            shutil.copyfileobj(stream, spool, 1 << 20)
        spool.seek(0)
        resp = host.engine.request(
            "POST", "/images/create", stream=True, body=spool,
            query={"fromSrc": "-", "repo": repo, "tag": tag, "changes": changes},
            headers={"Content-Type": "application/x-tar"})
        host.engine._drain(resp, f"import {repo}:{tag}")


def revert(host: Host, vmid: int, disk_id: int, snap_id: int) -> None:
    repo, tag = names.disk_repo(vmid), snapshot_tag(disk_id, snap_id)
    snap = host.engine.image_inspect(f"{repo}:{tag}")
    if snap is None:
        raise OneDockError(f"snapshot {snap_id} of disk.{disk_id} of VM {vmid} does not exist "
                           f"on {host.name}", hint="onevm show lists the disk's snapshots")
    box = _box(host, vmid)
    if box is not None and box.running:
        raise OneDockError(f"VM {vmid} is running on {host.name}",
                           hint="power the VM off to revert a disk snapshot")
    labels = snap.labels
    if labels.get(KIND_LABEL) == "volume":
        _revert_volume(host, vmid, disk_id, f"{repo}:{tag}", labels, box)
        return
    before = host.disk_image(vmid, disk_id)
    if _is_root(box, disk_id):  # its writable layer is what the revert throws away
        host.engine.remove_container(names.container(vmid), force=True)
    host.engine.tag(f"{repo}:{tag}", repo, names.disk_tag(disk_id))
    if before is not None and before.id != snap.id:
        _drop_if_dangling(host, before.id)


def _revert_volume(host: Host, vmid: int, disk_id: int, ref: str, labels: dict,
                   box: ContainerInfo | None) -> None:
    """Remake the volume from the snapshot; the container that mounts it goes first."""
    if box is not None:
        from onedock.host.vm_container import VmContainer

        boot = int(box.labels.get(names.LABEL_DISK, -1))
        if boot >= 0:
            # the root disk stays as it is
            VmContainer(host.cfg, vmid, host.engine).keep_layer(boot)
        else:
            raise OneDockError(f"container {names.container(vmid)} on {host.name} is not "
                               "onedock's: it has no boot disk label")
    name = names.volume(vmid, disk_id)
    try:
        host.engine.remove_volume(name)
    except Conflict as exc:
        raise OneDockError(f"{host.name}: volume {name} is still in use") from exc
    own = {k: v for k, v in labels.items() if k.startswith(f"{names.LABEL}.")
           and k not in (KIND_LABEL, LABEL_SOURCE)}
    role = own.get(names.LABEL_ROLE, "datablock")
    host.volume_from_image(ref, vmid, disk_id, role, labels=own or None)


def delete(host: Host, vmid: int, disk_id: int, snap_id: int) -> None:
    """Gone already is done: oned only asks for snapshots it lists, so that is a retry."""
    ref = f"{names.disk_repo(vmid)}:{snapshot_tag(disk_id, snap_id)}"
    with contextlib.suppress(NotFound):
        host.engine.remove_image(ref)


def _drop_if_dangling(host: Host, image_id: str) -> None:
    """An image a tag moved away from: removed when nothing names or needs it any more."""
    info = host.engine.image_inspect(image_id)
    if info is None or info.tags or info.digests:
        return
    with contextlib.suppress(Conflict, NotFound):  # a parent of snapshots, or a container's
        host.engine.remove_image(image_id)
