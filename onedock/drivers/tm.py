"""TM_MAD=onedock: staging images and volumes onto hosts, and moving them back and forth.

TM scripts run on the front-end and reach each host's Docker engine over ssh (config
`docker_url`), like OpenNebula's ssh TM reaches hosts; nothing is run through a remote shell.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from onedock import names, registries, tarball
from onedock.config import Config
from onedock.drivers.actions import Actions
from onedock.errors import OneDockError
from onedock.host.staging import Host
from onedock.host.vm_dir import remove_local
from onedock.one.transfer import HostPath, host_path, number, source, vm_dir, vm_disk

if TYPE_CHECKING:
    from onedock.host.backup import HostBackup

TAG = "latest"
ACTIONS = Actions()


def _disk(dst: HostPath) -> int:
    if dst.disk_id is None:
        raise OneDockError(f"{dst} is not a disk path (<sysdir>/disk.N)")
    return dst.disk_id


@ACTIONS("fe:SOURCE host:sysdir/disk.N vmid dsid", names=("clone", "ln"))
def clone(cfg: Config, src: str, dst: str, vmid: str, _dsid: str) -> str:
    """ln too: a persistent image is staged the same way; mvds writes it back."""
    repo, disk, vm = source(src), host_path(dst, "destination"), number(vmid, "vmid")
    Host(cfg, disk.host).stage(repo, TAG, vm, _disk(disk), "image")
    return ""


@ACTIONS("size format host:sysdir/disk.N vmid dsid")
def mkimage(cfg: Config, size: str, _fmt: str, dst: str, vmid: str, _dsid: str) -> str:
    dst, vmid = host_path(dst, "destination"), number(vmid, "vmid")
    Host(cfg, dst.host).create_volume(vmid, _disk(dst), "volatile", number(size, "size"))
    return ""


@ACTIONS("size host:sysdir/disk.N vmid dsid")
def mkswap(cfg: Config, *_: str) -> str:
    raise OneDockError(
        "containers have no swap disks",
        hint="remove the volatile swap disk from the template; set MEMORY for the limit",
    )


@ACTIONS("context.sh... host:sysdir/disk.N vmid dsid")
def context(cfg: Config, *argv: str) -> str:
    """context.sh first, then `path:'name'` of each FILES entry."""
    *files, dst, vmid, _ = argv
    dst, vmid = host_path(dst, "destination"), number(vmid, "vmid")
    disk_id = _disk(dst)
    entries = []
    for index, spec in enumerate(files):
        path, _, name = spec.partition(":") if index else (spec, "", "context.sh")
        name = os.path.basename(name.strip("'") or path)
        if not name or name in (".", ".."):
            raise OneDockError(f"bad context file name in '{spec}'")
        try:
            data = open(path, "rb").read()  # noqa: SIM115 - small files, read whole
        except OSError as exc:
            raise OneDockError(f"cannot read context file {path}: {exc.strerror}") from exc
        entries.append((name, data, 0o644))
    host = Host(cfg, dst.host)
    host.create_volume(vmid, disk_id, "context")
    host.write_volume(names.volume(vmid, disk_id), tarball.build(entries))
    return ""


@ACTIONS("host:path vmid dsid")
def delete(cfg: Config, arg: str, vmid_arg: str, _dsid: str) -> str:
    vmid = number(vmid_arg, "vmid")
    path = host_path(arg, "path")
    if path.disk_id is None:
        vm_dir(path, vmid)
    else:
        vm_disk(str(path), vmid, "path")
    disk_id = path.disk_id
    if cfg.is_frontend(path.host):  # a stopped VM's disks are parked in the registry
        registry = registries.private(cfg)
        repo = names.vm_repo(cfg.prefix, vmid)
        wanted = [names.disk_tag(disk_id)] if disk_id is not None else registry.tags(repo)
        for tag in wanted:
            registry.forget(repo, tag)
        if disk_id is None:
            remove_local(path.path)
        return ""
    host = Host(cfg, path.host)
    if disk_id is None:
        host.remove_vm(vmid)
        host.remove_dir(path.path)
        return ""
    host.drop_disk(vmid, disk_id)
    return ""


def _move_disk(cfg: Config, src: HostPath, dst: HostPath, vmid: int, disk_id: int) -> None:
    """Park disk.N from src in the registry, stage it on dst; the front-end has no engine."""
    src_fe, dst_fe = cfg.is_frontend(src.host), cfg.is_frontend(dst.host)
    repo, tag = names.vm_repo(cfg.prefix, vmid), names.disk_tag(disk_id)
    registry = registries.private(cfg)
    parked = not src_fe and Host(cfg, src.host).park(vmid, disk_id, repo, tag)
    if not parked and not registry.head_manifest(repo, tag):
        if not dst_fe and Host(cfg, dst.host).has_disk(vmid, disk_id):
            return  # a retry after success: the disk already arrived
        raise OneDockError(f"disk.{disk_id} of VM {vmid} is neither on {src.host} nor parked "
                           f"in {cfg.registry}/{repo}")
    if not dst_fe:
        Host(cfg, dst.host).stage(repo, tag, vmid, disk_id, "moved")
        registry.forget(repo, tag)  # the parked copy served its move
    if not src_fe and src.host != dst.host:
        Host(cfg, src.host).drop_disk(vmid, disk_id)


@ACTIONS("src_host:path dst_host:path vmid dsid")
def mv(cfg: Config, src_arg: str, dst_arg: str, vmid_arg: str, _dsid: str) -> str:
    src, dst = host_path(src_arg, "source"), host_path(dst_arg, "destination")
    vmid = number(vmid_arg, "vmid")
    if src == dst:
        return ""
    if src.disk_id is not None:
        _move_disk(cfg, src, dst, vmid, src.disk_id)
        return ""
    if src.host != dst.host and not cfg.is_frontend(src.host):
        # the disks (first lines of the transfer) carried the writable layer already
        here = Host(cfg, src.host)
        if here.container_state(vmid) in ("running", "paused", "restarting"):
            raise OneDockError(
                f"VM {vmid} is still running on {src.host}",
                hint="the VM must be saved or powered off before its directory moves",
            )
        here.remove_vm(vmid)
        _remove_vm_dir(here, str(src), vmid)
    return ""


def _remove_vm_dir(host: Host, arg: str, vmid: int) -> None:
    """The VM's directory on a host it left (vm.xml, ds.xml, a checkpoint): nothing reads it."""
    try:
        path = vm_dir(host_path(arg), vmid)
    except OneDockError:
        return  # not the shape we may remove recursively: left alone, as before
    host.remove_dir(path)


def _save(cfg: Config, disk_arg: str, target_arg: str, vmid_arg: str) -> str:
    disk, target, vmid = host_path(disk_arg, "disk"), source(target_arg), number(vmid_arg, "vmid")
    disk_id = _disk(disk)
    if cfg.is_frontend(disk.host):  # the VM is stopped: copy its parked disk
        from onedock.registry import image as images
        from onedock.registry.copy import copy_image

        registry = registries.private(cfg)
        parked = names.vm_repo(cfg.prefix, vmid)
        found = images.resolve(registry, parked, names.disk_tag(disk_id), cfg.platform)
        copy_image(found, registry, target, TAG, src=registry, src_repo=parked)
        return ""
    if not Host(cfg, disk.host).park(vmid, disk_id, target, TAG):
        raise OneDockError(f"disk.{disk_id} of VM {vmid} not found on {disk.host}")
    return ""


@ACTIONS("host:sysdir/disk.N SOURCE vmid dsid")
def mvds(cfg: Config, disk_arg: str, target: str, vmid_arg: str, _dsid: str) -> str:
    out = _save(cfg, disk_arg, target, vmid_arg)
    disk, vmid = host_path(disk_arg, "disk"), number(vmid_arg, "vmid")
    if cfg.is_frontend(disk.host):
        registries.private(cfg).forget(names.vm_repo(cfg.prefix, vmid),
                                       names.disk_tag(_disk(disk)))
    else:
        host = Host(cfg, disk.host)
        origins = host.origins(vmid, [_disk(disk)])
        host.untag_disk(vmid, _disk(disk))
        host.prune_cache(origins)
    return out


@ACTIONS("host:sysdir/disk.N SOURCE snap_id vmid dsid")
def cpds(cfg: Config, disk: str, target: str, snap: str, vmid: str, _dsid: str) -> str:
    if snap != "-1":
        raise OneDockError("saving a disk snapshot as an image is not supported by onedock")
    return _save(cfg, disk, target, vmid)


MIGRATION = "src_host dst_host sysdir vmid dsid"


def _migration(src: str, dst: str, vmid: str):
    from onedock.one.transfer import hostname
    from onedock.one.vm import parse_vm_base64

    vm = parse_vm_base64(sys.stdin.buffer.read(), "VM document on stdin")
    return hostname(src, "source host"), hostname(dst, "destination host"), \
        number(vmid, "vmid"), vm


@ACTIONS(MIGRATION)
def premigrate(cfg: Config, src_arg: str, dst_arg: str, _sysdir: str, vmid_arg: str,
               _dsid: str) -> str:
    """Stage the VM's images on the destination ahead of the move (pull only, no data loss)."""
    _, dst, vmid, vm = _migration(src_arg, dst_arg, vmid_arg)
    there = Host(cfg, dst)
    for disk in vm.disks:
        if disk.tm_mad == "onedock" and disk.source:
            there.stage(source(disk.source), TAG, vmid, disk.disk_id, "image", volumes=False)
    return ""


@ACTIONS(MIGRATION)
def postmigrate(cfg: Config, src_arg: str, dst_arg: str, sysdir: str, vmid_arg: str,
                _dsid: str) -> str:
    src, dst, vmid, _ = _migration(src_arg, dst_arg, vmid_arg)
    if src != dst:
        here = Host(cfg, src)
        here.remove_vm(vmid)
        _remove_vm_dir(here, f"{src}:{sysdir}", vmid)
    return ""


@ACTIONS(MIGRATION)
def failmigrate(cfg: Config, src_arg: str, dst_arg: str, sysdir: str, vmid_arg: str,
                _dsid: str) -> str:
    src, dst, vmid, _ = _migration(src_arg, dst_arg, vmid_arg)
    if src != dst:
        there = Host(cfg, dst)
        if there.container_state(vmid) is None:
            there.remove_vm(vmid)
            _remove_vm_dir(there, f"{dst}:{sysdir}", vmid)
    return ""


# -- disk snapshots, resize, backups ------------------------------------------------------------


SNAPSHOT = "host:sysdir/disk.N snap_id vmid dsid"


def _snapshot_args(cfg: Config, path: str, snap: str, vmid_arg: str
                   ) -> tuple[Host, int, int, int]:
    vmid = number(vmid_arg, "vmid")
    disk, disk_id = vm_disk(path, vmid)
    snap_id = number(snap, "snapshot id")
    if cfg.is_frontend(disk.host):
        raise OneDockError(f"VM {vmid} is not on a host ({disk.host} is the front-end)",
                           hint="disk snapshots are of a powered-off or suspended VM")
    return Host(cfg, disk.host), vmid, disk_id, snap_id


@ACTIONS(SNAPSHOT)
def snap_create(cfg: Config, path: str, snap: str, vmid: str, _dsid: str) -> str:
    from onedock.host import disk_snapshots

    disk_snapshots.create(*_snapshot_args(cfg, path, snap, vmid))
    return ""


@ACTIONS(SNAPSHOT)
def snap_revert(cfg: Config, path: str, snap: str, vmid: str, _dsid: str) -> str:
    from onedock.host import disk_snapshots

    disk_snapshots.revert(*_snapshot_args(cfg, path, snap, vmid))
    return ""


@ACTIONS(SNAPSHOT)
def snap_delete(cfg: Config, path: str, snap: str, vmid: str, _dsid: str) -> str:
    from onedock.host import disk_snapshots

    disk_snapshots.delete(*_snapshot_args(cfg, path, snap, vmid))
    return ""


RESIZE_REFUSAL = "onedock does not enforce disk sizes: container disks have no fixed size"
RESIZE_HINT = ("there is nothing to resize: volumes grow with their content and the image disk "
               "with the host's free space; leave SIZE as it is")


@ACTIONS("host:sysdir/disk.N size_mb vmid dsid")
def resize(cfg: Config, path: str, size: str, vmid: str, _dsid: str) -> str:
    """oned runs this before the VMM's resize_disk: this line is the one users see."""
    vm_disk(path, number(vmid, "vmid"))
    number(size, "size")
    raise OneDockError(RESIZE_REFUSAL, hint=RESIZE_HINT)



BACKUP = "host:sysdir disks deploy_id bj_id vmid dsid"  # digest §12; bj_id may be "-"


def _backup(cfg: Config, path: str, disks: str, vmid: str, vm: bool = True) -> HostBackup:
    """The backup of the VM named by oned's argv, whose document the step gets on stdin."""
    from onedock.host.backup import HostBackup
    from onedock.one.transfer import backup_step

    document = sys.stdin.buffer.read() if sys.stdin else b""  # read, so the writer never blocks
    step = backup_step(path, disks, vmid, document if vm else None)
    return HostBackup(Host(cfg, step.host), step)


@ACTIONS(BACKUP)
def prebackup(cfg: Config, path: str, disks: str, _deploy: str, _job: str, vmid: str,
              _dsid: str) -> str:
    """A powered-off VM: its disks as the stock backup datastores collect them."""
    _backup(cfg, path, disks, vmid).write(live=False)
    return ""


@ACTIONS(BACKUP)
def prebackup_live(cfg: Config, path: str, disks: str, _deploy: str, _job: str, vmid: str,
                   _dsid: str) -> str:
    """A running VM, paused only while its layer is committed and its volumes are read."""
    _backup(cfg, path, disks, vmid).write(live=True)
    return ""


@ACTIONS(BACKUP, names=("postbackup", "postbackup_live"))
def postbackup(cfg: Config, path: str, disks: str, _deploy: str, _job: str, vmid: str,
               _dsid: str) -> str:
    """oned runs this after a failed prebackup too, and a failure here fails a backup that
    was stored: like the stock post scripts it reports and succeeds."""
    backup = _backup(cfg, path, disks, vmid, vm=False)
    try:
        backup.finish(live=True)
    except OneDockError as exc:
        sys.stderr.write(f"postbackup: {exc}\n")
    return ""


@ACTIONS("host:sysdir vmid image_id increment_id disk_id")
def restore(cfg: Config, path: str, vmid: str, image_id: str, _increment: str,
            disk_id: str) -> str:
    """`onevm restore` of a powered-off VM from one of its backups (host/restore.py)."""
    from onedock.host.restore import restore_in_place

    where, vmid_ = host_path(path, "path"), number(vmid, "vmid")
    vm_dir(where, vmid_)
    disk = -1 if disk_id == "-1" else number(disk_id, "disk id")
    restore_in_place(Host(cfg, where.host), vmid_, number(image_id, "image id"), disk)
    return ""

