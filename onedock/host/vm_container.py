"""The VM's container on a host, `one-<vmid>`: the domain object the VMM actions call.

It owns the container's lifecycle and its rollback, as OpenNebula's LXC driver's `Container`
does: each public method is one VMM operation, safe to retry, and leaves the container as it
found it when it fails half-way. The container outlives a poweroff (like a VM's disks do), so
its writable layer survives shutdown and resume; save, migrate and snapshots commit that layer
into images, so it survives those too (processes restart: there is no CRIU checkpoint).
How a container is first made (its spec, staged disks, context) is in host/boot.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from onedock import names
from onedock.config import Config
from onedock.engine.client import Engine
from onedock.engine.views import ContainerInfo
from onedock.errors import NoCpuQuota, OneDockError
from onedock.helper.client import Helper, helper_argv
from onedock.helper.requests import Attach, Detach, Mount, Request, Unmount
from onedock.host import boot
from onedock.host.spec import LABEL_SPEC, boot_disk, mountpoint, nic_specs, spec
from onedock.one.vm import VM, Disk, Nic
from onedock.transport import ssh_options


class VmContainer:
    def __init__(self, cfg: Config, vmid: int, engine: Engine | None = None, host: str = ""):
        self.cfg = cfg
        self.vmid = vmid
        self.name = names.container(vmid)
        # another host's container: its NICs are that host's business (its own helper)
        self.helper_argv, self.helper_local = helper_argv(
            list(cfg.nic_helper), cfg.engine_url(host) if host else "", host,
            ssh_options(cfg) if host else ())
        # stop/restart wait up to shutdown_timeout inside the engine: outlast it
        slow = max(cfg.timeout, cfg.shutdown_timeout + 30)
        self.engine = engine or Engine(cfg.local_docker, slow, "this host")

    # -- what the container is ------------------------------------------------------------

    def inspect(self) -> ContainerInfo | None:
        return self.engine.container_inspect(self.name)

    def running(self) -> bool:
        info = self.inspect()
        return info is not None and info.running

    def pid(self) -> int:
        info = self.inspect()
        if info is None or not info.running:
            raise OneDockError(f"VM {self.vmid}: container {self.name} is not running")
        return info.pid

    def _mounted(self) -> set[str]:
        info = self.inspect()
        return info.mounted_volumes if info is not None else set()

    def _disk_ref(self, disk_id: int) -> str:
        return f"{names.disk_repo(self.vmid)}:{names.disk_tag(disk_id)}"

    # -- deploy, and the container's life -------------------------------------------------

    def run(self, vm: VM) -> str:
        """Create (or reuse) and start the container, then plumb NICs and apply context."""
        body = spec(vm, self.cfg)
        existing = self.inspect()
        if existing is not None:
            labels = existing.labels
            if labels.get(LABEL_SPEC) != body["Labels"][LABEL_SPEC]:
                # the template changed while powered off: keep the disk, rebuild the container
                if existing.running:
                    self.engine.stop(self.name, self.cfg.shutdown_timeout)
                self.keep_layer(int(labels.get(names.LABEL_DISK, boot_disk(vm).disk_id)))
                existing = None
        image = boot.check_ready(self, vm, body)
        boot.image_volumes(self, body, image)
        helper = Helper(self.helper_argv, self.helper_local) if vm.nics else None
        created = False
        key_written = boot.NOTHING
        try:
            if existing is None:
                boot.create(self, body)
                created = True
            self.engine.start(self.name)
            key_written = boot.put_ssh_key_meanwhile(self, vm)
            self.plumb(vm, helper=helper)
            helper = None
            key_written()
            boot.start_script(self, vm)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to report
                key_written()
            with contextlib.suppress(Exception):
                if helper is not None:
                    helper.close()
                if created:
                    self.engine.remove_container(self.name, force=True)
                elif existing is not None:
                    self.engine.kill(self.name)
            raise
        return self.name

    def stop(self) -> None:
        """Graceful poweroff; a container that is gone is powered off already."""
        if self.inspect() is not None:
            self.engine.stop(self.name, self.cfg.shutdown_timeout)

    def kill(self) -> None:
        if self.inspect() is not None:
            self.engine.kill(self.name)

    def reboot(self, vm: VM) -> None:
        self.engine.restart(self.name, self.cfg.shutdown_timeout)
        self._replumb(vm)

    def reset(self, vm: VM) -> None:
        self.engine.kill(self.name)
        self.engine.start(self.name)
        self._replumb(vm)

    def _replumb(self, vm: VM) -> None:
        """A restart gives the container fresh network and mount namespaces."""
        self.plumb(vm)
        self.remount(vm)

    def save(self, vm: VM, checkpoint: str) -> None:
        """Commit the writable layer onto the boot disk; a checkpoint file says so."""
        boot_id = boot_disk(vm).disk_id
        if self.inspect() is not None:
            if self.running():
                self.engine.stop(self.name, self.cfg.shutdown_timeout)
            self.keep_layer(boot_id)
        elif self.engine.image_inspect(self._disk_ref(boot_id)) is None:
            raise OneDockError(f"VM {self.vmid} has neither a container nor a disk on this host")
        if checkpoint:
            os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
            with open(checkpoint, "w") as out:
                json.dump({"vmid": self.vmid, "saved": int(time.time()), "disk": boot_id}, out)

    def keep_layer(self, disk_id: int) -> None:
        """Commit the container's writable layer onto its boot disk tag, then drop it."""
        self.engine.commit(self.name, names.disk_repo(self.vmid), names.disk_tag(disk_id))
        self.engine.remove_container(self.name, force=True, volumes=True)

    def migrate(self, vm: VM, src: str, dst: str) -> None:
        """Cold migration: commit here, carry every disk through the registry, start there."""
        from onedock.host.staging import Host

        if self.inspect() is None:
            raise OneDockError(f"VM {self.vmid} has no container on this host")
        was_running = self.running()
        if was_running:
            self.engine.stop(self.name, self.cfg.shutdown_timeout)
        here, there = Host(self.cfg, src), Host(self.cfg, dst)
        here.engine = self.engine
        repo = names.vm_repo(self.cfg.prefix, self.vmid)
        try:
            disks = [d.disk_id for d in vm.disks]
            if vm.context_disk >= 0 and vm.context_disk not in disks:
                disks.append(vm.context_disk)
            for disk_id in disks:
                if here.park(self.vmid, disk_id, repo, names.disk_tag(disk_id)):
                    there.stage(repo, names.disk_tag(disk_id), self.vmid, disk_id, "moved")
            VmContainer(self.cfg, self.vmid, there.engine, host=dst).run(vm)
        except BaseException:
            if was_running:
                self.engine.start(self.name)
                self.plumb(vm)
            raise
        here.remove_vm(self.vmid)

    def resize(self, vm: VM) -> None:
        """CPU and memory of the running container, from the VM's new template."""
        host_config = spec(vm, self.cfg)["HostConfig"]
        resources = {k: host_config[k] for k in ("Memory", "MemorySwap", "NanoCpus", "CpuShares")}
        try:
            self.engine.update(self.name, resources)
        except NoCpuQuota:
            resources.pop("NanoCpus")  # shares and memory only
            self.engine.update(self.name, resources)

    def reconfigure(self, vm: VM) -> None:
        """The new context.sh is already visible at /run/one-context (the volume is shared)."""
        self.pid()  # fails clearly when the VM is not running here
        boot.apply_context(self, vm)

    # -- system snapshots: commits of the container -----------------------------------------

    def snapshot_create(self, tag: str) -> str:
        self.engine.commit(self.name, names.disk_repo(self.vmid), tag)
        return tag

    def snapshot_revert(self, vm: VM, tag: str) -> None:
        source = f"{names.disk_repo(self.vmid)}:{tag}"
        if self.engine.image_inspect(source) is None:
            raise OneDockError(f"snapshot {tag} of VM {self.vmid} does not exist on this host")
        if self.inspect() is not None:
            self.engine.remove_container(self.name, force=True)
        self.engine.tag(source, names.disk_repo(self.vmid), names.disk_tag(boot_disk(vm).disk_id))
        self.run(vm)

    def snapshot_delete(self, tag: str) -> None:
        self.engine.remove_image(f"{names.disk_repo(self.vmid)}:{tag}")

    # -- hot plug: the root helper does what needs root ---------------------------------------

    def privileged(self, request: Request) -> dict:
        """One request to the root helper of the host this container runs on."""
        return Helper(self.helper_argv, self.helper_local).call(request)

    def plumb(self, vm: VM, nics: list[Nic] | None = None, helper: Helper | None = None) -> None:
        specs = nic_specs(vm, nics)
        request = Attach(self.pid(), tuple(specs))
        if helper is not None:
            helper.call(request if specs else None)
        elif specs:
            self.privileged(request)

    def remount(self, vm: VM) -> None:
        """Hot-attached disks again: Docker only re-creates the mounts it knows of."""
        known = self._mounted()
        boot_id = boot_disk(vm).disk_id
        for disk in vm.disks:
            volume = names.volume(self.vmid, disk.disk_id)
            if disk.disk_id == boot_id or volume in known:
                continue
            if self.engine.volume_inspect(volume) is not None:
                self.privileged(Mount(self.pid(), volume, mountpoint(disk)))

    def attach_disk(self, disk: Disk) -> None:
        volume = names.volume(self.vmid, disk.disk_id)
        if self.engine.volume_inspect(volume) is None:
            raise OneDockError(
                f"disk {disk.disk_id} is not a volume on this host",
                hint="only datablock, volatile and context disks can be hot-attached to a "
                     "container")
        self.privileged(Mount(self.pid(), volume, mountpoint(disk)))

    def detach_disk(self, disk: Disk) -> None:
        volume = names.volume(self.vmid, disk.disk_id)
        if volume in self._mounted():
            raise OneDockError(
                f"disk {disk.disk_id} was attached when the VM was deployed and stays in use "
                "by its container", hint="power the VM off to detach it")
        self.privileged(Unmount(self.pid(), mountpoint(disk)))

    def attach_nic(self, vm: VM, nic: Nic) -> None:
        self.plumb(vm, [nic])

    def detach_nic(self, mac: str) -> None:
        self.privileged(Detach(self.pid(), mac))
