"""`onevm restore`: a powered-off VM's disks put back in place from one of its backups.

The backup image and its datastore are asked of oned (as the stock TMs do). From an onedock
backup datastore the disks are the registry tags it stored; from an rsync or restic one, the
stock datastore's `ls` names the files and OpenNebula's downloader fetches them into the
private registry first. Everything is pulled onto the host before anything of the VM is
touched; then the VM's container goes (the next resume makes it again from the restored root
disk) and each restored disk replaces the current one.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess

from onedock import names, registries
from onedock.errors import OneDockError
from onedock.host.backup import backup_vmid
from onedock.host.spec import boot_disk
from onedock.host.staging import Host
from onedock.one import one_remotes
from onedock.one.api import Oned
from onedock.one.vm import parse_vm
from onedock.registry import backup_disk

RESTORE_TAG = "restore"  # where the files of an rsync or restic backup wait in the registry


def restore_in_place(host: Host, vmid: int, image_id: int, disk_id: int) -> list[int]:
    """The disks restored (all of the backup's, or only `disk_id` when it is not -1)."""
    oned = Oned.from_env()
    image_xml = oned.call("one.image.info", image_id, False)
    image = _doc(image_xml, "IMAGE")
    ds_id = int(image.findtext("DATASTORE_ID") or "-1")
    ds_xml = oned.call("one.datastore.info", ds_id, False)
    mad = _doc(ds_xml, "DATASTORE").findtext("DS_MAD") or ""
    vm_xml = oned.call("one.vm.info", vmid, False)
    box = host.engine.container_inspect(names.container(vmid))
    if box is not None and box.running:
        raise OneDockError(f"VM {vmid} is running", hint="power it off first (onevm poweroff)")
    repo = names.backup_repo(host.cfg.prefix, vmid)
    if mad == "onedock":
        bid = image.findtext("SOURCE") or ""
        if backup_vmid(bid) != vmid:
            raise OneDockError(f"backup image {image_id} is VM {backup_vmid(bid)}'s, "
                               f"not VM {vmid}'s")
        tags = {int(t.rsplit(".", 1)[1]): t for t in registries.private(host.cfg).tags(repo)
                if t.startswith(f"{bid}-disk.")}
    else:
        tags = _fetch(host, repo, vmid, mad, ds_xml, vm_xml, image_xml)
    if disk_id != -1:
        tags = {d: t for d, t in tags.items() if d == disk_id}
    if not tags:
        raise OneDockError(f"backup image {image_id} holds no disk"
                           + (f" {disk_id}" if disk_id != -1 else ""))
    registry = registries.private(host.cfg)
    refs = {}
    for disk, tag in tags.items():  # every piece on the host before the VM changes
        digest = registry.head_manifest(repo, tag)
        if digest is None:
            raise OneDockError(f"{repo}:{tag} is missing from the private registry")
        refs[disk] = host.registry_ref(repo, digest)
        host.ensure_image(refs[disk])
    host.engine.remove_container(names.container(vmid), force=True)
    for disk, tag in sorted(tags.items()):
        host.drop_disk(vmid, disk)
        host.stage(repo, tag, vmid, disk, "restored")
    if mad != "onedock":
        for tag in tags.values():
            with contextlib.suppress(OneDockError):
                registry.forget(repo, tag)
    return sorted(tags)


def _fetch(host: Host, repo: str, vmid: int, mad: str, ds_xml: str, vm_xml: str,
           image_xml: str) -> dict[int, str]:
    """The disks of an rsync or restic backup, through the stock datastore's `ls` and
    OpenNebula's downloader, as registry tags of `repo`."""
    if not mad.isalnum():
        raise OneDockError(f"backup datastore driver '{mad[:30]}' is not a driver name")
    ls = os.path.join(one_remotes(), "datastore", mad, "ls")
    request = "\n".join(["<DS_DRIVER_ACTION_DATA>", ds_xml, vm_xml, image_xml,
                         "</DS_DRIVER_ACTION_DATA>", ""])
    done = subprocess.run([ls, "-i", "-1"], input=request.encode(), capture_output=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise OneDockError(f"datastore/{mad}/ls failed: {why[-1][:200]}")
    try:
        urls = {int(k): v for k, v in json.loads(done.stdout).items() if k.isdigit()}
    except (ValueError, AttributeError) as exc:
        raise OneDockError(f"datastore/{mad}/ls did not answer JSON") from exc
    boot = boot_disk(parse_vm(vm_xml, "VM document")).disk_id
    registry = registries.private(host.cfg)
    tags = {}
    for disk, url in sorted(urls.items()):
        tags[disk] = f"{RESTORE_TAG}-disk.{disk}"
        backup_disk.download(url, registry, repo, tags[disk], root=disk == boot,
                             platform=host.cfg.platform)
    return tags


def _doc(xml: str, root: str):
    from onedock.one.xmldoc import parse

    return parse(xml, root, root.lower())
