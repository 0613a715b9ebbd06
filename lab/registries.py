"""Registries on loopback: `docker-registry serve` with its own storage, one per role.

Nothing here reaches the network: a second registry stands in for Docker Hub.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def terminate(proc: subprocess.Popen | None, grace: float) -> None:
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


def temp_root(prefix: str = "onedock-lab-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


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
        terminate(self.proc, 10)
        self.proc = None


