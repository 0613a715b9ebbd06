"""A lab on this machine: real registries and test images built offline, for tests and smoke.

Nothing here reaches the network: images are made from Debian's busybox-static binary with
`docker import`, and a second registry on loopback stands in for Docker Hub.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "ls", "cat", "echo", "sleep", "mkdir", "rm", "touch", "sync", "dd", "head",
           "true", "false", "id", "hostname", "ip", "nc", "wc", "httpd", "env", "sha256sum")


def _terminate(proc: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RegistryProcess:
    """`docker-registry serve` on a loopback port with its own storage and deletes enabled."""

    root: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    log: Path = field(init=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    def start(self, timeout: float = 20.0) -> RegistryProcess:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        self.port = self.port or free_port()
        self.storage.mkdir(parents=True, exist_ok=True)
        conf = self.root / "config.yml"
        conf.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage:\n  filesystem: {{rootdirectory: {self.storage}}}\n"
            "  delete: {enabled: true}\n"
            f"http: {{addr: '127.0.0.1:{self.port}'}}\n"
        )
        self.log = self.root / "registry.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([binary, "serve", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"registry exited: {self.log.read_text()[-500:]}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"registry on {self.host} did not answer within {timeout}s")

    def stop(self) -> None:
        _terminate(self.proc, 10)
        self.proc = None


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


def temp_root(prefix: str = "onedock-lab-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


@dataclass
class SecondEngine:
    """Another dockerd with its own socket, data root and no networking: "host 2" for tests."""

    root: Path
    proc: subprocess.Popen | None = None
    bridge: str = "od2br0"

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 60.0) -> SecondEngine:
        self.root.mkdir(parents=True, exist_ok=True)
        # its own default bridge: with `--bridge none` dockerd removes the host's docker0
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=False,
                       capture_output=True)
        argv = ["dockerd", "-H", self.url, "--data-root", str(self.root / "data"),
                "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "pid"),
                "--bridge", self.bridge, "--iptables=false", "--ip-masq=false"]
        with open(self.root / "dockerd.log", "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.root / "dockerd.log").read_text()[-800:])
            if self.socket.exists():
                probe = subprocess.run(["docker", "-H", self.url, "version"],
                                       capture_output=True)
                if probe.returncode == 0:
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"second dockerd did not come up within {timeout}s")

    def stop(self) -> None:
        _terminate(self.proc, 30)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)


def purge_vm(client, vmid: int) -> None:
    """Everything of VM `vmid` on an engine: container, labelled volumes, `one-<vmid>:*` tags.

    For tests, the smoke workflow and benchmarks alike: whatever a run (or an interrupted one)
    left, gone; missing pieces are fine.
    """
    import contextlib

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
