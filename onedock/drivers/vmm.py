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
from onedock.drivers.actions import Actions
from onedock.errors import OneDockError
from onedock.host.vm_container import VmContainer
from onedock.one.transfer import number
from onedock.one.vm import VM
from onedock.one.vmm import vm_from_stdin

_DEPLOY_ID = re.compile(r"one-([0-9]{1,9})")
ACTIONS = Actions()


def _deploy_id(value: str) -> int:
    match = _DEPLOY_ID.fullmatch(value)
    if not match:
        raise OneDockError(f"'{value[:40]}' is not an onedock deploy id (one-<vmid>)")
    return int(match.group(1))


def _stdin() -> bytes:
    return sys.stdin.buffer.read()


def _container(cfg: Config, deploy_id: str) -> VmContainer:
    """The container an action's deploy id names."""
    return VmContainer(cfg, _deploy_id(deploy_id))


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


@ACTIONS("deployment_file host vmid host")
def deploy(cfg: Config, dfile: str, _host: str, vmid: str, _again: str) -> str:
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


OF_A_VM = "deploy_id host vmid host"


@ACTIONS(OF_A_VM)
def shutdown(cfg: Config, deploy_id: str, *_: str) -> str:
    _stdin()
    _container(cfg, deploy_id).stop()
    return ""


@ACTIONS(OF_A_VM)
def cancel(cfg: Config, deploy_id: str, *_: str) -> str:
    _stdin()
    _container(cfg, deploy_id).kill()
    return ""


@ACTIONS(OF_A_VM)
def reboot(cfg: Config, deploy_id: str, *_: str) -> str:
    _container(cfg, deploy_id).reboot(vm_from_stdin(_stdin()))
    return ""


@ACTIONS(OF_A_VM)
def reset(cfg: Config, deploy_id: str, *_: str) -> str:
    _container(cfg, deploy_id).reset(vm_from_stdin(_stdin()))
    return ""


@ACTIONS("deploy_id checkpoint host vmid host")
def save(cfg: Config, deploy_id: str, checkpoint: str, *_: str) -> str:
    _container(cfg, deploy_id).save(vm_from_stdin(_stdin()), checkpoint)
    return ""


@ACTIONS("checkpoint host deploy_id vmid host")
def restore(cfg: Config, _checkpoint: str, _host: str, deploy_id: str, *_: str) -> str:
    vm = vm_from_stdin(_stdin())
    if _deploy_id(deploy_id) != vm.id:
        raise OneDockError(f"deploy id {deploy_id} does not belong to VM {vm.id}")
    VmContainer(cfg, vm.id).run(vm)
    return ""


@ACTIONS("deploy_id dst_host src_host vmid host")
def migrate(cfg: Config, deploy_id: str, dst: str, src: str, *_: str) -> str:
    from onedock.one.transfer import hostname

    box = _container(cfg, deploy_id)
    vm = vm_from_stdin(_stdin())
    box.migrate(vm, src, hostname(dst, "destination host"))
    return ""


@ACTIONS("deploy_id path target index drv vmid host")
def attach_disk(cfg: Config, deploy_id: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    box.attach_disk(_attached(vm_from_stdin(_stdin()), "disk"))
    return ""


@ACTIONS("deploy_id path target index vmid host")
def detach_disk(cfg: Config, deploy_id: str, _path: str, target: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    vm = vm_from_stdin(_stdin())
    box.detach_disk(([d for d in vm.disks if d.target == target] or [_attached(vm, "disk")])[0])
    return ""


@ACTIONS("deploy_id mac bridge model vn_mad target vmid host")
def attach_nic(cfg: Config, deploy_id: str, mac: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    vm = vm_from_stdin(_stdin())
    nic = _attached(vm, "nic")
    if nic.mac.lower() != mac.lower():
        raise OneDockError(f"MAC {mac} does not match the attached NIC ({nic.mac})")
    box.attach_nic(vm, nic)
    return ""


@ACTIONS("deploy_id mac vmid host")
def detach_nic(cfg: Config, deploy_id: str, mac: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    _stdin()
    box.detach_nic(mac)
    return ""


@ACTIONS("deploy_id context_target vmid host")
def prereconfigure(cfg: Config, *_: str) -> str:
    """Nothing to prepare: the context volume stays mounted while TM context rewrites it."""
    _stdin()
    return ""


@ACTIONS("deploy_id context_target path vmid host")
def reconfigure(cfg: Config, deploy_id: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    box.reconfigure(vm_from_stdin(_stdin()))
    return ""


@ACTIONS("deploy_id snapshot_id vmid host")
def snapshot_create(cfg: Config, deploy_id: str, snap: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    _stdin()
    return box.snapshot_create(_snapshot_tag(snap))


@ACTIONS("deploy_id hypervisor_snapshot vmid host")
def snapshot_revert(cfg: Config, deploy_id: str, snap: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    box.snapshot_revert(vm_from_stdin(_stdin()), _snapshot_tag(snap))
    return ""


@ACTIONS("deploy_id hypervisor_snapshot vmid host")
def snapshot_delete(cfg: Config, deploy_id: str, snap: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    _stdin()
    box.snapshot_delete(_snapshot_tag(snap))
    return ""


@ACTIONS("deploy_id vmid host")
def resize(cfg: Config, deploy_id: str, *_: str) -> str:
    box = _container(cfg, deploy_id)
    box.resize(vm_from_stdin(_stdin()))
    return ""


@ACTIONS("deploy_id disk_id size drv_message host vmid host")
def resize_disk(cfg: Config, *_: str) -> str:
    _stdin()
    raise OneDockError("container disks have no fixed size to resize",
                       hint="volumes grow with their content; the image disk follows the host")


@ACTIONS("vmid host command [stdin]", names=("exec",))
def exec_command(cfg: Config, vmid: str, _host: str, command: str,
                 stdin: str | None = None) -> str:
    """7.2+ `onevm exec`: the command starts in the container; the vm/execution probe reports
    its end (digest §4.4). The optional stdin is base64; the VM document comes on stdin."""
    _stdin()
    execution(cfg, number(vmid, "vmid")).start(command, stdin)
    return ""


@ACTIONS("vmid host")
def exec_cancel(cfg: Config, vmid: str, _host: str) -> str:
    _stdin()
    execution(cfg, number(vmid, "vmid")).cancel()
    return ""


def execution(cfg: Config, vmid: int):
    from onedock.host.execution import Execution

    return Execution(cfg.state_dir, cfg.local_docker, vmid, cfg.timeout)

