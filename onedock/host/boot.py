"""How a VM's container is first made on a host: checks that everything it needs is staged,
the image's own VOLUMEs as named volumes, the create itself, and the context that lands in a
container (SSH key, START_SCRIPT). The container's life after that is host/vm_container.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from onedock import names, tarball
from onedock.errors import NoCpuQuota, OneDockError
from onedock.helper.client import check_bridges
from onedock.host.spec import LABEL_IPS
from onedock.one.vm import VM

if TYPE_CHECKING:
    from onedock.engine.views import ImageInfo
    from onedock.host.vm_container import VmContainer


def check_ready(box: VmContainer, vm: VM, body: dict) -> ImageInfo:
    """Everything the container needs is on this host: staged disks, bridges, free IPs."""
    image = box.engine.image_inspect(body["Image"])
    if image is None:
        raise OneDockError(
            f"VM {vm.id}: its boot disk is not staged on {box.engine.name} "
            f"({body['Image']} missing)",
            hint="the onedock TM must clone the image first (is the disk's TM_MAD onedock?)",
        )
    for mount in body["HostConfig"]["Mounts"]:
        if box.engine.volume_inspect(mount["Source"]) is None:
            raise OneDockError(
                f"VM {vm.id}: volume {mount['Source']} is not on {box.engine.name}",
                hint="the onedock TM must create it first (mkimage, context or clone)",
            )
    if box.helper_local:  # a remote host's helper reports its own missing bridges
        check_bridges(sorted({n.bridge for n in vm.nics}))
    mine = {n.ip for n in vm.nics if n.ip}
    if mine:
        for other in box.engine.containers([LABEL_IPS], all_=False):
            if other.name == box.name:
                continue
            taken = set(other.labels.get(LABEL_IPS, "").split(","))
            if mine & taken:
                raise OneDockError(
                    f"VM {vm.id}: IP {', '.join(sorted(mine & taken))} is already used by "
                    f"{other.name} on this host"
                )
    return image


def image_volumes(box: VmContainer, body: dict, image: ImageInfo) -> None:
    """Named, labelled volumes where the image declares VOLUMEs (databases keep data there).

    Anonymous volumes would vanish whenever the container is rebuilt (save, resume after a
    template change, snapshot revert); these stay until the VM is deleted.
    """
    import hashlib

    taken = {m["Target"] for m in body["HostConfig"]["Mounts"]}
    for path in image.volumes:
        if path in taken:
            continue
        tag = hashlib.sha256(path.encode()).hexdigest()[:10]
        body["HostConfig"]["Mounts"].append({
            "Type": "volume", "Source": f"{box.name}-vol-{tag}", "Target": path,
            "VolumeOptions": {"Labels": {names.LABEL_VMID: str(box.vmid),
                                         names.LABEL_ROLE: "image-volume"}}})


def create(box: VmContainer, body: dict) -> None:
    """Create the container; without a CPU cap where the kernel has no CFS quota."""
    try:
        box.engine.create_container(box.name, body)
    except NoCpuQuota:
        body["HostConfig"].pop("NanoCpus")
        sys.stderr.write(f"WARN: VM {box.vmid}: this kernel has no CPU CFS quota; "
                         "VCPU is not enforced as a cap, CPU shares still apply\n")
        box.engine.create_container(box.name, body)


def apply_context(box: VmContainer, vm: VM) -> None:
    put_ssh_key(box, vm)
    start_script(box, vm)


def NOTHING() -> None:
    """Nothing to wait for."""


def put_ssh_key_meanwhile(box: VmContainer, vm: VM) -> Callable[[], None]:
    """Write the key while the NICs are plumbed; returns the wait for it, which re-raises.

    The engine's archive PUT runs an untar process of its own (~35 ms here), longer than the
    NICs take; the deploy returns only once the key is there, as one-context in a VM installs
    it while the VM boots.
    """
    if not vm.context.get("SSH_PUBLIC_KEY", ""):
        return NOTHING
    import threading

    failed: list[BaseException] = []

    def write() -> None:
        try:
            put_ssh_key(box, vm)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            failed.append(exc)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failed:
            raise failed.pop()

    return wait


def put_ssh_key(box: VmContainer, vm: VM) -> None:
    """Works on a created or a running container."""
    key = vm.context.get("SSH_PUBLIC_KEY", "")
    if key:
        data = (key.strip() + "\n").encode()
        box.engine.put_archive(box.name, "/", tarball.build([
            ("root", tarball.DIR, 0o700), ("root/.ssh", tarball.DIR, 0o700),
            ("root/.ssh/authorized_keys", data, 0o600)]))


def start_script(box: VmContainer, vm: VM) -> None:
    script = vm.context.get("START_SCRIPT", "")
    if not script and vm.context.get("START_SCRIPT_BASE64"):
        import base64

        try:
            script = base64.b64decode(vm.context["START_SCRIPT_BASE64"],
                                      validate=True).decode()
        except ValueError as exc:  # binascii.Error and UnicodeDecodeError alike
            raise OneDockError("CONTEXT/START_SCRIPT_BASE64 is not valid base64") from exc
    if script:
        box.engine.exec_detached(box.name, ["/bin/sh", "-c", script])
