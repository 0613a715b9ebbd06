"""DS_MAD=onedock as a backup datastore (TYPE=BACKUP_DS): the private registry keeps the
backups, `<prefix>/backup-<vmid>:<backup id>-disk.<N>` and `...-vm`, so a layer an image or an
earlier backup has is never stored again. The launchers are the image datastore's
(`datastore/onedock/<action>`): `backup` and `backup_cancel` are steps of `onevm backup`
(argv and raw stdin, as TM steps), `restore` and a backup image's `rm` are oned's own calls.
"""

from __future__ import annotations

import sys

from onedock import names, registries
from onedock.config import Config
from onedock.errors import OneDockError
from onedock.one.datastore import ImageData, parse_ds_action, vm_of_action

FORMAT = "docker"  # what every onedock image and backup is, in both datastores
SCHEME = "onedock-backup://"  # PATH of an image restored from an onedock backup


def backup(cfg: Config, argv: list[str]) -> str:
    """Step 2 of `onevm backup`: `<host>:<sysdir> <disks> <deploy_id> <bj_id> <vmid> <dsid>`,
    the raw DS_DRIVER_ACTION_DATA (DATASTORE, VM) on stdin; prints `<id> <size_mb> <format>`."""
    from onedock.host.backup import HostBackup
    from onedock.host.staging import Host
    from onedock.one.transfer import backup_step

    if len(argv) != 6:
        raise OneDockError(f"expected 6 arguments (host:sysdir disks deploy_id bj_id vmid dsid),"
                           f" got {len(argv)}")
    step = backup_step(argv[0], argv[1], argv[4], vm_of_action(sys.stdin.buffer.read()))
    bid, size_mb = HostBackup(Host(cfg, step.host), step).store()
    return f"{bid} {size_mb} {FORMAT}"


def backup_cancel(cfg: Config, argv: list[str]) -> str:
    """`onevm backup-cancel`: `<host>:<sysdir> <deploy_id>`; ends this VM's backup steps that
    are still running here (they clean up what they made, a paused VM runs again)."""
    from onedock.host.backup import cancel

    if len(argv) != 2:
        raise OneDockError(f"expected 2 arguments (host:sysdir deploy_id), got {len(argv)}")
    if sys.stdin is not None and not sys.stdin.isatty():
        sys.stdin.buffer.read()
    cancel(argv[1])
    return ""


def disk(cfg: Config, path: str) -> tuple[str, str]:
    """(repository, tag) of `onedock-backup://<backup id>/disk.<N>`."""
    from onedock.host.backup import backup_vmid

    bid, sep, disk_id = path[len(SCHEME):].partition("/disk.")
    if not sep or not disk_id.isascii() or not disk_id.isdigit() or len(disk_id) > 6:
        raise OneDockError(f"'{path[:80]}' is not {SCHEME}<backup id>/disk.<N>")
    return names.backup_repo(cfg.prefix, backup_vmid(bid)), f"{bid}-disk.{disk_id}"


def rm(cfg: Config, image: ImageData) -> str:
    """A backup image of an onedock backup datastore: its tags go, the layers they share with
    other backups and images stay (the registry's garbage collection reclaims the rest)."""
    from onedock.host.backup import backup_vmid

    vmid = backup_vmid(image.source)
    repo = names.backup_repo(cfg.prefix, vmid)
    registry = registries.private(cfg)
    for tag in registry.tags(repo):
        if tag.startswith(f"{image.source}-"):
            registry.forget(repo, tag)
    return ""


def restore(cfg: Config, payload: bytes) -> str:
    """`oneimage restore` of a backup of this datastore into an onedock image datastore: the
    images (their PATH names the backup's disk, which this driver's cp copies registry to
    registry) and the VM template, made through oned's API for the user who asked; prints
    `<template id or -1> <image id>...`, as the stock backup datastores do."""
    from onedock.host.backup import backup_vmid, vm_document
    from onedock.host.spec import boot_disk
    from onedock.one.api import Oned
    from onedock.one.backup_template import vm_template
    from onedock.one.vm import parse_vm
    from onedock.registry import backup_disk

    action = parse_ds_action(payload)
    if action.image is None:
        raise OneDockError("DS_DRIVER_ACTION_DATA lacks <IMAGE>")
    bid = action.image.source
    repo = names.backup_repo(cfg.prefix, backup_vmid(bid))
    options = action.options
    oned = Oned.from_env()
    target = oned.info("datastore", action.destination_ds)
    if (target.findtext("DS_MAD") or "") != "onedock":
        raise OneDockError(f"datastore {action.destination_ds} is not an onedock image "
                           "datastore", hint="restore onedock backups into an onedock one")
    registry = registries.private(cfg)
    vm_xml = vm_document(backup_disk.read_file(registry, repo, f"{bid}-vm"))
    wanted = options.get("DISK_ID", "")
    boot = boot_disk(parse_vm(vm_xml, "the backup's vm.xml")).disk_id
    disks = sorted((int(t.rsplit(".", 1)[1]) for t in registry.tags(repo)
                    if t.startswith(f"{bid}-disk.") and (not wanted or t.endswith(f".{wanted}"))),
                   key=lambda d: (d != boot, d))
    if not disks:
        raise OneDockError(f"backup {bid} holds no disk {wanted}".rstrip())
    base = options.get("NAME") or f"{backup_vmid(bid)}-{bid}"
    uid = oned.user_id(options["USERNAME"]) if options.get("USERNAME") else -1
    made = []
    for disk_id in disks:
        kind = "OS" if disk_id == boot else "DATABLOCK"
        image = oned.call("one.image.allocate",
                          f'NAME = "{base}-disk-{disk_id}"\nTYPE = "{kind}"\n'
                          f'PATH = "{SCHEME}{bid}/disk.{disk_id}"\n',
                          action.destination_ds, False)
        made.append(image)
        if uid >= 0:
            oned.call("one.image.chown", image, uid, -1)
    template_id = -1
    if not wanted:
        template_id = oned.call("one.template.allocate", vm_template(
            vm_xml, made, name=base, no_nic=_yes(options.get("NO_NIC")),
            no_ip=_yes(options.get("NO_IP"))))
        if uid >= 0:
            oned.call("one.template.chown", template_id, uid, -1)
    return " ".join(str(n) for n in (template_id, *made))


def _yes(value: str | None) -> bool:
    return (value or "").upper() in ("YES", "TRUE", "1")
