"""What the unprivileged side may ask the root helper, as typed requests.

They cross as JSON on the helper's stdin (`Request.payload()`), and root.run validates every
field again on the other side, since sudo makes that the trust boundary.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from onedock.errors import OneDockError

IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
_HOST_IF = re.compile(r"one-[0-9]{1,9}-[0-9]{1,3}")  # only onedock's own veth ends
MAC = re.compile(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}")
_VOLUME_ROOT = "/var/lib/docker/volumes"


class NicSpec(NamedTuple):
    nic_id: int
    bridge: str
    mac: str
    ip: str
    prefix: int
    gateway: str
    host_if: str
    mtu: int = 0

    @property
    def ifname(self) -> str:
        return f"eth{self.nic_id}"

    def check(self) -> NicSpec:
        if not IFNAME.fullmatch(self.bridge):
            raise OneDockError(f"'{self.bridge}' is not a valid bridge name")
        if not _HOST_IF.fullmatch(self.host_if) or len(self.host_if) > 15:
            raise OneDockError(f"'{self.host_if}' is not an onedock veth name (one-<vmid>-<n>)")
        if not MAC.fullmatch(self.mac):
            raise OneDockError(f"'{self.mac}' is not a MAC address (aa:bb:cc:dd:ee:ff)")
        if not 0 <= self.nic_id < 1000:
            raise OneDockError(f"NIC_ID {self.nic_id} is out of range")
        import ipaddress  # only requests that plumb a NIC pay for it

        try:
            if self.ip:
                ipaddress.IPv4Interface(f"{self.ip}/{self.prefix}")
            if self.gateway:
                ipaddress.IPv4Address(self.gateway)
        except ValueError as exc:
            raise OneDockError(f"NIC {self.nic_id}: {exc}") from exc
        if self.mtu and not 68 <= self.mtu <= 65535:
            raise OneDockError(f"NIC {self.nic_id}: MTU {self.mtu} is out of range")
        return self


class Attach(NamedTuple):
    """Give the container (by its init pid) one interface per NIC on the NIC's bridge."""
    pid: int
    nics: tuple[NicSpec, ...]

    def payload(self) -> dict:
        return {"op": "attach", "pid": self.pid, "nics": [n._asdict() for n in self.nics]}


class Detach(NamedTuple):
    """Remove the container's interface with this MAC."""
    pid: int
    mac: str

    def payload(self) -> dict:
        return {"op": "detach", "pid": self.pid, "mac": self.mac.lower()}


class Mount(NamedTuple):
    """Mount an onedock disk volume at target inside the running container."""
    pid: int
    volume: str
    target: str

    def payload(self) -> dict:
        return {"op": "mount", "pid": self.pid, "volume": self.volume, "target": self.target}


class Unmount(NamedTuple):
    pid: int
    target: str

    def payload(self) -> dict:
        return {"op": "unmount", "pid": self.pid, "target": self.target}


Request = Attach | Detach | Mount | Unmount
