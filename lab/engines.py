"""A second Docker engine on this machine: "host 2" of migrations and remote hosts."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lab.registries import terminate


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
        terminate(self.proc, 30)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)


