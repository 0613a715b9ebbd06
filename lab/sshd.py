"""A host reached over ssh, on loopback: a private sshd with its own host key that accepts
one generated client key, and the ssh_config(5) file that reaches it by a host name.

The front-end reaches hosts' engines over ssh (`docker system dial-stdio`), so the handshake
and connection sharing are measured and tested against a real sshd, not a local socket.
Nothing listens beyond 127.0.0.1; the sshd logs each accepted login, which is how tests
count connections.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from lab.registries import free_port, terminate

SSHD = "/usr/sbin/sshd"


class SshHost:
    def __init__(self, root: Path, name: str = "lab-node"):
        self.root = root
        self.name = name
        self.port = 0
        self.config = root / "ssh_config"
        self.log = root / "sshd.log"
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> SshHost:
        if not os.access(SSHD, os.X_OK):
            raise RuntimeError(f"{SSHD} is not installed (apt-get install openssh-server)")
        self.root.mkdir(parents=True, exist_ok=True)
        for key in ("host_key", "client_key"):
            if not (self.root / key).exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab",
                                "-f", str(self.root / key)], check=True, timeout=30)
        shutil.copy(self.root / "client_key.pub", self.root / "authorized_keys")
        self.port = self.port or free_port()
        host_pub = (self.root / "host_key.pub").read_text().split()[:2]
        (self.root / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {' '.join(host_pub)}\n")
        (self.root / "sshd_config").write_text("\n".join([
            f"ListenAddress 127.0.0.1:{self.port}",
            f"HostKey {self.root / 'host_key'}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
            f"PidFile {self.root / 'sshd.pid'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "PermitRootLogin prohibit-password", "StrictModes no", "LogLevel INFO",
            "MaxStartups 50", "MaxSessions 50", "",
        ]))
        self.config.write_text("\n".join([
            f"Host {self.name}",
            "  HostName 127.0.0.1", f"  Port {self.port}", f"  User {getpass.getuser()}",
            f"  IdentityFile {self.root / 'client_key'}", "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.root / 'known_hosts'}",
            "  GlobalKnownHostsFile /dev/null", "  StrictHostKeyChecking yes", "",
        ]))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.root / "sshd_config")],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd on 127.0.0.1:{self.port} did not start")

    def ssh(self, *command: str, control: str = "") -> list[str]:
        """The argv of a plain `ssh` to this host (a new connection unless `control` names a
        master's socket)."""
        shared = ["-o", f"ControlPath={control}"] if control else []
        return ["ssh", "-F", str(self.config), "-o", "BatchMode=yes", *shared, self.name,
                *command]

    def logins(self) -> int:
        """Connections the sshd has accepted so far."""
        return self.log.read_text(errors="replace").count("Accepted publickey")

    def stop(self) -> None:
        self.stop_masters()
        terminate(self._proc, 5)
        self._proc = None

    def stop_masters(self) -> None:
        """End shared connections to this host that onedock's ssh left behind (in any
        ssh-<uid> directory under the lab root)."""
        for sock in self.root.glob("**/ssh-*/*"):
            if sock.is_socket():
                subprocess.run(["ssh", "-F", str(self.config), "-o", f"ControlPath={sock}",
                                "-O", "exit", self.name],
                               capture_output=True, timeout=10, check=False)
