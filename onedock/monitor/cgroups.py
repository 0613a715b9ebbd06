"""Per-container figures straight from the kernel, for cgroup v1 and v2 layouts alike."""

from __future__ import annotations

import os

ROOT = "/sys/fs/cgroup"


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None  # the container went away mid-probe, or the controller is absent


def _int(path: str) -> int:
    text = _read(path)
    try:
        return int(text) if text is not None else 0
    except ValueError:
        return 0


def _keyed(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


class Cgroups:
    """Finds a container's cgroup directories once the layout is known (detected, not assumed)."""

    def __init__(self, root: str = ROOT):
        self.root = root
        self.v2 = os.path.exists(os.path.join(root, "cgroup.controllers"))
        self._pattern: str | None = None

    @property
    def version(self) -> int:
        return 2 if self.v2 else 1

    def _candidates(self, cid: str) -> list[str]:
        names = [f"docker/{cid}", f"system.slice/docker-{cid}.scope"]
        if self.v2:
            return [os.path.join(self.root, n) for n in names]
        return [os.path.join(self.root, "memory", n) for n in names]

    def _dir(self, cid: str, controller: str) -> str | None:
        if self._pattern is None:
            for path in self._candidates(cid):
                if os.path.isdir(path):
                    self._pattern = path.replace(cid, "{cid}")
                    break
            else:
                return None
        base = self._pattern.format(cid=cid)
        if not self.v2:
            base = base.replace(f"{self.root}/memory/", f"{self.root}/{controller}/", 1)
        return base if os.path.isdir(base) else None

    def memory_bytes(self, cid: str) -> int | None:
        """Memory in use the way the kernel counts it, minus reclaimable page cache."""
        base = self._dir(cid, "memory")
        if base is None:
            return None
        if self.v2:
            usage = _int(f"{base}/memory.current")
            inactive = _keyed(f"{base}/memory.stat").get("inactive_file", 0)
        else:
            usage = _int(f"{base}/memory.usage_in_bytes")
            inactive = _keyed(f"{base}/memory.stat").get("total_inactive_file", 0)
        return max(0, usage - inactive)

    def cpu_ns(self, cid: str) -> int | None:
        """CPU time consumed since the container started, in nanoseconds."""
        if self.v2:
            base = self._dir(cid, "cpu")
            if base is None:
                return None
            return _keyed(f"{base}/cpu.stat").get("usage_usec", 0) * 1000
        base = self._dir(cid, "cpuacct")
        if base is None:
            return None
        value = _read(f"{base}/cpuacct.usage")
        if value is None:
            value = _read(f"{base.replace('/cpuacct/', '/cpu,cpuacct/', 1)}/cpuacct.usage")
        return int(value) if value and value.strip().isdigit() else 0

    def io(self, cid: str) -> tuple[int, int, int, int]:
        """(read bytes, write bytes, read ops, write ops) of the container's block I/O."""
        rb = wb = rio = wio = 0
        if self.v2:
            base = self._dir(cid, "io")
            for line in (_read(f"{base}/io.stat") or "").splitlines() if base else []:
                fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
                rb += int(fields.get("rbytes", 0))
                wb += int(fields.get("wbytes", 0))
                rio += int(fields.get("rios", 0))
                wio += int(fields.get("wios", 0))
            return rb, wb, rio, wio
        base = self._dir(cid, "blkio")
        if base is None:
            return 0, 0, 0, 0
        for name, is_bytes in (("blkio.throttle.io_service_bytes", True),
                               ("blkio.throttle.io_serviced", False)):
            for line in (_read(f"{base}/{name}") or "").splitlines():
                parts = line.split()
                if len(parts) != 3 or not parts[2].isdigit():
                    continue
                if parts[1] == "Read":
                    if is_bytes:
                        rb += int(parts[2])
                    else:
                        rio += int(parts[2])
                elif parts[1] == "Write":
                    if is_bytes:
                        wb += int(parts[2])
                    else:
                        wio += int(parts[2])
        return rb, wb, rio, wio


def veth_counters(vmid: int, links: list[str]) -> tuple[int, int]:
    """(bytes the VM received, bytes it sent), from the host ends of its veths one-<vmid>-N.

    The host end's tx is what the container received, and its rx what the container sent.
    """
    prefix = f"one-{vmid}-"
    rx = tx = 0
    for name in links:
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            stats = f"/sys/class/net/{name}/statistics"
            rx += _int(f"{stats}/tx_bytes")
            tx += _int(f"{stats}/rx_bytes")
    return rx, tx
