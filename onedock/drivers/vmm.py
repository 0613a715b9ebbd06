"""VM_MAD=onedock: each VMM action oned runs on the host, as a few lines over VmContainer.

An action parses oned's argv and stdin once (onedock.one), calls one method of the VM's
container (onedock.host.vm_container) and prints what oned reads. Where argv and stdin are
(digest §4.4): `deploy` gets the deployment file on stdin, the others VMM_DRIVER_ACTION_DATA or
nothing; every action reads all of stdin, as one_vmm_exec writes all of it first.
"""

from __future__ import annotations

import os
import re
import sys

from onedock.config import Config
from onedock.errors import OneDockError
from onedock.host.vm_container import VmContainer
from onedock.one.transfer import args, number
from onedock.one.vm import VM
from onedock.one.vmm import vm_from_stdin

_DEPLOY_ID = re.compile(r"one-([0-9]{1,9})")


def _deploy_id(value: str) -> int:
    match = _DEPLOY_ID.fullmatch(value)
    if not match:
        raise OneDockError(f"'{value[:40]}' is not an onedock deploy id (one-<vmid>)")
    return int(match.group(1))


def _stdin() -> bytes:
    return sys.stdin.buffer.read()


def _container(cfg: Config, argv: list[str], count: int, usage: str
               ) -> tuple[VmContainer, list[str]]:
    """The container the action's first argument (the deploy id) names, and the argv."""
    given = args(argv, count, usage)
    return VmContainer(cfg, _deploy_id(given[0])), given


def _snapshot_tag(snap: str) -> str:
    if not re.fullmatch(r"(?:snap-)?[0-9]{1,6}", snap):
        raise OneDockError(f"'{snap[:40]}' is not an onedock snapshot id")
    return snap if snap.startswith("snap-") else f"snap-{snap}"


def _attached(vm: VM, kind: str):
    items = vm.disks if kind == "disk" else vm.nics
    found = [i for i in items if i.attrs.get("ATTACH", "").upper() == "YES"]
    if not found:
        raise OneDockError(f"VM {vm.id}: no {kind.upper()} with ATTACH=YES in the action data")
    return found[0]


# -- actions ----------------------------------------------------------------------------------


def deploy(cfg: Config, argv: list[str]) -> str:
    dfile, _, vmid, _ = args(argv, 4, "deployment_file host vmid host")
    vm = vm_from_stdin(_stdin())
    if vm.id != number(vmid, "vmid"):
        raise OneDockError(f"deployment file is for VM {vm.id}, not {vmid}")
    _refuse_filesystem_disks(vm)
    deploy_id = VmContainer(cfg, vm.id).run(vm)
    _mark_datastore(os.path.dirname(os.path.dirname(dfile)))
    return deploy_id


def _refuse_filesystem_disks(vm: VM) -> None:
    """7.2+ FILESYSTEM (virtiofs) disks get no TM step, so there is nothing to mount: a VM
    that has one would start without its data."""
    for disk in vm.disks:
        kinds = {disk.type.upper(), disk.attrs.get("DISK_TYPE", "").upper()}
        if "FILESYSTEM" in kinds:
            raise OneDockError(
                f"disk {disk.disk_id} is a FILESYSTEM (virtiofs) disk, which a container "
                "cannot mount", hint="remove it from the VM; a DATABLOCK image of an onedock "
                "datastore becomes a volume")


def _mark_datastore(ds_dir: str) -> None:
    """Flag the system datastore for the host probe (DS=[...]), as OpenNebula's TMs do."""
    if not ds_dir.startswith("/") or not os.path.isdir(ds_dir):
        return
    marker = os.path.join(ds_dir, ".monitor")
    try:
        if not os.path.exists(marker):
            with open(marker, "w") as out:
                out.write("onedock")
    except OSError:
        pass  # monitoring loses the DS line; the VM itself is fine


def shutdown(cfg: Config, argv: list[str]) -> str:
    box, _ = _container(cfg, argv, 4, "deploy_id host vmid host")
    _stdin()
    box.stop()
    return ""


def cancel(cfg: Config, argv: list[str]) -> str:
    box, _ = _container(cfg, argv, 4, "deploy_id host vmid host")
    _stdin()
    box.kill()
    return ""


def reboot(cfg: Config, argv: list[str]) -> str:
    box, _ = _container(cfg, argv, 4, "deploy_id host vmid host")
    box.reboot(vm_from_stdin(_stdin()))
    return ""


def reset(cfg: Config, argv: list[str]) -> str:
    box, _ = _container(cfg, argv, 4, "deploy_id host vmid host")
    box.reset(vm_from_stdin(_stdin()))
    return ""


def save(cfg: Config, argv: list[str]) -> str:
    box, (_, checkpoint, *_) = _container(cfg, argv, 5, "deploy_id checkpoint host vmid host")
    box.save(vm_from_stdin(_stdin()), checkpoint)
    return ""


def restore(cfg: Config, argv: list[str]) -> str:
    _, _, deploy_id, _, _ = args(argv, 5, "checkpoint host deploy_id vmid host")
    vm = vm_from_stdin(_stdin())
    if _deploy_id(deploy_id) != vm.id:
        raise OneDockError(f"deploy id {deploy_id} does not belong to VM {vm.id}")
    VmContainer(cfg, vm.id).run(vm)
    return ""


def migrate(cfg: Config, argv: list[str]) -> str:
    from onedock.one.transfer import hostname

    box, (_, dst, src, *_) = _container(cfg, argv, 5, "deploy_id dst_host src_host vmid host")
    vm = vm_from_stdin(_stdin())
    box.migrate(vm, src, hostname(dst, "destination host"))
    return ""


def attach_disk(cfg: Config, argv: list[str]) -> str:
    box, _ = _container(cfg, argv, 7, "deploy_id path target index drv vmid host")
    box.attach_disk(_attached(vm_from_stdin(_stdin()), "disk"))
    return ""


def detach_disk(cfg: Config, argv: list[str]) -> str:
    box, (_, _, target, *_) = _container(cfg, argv, 6, "deploy_id path target index vmid host")
    vm = vm_from_stdin(_stdin())
    box.detach_disk(([d for d in vm.disks if d.target == target] or [_attached(vm, "disk")])[0])
    return ""


def attach_nic(cfg: Config, argv: list[str]) -> str:
    box, (_, mac, *_) = _container(cfg, argv, 8,
                                   "deploy_id mac bridge model vn_mad target vmid host")
    vm = vm_from_stdin(_stdin())
    nic = _attached(vm, "nic")
    if nic.mac.lower() != mac.lower():
        raise OneDockError(f"MAC {mac} does not match the attached NIC ({nic.mac})")
    box.attach_nic(vm, nic)
    return ""


def detach_nic(cfg: Config, argv: list[str]) -> str:
    box, (_, mac, *_) = _container(cfg, argv, 4, "deploy_id mac vmid host")
    _stdin()
    box.detach_nic(mac)
    return ""


def prereconfigure(cfg: Config, argv: list[str]) -> str:
    """Nothing to prepare: the context volume stays mounted while TM context rewrites it."""
    args(argv, 4, "deploy_id context_target vmid host")
    _stdin()
    return ""


def reconfigure(cfg: Config, argv: list[str]) -> str:
    box, _ = _container(cfg, argv, 5, "deploy_id context_target path vmid host")
    box.reconfigure(vm_from_stdin(_stdin()))
    return ""


def snapshot_create(cfg: Config, argv: list[str]) -> str:
    box, (_, snap, *_) = _container(cfg, argv, 4, "deploy_id snapshot_id vmid host")
    _stdin()
    return box.snapshot_create(_snapshot_tag(snap))


def snapshot_revert(cfg: Config, argv: list[str]) -> str:
    box, (_, snap, *_) = _container(cfg, argv, 4, "deploy_id hypervisor_snapshot vmid host")
    box.snapshot_revert(vm_from_stdin(_stdin()), _snapshot_tag(snap))
    return ""


def snapshot_delete(cfg: Config, argv: list[str]) -> str:
    box, (_, snap, *_) = _container(cfg, argv, 4, "deploy_id hypervisor_snapshot vmid host")
    _stdin()
    box.snapshot_delete(_snapshot_tag(snap))
    return ""


def resize(cfg: Config, argv: list[str]) -> str:
    box, _ = _container(cfg, argv, 3, "deploy_id vmid host")
    box.resize(vm_from_stdin(_stdin()))
    return ""


def resize_disk(cfg: Config, argv: list[str]) -> str:
    _stdin()
    raise OneDockError("container disks have no fixed size to resize",
                       hint="volumes grow with their content; the image disk follows the host")


def exec_command(cfg: Config, argv: list[str]) -> str:
    """7.2+ `onevm exec`: the command starts in the container; the vm/execution probe reports
    its end (digest §4.4). argv: vmid host command [base64 stdin]; stdin is the VM document."""
    if len(argv) not in (3, 4):
        raise OneDockError(f"expected vmid host command [stdin], got {len(argv)} arguments")
    _stdin()
    execution(cfg, number(argv[0], "vmid")).start(argv[2], argv[3] if len(argv) == 4 else None)
    return ""


def exec_cancel(cfg: Config, argv: list[str]) -> str:
    vmid, *_ = args(argv, 2, "vmid host")
    _stdin()
    execution(cfg, number(vmid, "vmid")).cancel()
    return ""


def execution(cfg: Config, vmid: int):
    from onedock.host.execution import Execution

    return Execution(cfg.state_dir, cfg.local_docker, vmid, cfg.timeout)


ACTIONS = {
    "deploy": deploy, "shutdown": shutdown, "cancel": cancel, "reboot": reboot,
    "reset": reset, "save": save, "restore": restore, "migrate": migrate,
    "attach_disk": attach_disk, "detach_disk": detach_disk, "attach_nic": attach_nic,
    "detach_nic": detach_nic, "prereconfigure": prereconfigure, "reconfigure": reconfigure,
    "snapshot_create": snapshot_create, "snapshot_revert": snapshot_revert,
    "snapshot_delete": snapshot_delete, "resize": resize, "resize_disk": resize_disk,
    "exec": exec_command, "exec_cancel": exec_cancel,
}
