"""VM_MAD=onedock: the VM lifecycle as container operations, run on the host by one_vmm_exec.

The container `one-<vmid>` is the VM. It outlives a poweroff (like a VM's disks do), so its
writable layer survives shutdown and resume; save, migrate and snapshots commit that layer
into images, so it survives those too (processes restart: there is no CRIU checkpoint).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import tarfile
import time

from onedock import names
from onedock.config import Config
from onedock.container import LABEL_IPS, LABEL_SPEC, boot_disk, mountpoint, nic_specs, spec
from onedock.engine import Engine
from onedock.errors import NoCpuQuota, OneDockError
from onedock.nic import Helper, as_dict, check_bridges
from onedock.one.transfer import args, number
from onedock.one.vm import VM, Disk, Nic
from onedock.one.vmm import vm_from_stdin

_DEPLOY_ID = re.compile(r"one-([0-9]{1,9})")


def _deploy_id(value: str) -> int:
    match = _DEPLOY_ID.fullmatch(value)
    if not match:
        raise OneDockError(f"'{value[:40]}' is not an onedock deploy id (one-<vmid>)")
    return int(match.group(1))


def _stdin() -> bytes:
    return sys.stdin.buffer.read()


class Box:
    """The VM's container on this host."""

    def __init__(self, cfg: Config, vmid: int, engine: Engine | None = None,
                 host: str = ""):
        self.cfg = cfg
        self.vmid = vmid
        self.name = names.container(vmid)
        self.helper_argv, self.helper_local = list(cfg.nic_helper), True
        if host:  # another host's container: its NICs are that host's business
            url = cfg.engine_url(host)
            if url.startswith("ssh://"):
                target = url[len("ssh://"):].split("/")[0]
                self.helper_argv = ["ssh", "-o", "BatchMode=yes", "--", target,
                                    *cfg.nic_helper]
                self.helper_local = False
            elif not url.startswith("unix://"):
                raise OneDockError(f"cannot plumb NICs on {host} through {url}",
                                   hint="reach hosts' engines with ssh:// (docker_url)")
        # stop/restart wait up to shutdown_timeout inside the engine: outlast it
        slow = max(cfg.timeout, cfg.shutdown_timeout + 30)
        self.engine = engine or Engine(cfg.local_docker, slow, "this host")

    def inspect(self) -> dict | None:
        return self.engine.container_inspect(self.name)

    def pid(self) -> int:
        info = self.inspect()
        state = (info or {}).get("State") or {}
        if not state.get("Running"):
            raise OneDockError(f"VM {self.vmid}: container {self.name} is not running")
        return int(state["Pid"])

    def plumb(self, vm: VM, nics: list[Nic] | None = None, helper: Helper | None = None) -> None:
        specs = nic_specs(vm, nics)
        request = {"op": "attach", "pid": self.pid(), "nics": [as_dict(s) for s in specs]}
        if helper is not None:
            helper.call(request if specs else {})
        elif specs:
            self.privileged(request)

    def privileged(self, request: dict) -> dict:
        """One request to the root helper of the host this container runs on."""
        return Helper(self.helper_argv, self.helper_local).call(request)

    def remount(self, vm: VM) -> None:
        """Hot-attached disks again: Docker only re-creates the mounts it knows of."""
        known = {m.get("Name") for m in (self.inspect() or {}).get("Mounts") or []}
        boot = boot_disk(vm).disk_id
        for disk in vm.disks:
            volume = names.volume(self.vmid, disk.disk_id)
            if disk.disk_id == boot or volume in known:
                continue
            if self.engine.volume_inspect(volume) is not None:
                self.privileged({"op": "mount", "pid": self.pid(), "volume": volume,
                                 "target": mountpoint(disk)})

    def image_volumes(self, body: dict, image: dict) -> None:
        """Named, labelled volumes where the image declares VOLUMEs (databases keep data there).

        Anonymous volumes would vanish whenever the container is rebuilt (save, resume after a
        template change, snapshot revert); these stay until the VM is deleted.
        """
        import hashlib

        taken = {m["Target"] for m in body["HostConfig"]["Mounts"]}
        for path in sorted((image.get("Config") or {}).get("Volumes") or {}):
            if path in taken:
                continue
            tag = hashlib.sha256(path.encode()).hexdigest()[:10]
            body["HostConfig"]["Mounts"].append({
                "Type": "volume", "Source": f"{self.name}-vol-{tag}", "Target": path,
                "VolumeOptions": {"Labels": {names.LABEL_VMID: str(self.vmid),
                                             names.LABEL_ROLE: "image-volume"}}})

    def check_ready(self, vm: VM, body: dict) -> dict:
        """Everything the container needs is on this host: staged disks, bridges, free IPs."""
        image = self.engine.image_inspect(body["Image"])
        if image is None:
            raise OneDockError(
                f"VM {vm.id}: its boot disk is not staged on {self.engine.name} "
                f"({body['Image']} missing)",
                hint="the onedock TM must clone the image first (is the disk's TM_MAD onedock?)",
            )
        for mount in body["HostConfig"]["Mounts"]:
            if self.engine.volume_inspect(mount["Source"]) is None:
                raise OneDockError(
                    f"VM {vm.id}: volume {mount['Source']} is not on {self.engine.name}",
                    hint="the onedock TM must create it first (mkimage, context or clone)",
                )
        if self.helper_local:  # a remote host's helper reports its own missing bridges
            check_bridges(sorted({n.bridge for n in vm.nics}))
        mine = {n.ip for n in vm.nics if n.ip}
        if mine:
            for other in self.engine.containers([LABEL_IPS], all_=False):
                if other.get("Names", [""])[0].lstrip("/") == self.name:
                    continue
                taken = set((other.get("Labels") or {}).get(LABEL_IPS, "").split(","))
                if mine & taken:
                    raise OneDockError(
                        f"VM {vm.id}: IP {', '.join(sorted(mine & taken))} is already used by "
                        f"{other['Names'][0].lstrip('/')} on this host"
                    )
        return image

    def create(self, body: dict) -> None:
        """Create the container; without a CPU cap where the kernel has no CFS quota."""
        try:
            self.engine.create_container(self.name, body)
        except NoCpuQuota:
            body["HostConfig"].pop("NanoCpus")
            sys.stderr.write(f"WARN: VM {self.vmid}: this kernel has no CPU CFS quota; "
                             "VCPU is not enforced as a cap, CPU shares still apply\n")
            self.engine.create_container(self.name, body)

    def keep_layer(self, disk_id: int) -> None:
        """Commit the container's writable layer onto its boot disk tag, then drop it."""
        self.engine.commit(self.name, names.disk_repo(self.vmid), names.disk_tag(disk_id))
        self.engine.remove_container(self.name, force=True, volumes=True)

    def run(self, vm: VM) -> str:
        """Create (or reuse) and start the container, then plumb NICs and apply context."""
        body = spec(vm, self.cfg)
        existing = self.inspect()
        if existing is not None:
            labels = (existing.get("Config") or {}).get("Labels") or {}
            if labels.get(LABEL_SPEC) != body["Labels"][LABEL_SPEC]:
                # the template changed while powered off: keep the disk, rebuild the container
                if (existing.get("State") or {}).get("Running"):
                    self.engine.stop(self.name, self.cfg.shutdown_timeout)
                self.keep_layer(int(labels.get(names.LABEL_DISK, boot_disk(vm).disk_id)))
                existing = None
        image = self.check_ready(vm, body)
        self.image_volumes(body, image)
        helper = Helper(self.helper_argv, self.helper_local) if vm.nics else None
        created = False
        try:
            if existing is None:
                self.create(body)
                created = True
            self.put_ssh_key(vm)
            self.engine.start(self.name)
            self.plumb(vm, helper=helper)
            helper = None
            self.start_script(vm)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to report
                if helper is not None:
                    helper.close()
                if created:
                    self.engine.remove_container(self.name, force=True)
                elif existing is not None:
                    self.engine.kill(self.name)
            raise
        return self.name

    def apply_context(self, vm: VM) -> None:
        self.put_ssh_key(vm)
        self.start_script(vm)

    def put_ssh_key(self, vm: VM) -> None:
        """Works on a created container too, so deploy does it before the start."""
        key = vm.context.get("SSH_PUBLIC_KEY", "")
        if key:
            data = (key.strip() + "\n").encode()
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                for path in ("root", "root/.ssh"):
                    info = tarfile.TarInfo(path)
                    info.type, info.mode = tarfile.DIRTYPE, 0o700
                    tar.addfile(info)
                info = tarfile.TarInfo("root/.ssh/authorized_keys")
                info.size, info.mode = len(data), 0o600
                tar.addfile(info, io.BytesIO(data))
            self.engine.put_archive(self.name, "/", buf.getvalue())

    def start_script(self, vm: VM) -> None:
        script = vm.context.get("START_SCRIPT", "")
        if not script and vm.context.get("START_SCRIPT_BASE64"):
            import base64

            try:
                script = base64.b64decode(vm.context["START_SCRIPT_BASE64"],
                                          validate=True).decode()
            except ValueError as exc:  # binascii.Error and UnicodeDecodeError alike
                raise OneDockError("CONTEXT/START_SCRIPT_BASE64 is not valid base64") from exc
        if script:
            self.engine.exec_detached(self.name, ["/bin/sh", "-c", script])


# -- actions ----------------------------------------------------------------------------------


def deploy(cfg: Config, argv: list[str]) -> str:
    dfile, _, vmid, _ = args(argv, 4, "deployment_file host vmid host")
    vm = vm_from_stdin(_stdin())
    if vm.id != number(vmid, "vmid"):
        raise OneDockError(f"deployment file is for VM {vm.id}, not {vmid}")
    _refuse_filesystem_disks(vm)
    deploy_id = Box(cfg, vm.id).run(vm)
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
    deploy_id, *_ = args(argv, 4, "deploy_id host vmid host")
    _stdin()
    box = Box(cfg, _deploy_id(deploy_id))
    if box.inspect() is not None:
        box.engine.stop(box.name, cfg.shutdown_timeout)
    return ""


def cancel(cfg: Config, argv: list[str]) -> str:
    deploy_id, *_ = args(argv, 4, "deploy_id host vmid host")
    _stdin()
    box = Box(cfg, _deploy_id(deploy_id))
    if box.inspect() is not None:
        box.engine.kill(box.name)
    return ""


def reboot(cfg: Config, argv: list[str]) -> str:
    deploy_id, *_ = args(argv, 4, "deploy_id host vmid host")
    vm = vm_from_stdin(_stdin())
    box = Box(cfg, _deploy_id(deploy_id))
    box.engine.restart(box.name, cfg.shutdown_timeout)
    box.plumb(vm)  # a restart gives the container fresh network and mount namespaces
    box.remount(vm)
    return ""


def reset(cfg: Config, argv: list[str]) -> str:
    deploy_id, *_ = args(argv, 4, "deploy_id host vmid host")
    vm = vm_from_stdin(_stdin())
    box = Box(cfg, _deploy_id(deploy_id))
    box.engine.kill(box.name)
    box.engine.start(box.name)
    box.plumb(vm)
    box.remount(vm)
    return ""


def save(cfg: Config, argv: list[str]) -> str:
    deploy_id, checkpoint, *_ = args(argv, 5, "deploy_id checkpoint host vmid host")
    vm = vm_from_stdin(_stdin())
    box = Box(cfg, _deploy_id(deploy_id))
    info = box.inspect()
    if info is not None:
        if (info.get("State") or {}).get("Running"):
            box.engine.stop(box.name, cfg.shutdown_timeout)
        box.keep_layer(boot_disk(vm).disk_id)
    elif box.engine.image_inspect(
        f"{names.disk_repo(box.vmid)}:{names.disk_tag(boot_disk(vm).disk_id)}"
    ) is None:
        raise OneDockError(f"VM {box.vmid} has neither a container nor a disk on this host")
    if checkpoint:
        os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
        with open(checkpoint, "w") as out:
            json.dump({"vmid": box.vmid, "saved": int(time.time()),
                       "disk": boot_disk(vm).disk_id}, out)
    return ""


def restore(cfg: Config, argv: list[str]) -> str:
    _, _, deploy_id, _, _ = args(argv, 5, "checkpoint host deploy_id vmid host")
    vm = vm_from_stdin(_stdin())
    if _deploy_id(deploy_id) != vm.id:
        raise OneDockError(f"deploy id {deploy_id} does not belong to VM {vm.id}")
    Box(cfg, vm.id).run(vm)
    return ""


def migrate(cfg: Config, argv: list[str]) -> str:
    """Cold migration: commit here, carry every disk through the registry, start over there."""
    deploy_id, dst, src, _, _ = args(argv, 5, "deploy_id dst_host src_host vmid host")
    vm = vm_from_stdin(_stdin())
    from onedock.one.transfer import hostname
    from onedock.staging import Host

    hostname(dst, "destination host")
    box = Box(cfg, _deploy_id(deploy_id))
    info = box.inspect()
    if info is None:
        raise OneDockError(f"VM {box.vmid} has no container on this host")
    was_running = bool((info.get("State") or {}).get("Running"))
    if was_running:
        box.engine.stop(box.name, cfg.shutdown_timeout)
    here = Host(cfg, src)
    here.engine = box.engine
    there = Host(cfg, dst)
    repo = names.vm_repo(cfg.prefix, box.vmid)
    try:
        disks = [d.disk_id for d in vm.disks]
        if vm.context_disk >= 0 and vm.context_disk not in disks:
            disks.append(vm.context_disk)
        for disk_id in disks:
            if here.park(box.vmid, disk_id, repo, names.disk_tag(disk_id)):
                there.stage(repo, names.disk_tag(disk_id), box.vmid, disk_id, "moved")
        Box(cfg, box.vmid, there.engine, host=dst).run(vm)
    except BaseException:
        if was_running:
            box.engine.start(box.name)
            box.plumb(vm)
        raise
    here.remove_vm(box.vmid)
    return ""


def _attached(vm: VM, kind: str):
    items = vm.disks if kind == "disk" else vm.nics
    found = [i for i in items if i.attrs.get("ATTACH", "").upper() == "YES"]
    if not found:
        raise OneDockError(f"VM {vm.id}: no {kind.upper()} with ATTACH=YES in the action data")
    return found[0]


def attach_disk(cfg: Config, argv: list[str]) -> str:
    deploy_id, *_ = args(argv, 7, "deploy_id path target index drv vmid host")
    vm = vm_from_stdin(_stdin())
    box = Box(cfg, _deploy_id(deploy_id))
    disk: Disk = _attached(vm, "disk")
    volume = names.volume(box.vmid, disk.disk_id)
    if box.engine.volume_inspect(volume) is None:
        raise OneDockError(
            f"disk {disk.disk_id} is not a volume on this host",
            hint="only datablock, volatile and context disks can be hot-attached to a container",
        )
    box.privileged({"op": "mount", "pid": box.pid(), "volume": volume,
                    "target": mountpoint(disk)})
    return ""


def detach_disk(cfg: Config, argv: list[str]) -> str:
    deploy_id, _, target, *_ = args(argv, 6, "deploy_id path target index vmid host")
    vm = vm_from_stdin(_stdin())
    box = Box(cfg, _deploy_id(deploy_id))
    disks = [d for d in vm.disks if d.target == target] or [_attached(vm, "disk")]
    volume = names.volume(box.vmid, disks[0].disk_id)
    mounts = ((box.inspect() or {}).get("Mounts")) or []
    if any(m.get("Name") == volume for m in mounts):
        raise OneDockError(
            f"disk {disks[0].disk_id} was attached when the VM was deployed and stays in use "
            "by its container", hint="power the VM off to detach it")
    box.privileged({"op": "unmount", "pid": box.pid(), "target": mountpoint(disks[0])})
    return ""


def attach_nic(cfg: Config, argv: list[str]) -> str:
    deploy_id, mac, *_ = args(argv, 8, "deploy_id mac bridge model vn_mad target vmid host")
    vm = vm_from_stdin(_stdin())
    nic: Nic = _attached(vm, "nic")
    if nic.mac.lower() != mac.lower():
        raise OneDockError(f"MAC {mac} does not match the attached NIC ({nic.mac})")
    Box(cfg, _deploy_id(deploy_id)).plumb(vm, [nic])
    return ""


def detach_nic(cfg: Config, argv: list[str]) -> str:
    deploy_id, mac, *_ = args(argv, 4, "deploy_id mac vmid host")
    _stdin()
    box = Box(cfg, _deploy_id(deploy_id))
    box.privileged({"op": "detach", "pid": box.pid(), "mac": mac.lower()})
    return ""


def prereconfigure(cfg: Config, argv: list[str]) -> str:
    """Nothing to prepare: the context volume stays mounted while TM context rewrites it."""
    args(argv, 4, "deploy_id context_target vmid host")
    _stdin()
    return ""


def reconfigure(cfg: Config, argv: list[str]) -> str:
    """The new context.sh is already visible at /run/one-context (the volume is shared)."""
    deploy_id, *_ = args(argv, 5, "deploy_id context_target path vmid host")
    vm = vm_from_stdin(_stdin())
    box = Box(cfg, _deploy_id(deploy_id))
    box.pid()  # fails clearly when the VM is not running here
    box.apply_context(vm)
    return ""


def _snapshot_tag(snap: str) -> str:
    if not re.fullmatch(r"(?:snap-)?[0-9]{1,6}", snap):
        raise OneDockError(f"'{snap[:40]}' is not an onedock snapshot id")
    return snap if snap.startswith("snap-") else f"snap-{snap}"


def snapshot_create(cfg: Config, argv: list[str]) -> str:
    deploy_id, snap_id, *_ = args(argv, 4, "deploy_id snapshot_id vmid host")
    _stdin()
    box = Box(cfg, _deploy_id(deploy_id))
    tag = _snapshot_tag(snap_id)
    box.engine.commit(box.name, names.disk_repo(box.vmid), tag)
    return tag


def snapshot_revert(cfg: Config, argv: list[str]) -> str:
    deploy_id, snap, *_ = args(argv, 4, "deploy_id hypervisor_snapshot vmid host")
    vm = vm_from_stdin(_stdin())
    box = Box(cfg, _deploy_id(deploy_id))
    source = f"{names.disk_repo(box.vmid)}:{_snapshot_tag(snap)}"
    if box.engine.image_inspect(source) is None:
        raise OneDockError(f"snapshot {snap} of VM {box.vmid} does not exist on this host")
    boot = boot_disk(vm).disk_id
    if box.inspect() is not None:
        box.engine.remove_container(box.name, force=True)
    box.engine.tag(source, names.disk_repo(box.vmid), names.disk_tag(boot))
    box.run(vm)
    return ""


def snapshot_delete(cfg: Config, argv: list[str]) -> str:
    deploy_id, snap, *_ = args(argv, 4, "deploy_id hypervisor_snapshot vmid host")
    _stdin()
    box = Box(cfg, _deploy_id(deploy_id))
    box.engine.remove_image(f"{names.disk_repo(box.vmid)}:{_snapshot_tag(snap)}")
    return ""


def resize(cfg: Config, argv: list[str]) -> str:
    deploy_id, *_ = args(argv, 3, "deploy_id vmid host")
    vm = vm_from_stdin(_stdin())
    box = Box(cfg, _deploy_id(deploy_id))
    host_config = spec(vm, cfg)["HostConfig"]
    resources = {k: host_config[k] for k in ("Memory", "MemorySwap", "NanoCpus", "CpuShares")}
    try:
        box.engine.update(box.name, resources)
    except NoCpuQuota:
        resources.pop("NanoCpus")  # no CFS quota on this kernel: shares and memory only
        box.engine.update(box.name, resources)
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
    from onedock.execution import Execution

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
