"""Test images built offline and what VMs leave on an engine.

Images are made from Debian's busybox-static binary with `docker import`; nothing is pulled.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "ls", "cat", "echo", "sleep", "mkdir", "rm", "touch", "sync", "dd", "head",
           "true", "false", "id", "hostname", "ip", "nc", "wc", "httpd", "env", "sha256sum")


def busybox_rootfs() -> bytes:
    """A tiny root filesystem: the static busybox and its applets, as a tar for docker import."""
    if not BUSYBOX.exists():
        raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("bin", "tmp", "etc", "root", "proc", "sys", "dev", "data"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(BUSYBOX), "bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(info)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def build_images(client, hub: str, layers: int = 3, layer_mb: int = 4) -> dict[str, str]:
    """Push `busybox` (1 layer) and `multi` (1 + `layers` layers of random data) to `hub`."""
    base = f"{hub}/library/busybox"
    client.api.import_image_from_data(busybox_rootfs(), repository=base, tag="latest")
    client.images.get(f"{base}:latest").tag(base, "latest")
    current = f"{base}:latest"
    multi = f"{hub}/onedock-test/multi"
    for index in range(layers):
        box = client.containers.create(
            current,
            ["sh", "-c", f"dd if=/dev/urandom of=/data/layer{index} bs=1M count={layer_mb} "
                         f"2>/dev/null && sync"],
            network_disabled=True,
        )
        try:
            box.start()
            box.wait(timeout=120)
            image = box.commit(repository=multi, tag=f"step{index}",
                               conf={"Cmd": ["sh"]})
        finally:
            box.remove(force=True)
        current = image.id
    client.images.get(current).tag(multi, "latest")
    for repo in (base, multi):
        for line in client.images.push(repo, tag="latest", stream=True, decode=True):
            if line.get("error"):
                raise RuntimeError(f"push {repo}: {line['error']}")
    return {"busybox": f"{base}:latest", "multi": f"{multi}:latest"}


def remove_images(client, registries: tuple[str, ...]) -> None:
    """Remove every image tagged or pulled from these registries, children before parents."""
    for _ in range(6):  # a parent only goes once the images built on it are gone
        doomed = [
            image for image in client.images.list(all=True)
            if any(ref.startswith(f"{reg}/") for reg in registries
                   for ref in image.tags + (image.attrs.get("RepoDigests") or []))
        ]
        if not doomed:
            return
        for image in doomed:
            with contextlib.suppress(Exception):  # has children, or gone with another
                client.images.remove(image.id, force=True)


def purge_vm(client, vmid: int) -> None:
    """Everything of VM `vmid` on an engine: container, labelled volumes, `one-<vmid>:*` tags.

    For tests, the smoke workflow and benchmarks alike: whatever a run (or an interrupted one)
    left, gone; missing pieces are fine.
    """
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(f"one-{vmid}").remove(force=True)
    for vol in client.volumes.list(filters={"label": f"org.opennebula.onedock.vmid={vmid}"}):
        with contextlib.suppress(docker.errors.NotFound):
            vol.remove(force=True)
    for image in client.images.list(name=f"one-{vmid}"):
        for tag in image.tags:
            if tag.startswith(f"one-{vmid}:"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.images.remove(tag, force=True)
