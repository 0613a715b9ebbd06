"""What every sandbox offers, whatever runs it (LXD through pylxd today)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Protocol

from onedock.errors import OneDockError

GUEST_SRC = "/root/onedock-src"
GUEST_VENV = "/opt/onedock"


@dataclass
class ExecResult:
    rc: int
    stdout: str
    stderr: str


class Backend(Protocol):
    name: str
    src: str  # the checkout inside the guest

    def up(self) -> None: ...
    def provision(self) -> None: ...
    def exec(self, argv: list[str], *, cwd: str = "/root", check: bool = True) -> ExecResult: ...
    def status(self) -> dict: ...
    def shell(self) -> None: ...
    def down(self) -> None: ...


class Steps:
    """Progress for long operations: numbered steps with durations, and which one failed."""

    def __init__(self, title: str, out=sys.stdout):
        self.title = title
        self.out = out
        self.started = time.perf_counter()

    def run(self, label: str, func, *args, retry: str = ""):
        begin = time.perf_counter()
        self.out.write(f"==> {label} ...\n")
        self.out.flush()
        try:
            result = func(*args)
        except Exception as exc:  # noqa: BLE001 - pylxd and friends raise their own types
            hint = f" ({retry})" if retry else ""
            raise OneDockError(f"{self.title}: step '{label}' failed: {exc}{hint}") from exc
        self.out.write(f"    done in {time.perf_counter() - begin:.1f}s\n")
        self.out.flush()
        return result

    def finish(self) -> float:
        took = time.perf_counter() - self.started
        self.out.write(f"==> {self.title}: ready in {took:.1f}s\n")
        return took


def make(name: str, one_packages: str = "", provider: str = "docker",
         one_version: str = "", one_location: str = "", nodes: int = 0) -> Backend:
    """The sandbox backend called `name`: lxd (pylxd) or vagrant (python-vagrant)."""
    from onedock.errors import OneDockError

    if name == "lxd":
        from sandbox.lxd import LxdBackend

        return LxdBackend(one_packages=one_packages, one_version=one_version,
                          one_location=one_location, nodes=nodes)
    if name == "vagrant":
        from sandbox.vagrant import VagrantBackend

        if one_location or nodes:
            raise OneDockError("--one-location and --nodes are LXD's for now; with Vagrant, "
                               "ONEDOCK_NODES=N vagrant up makes hosts without OpenNebula")
        return VagrantBackend(provider=provider, one_packages=one_packages)
    raise OneDockError(f"unknown sandbox backend '{name}' (lxd or vagrant)")
