"""The privileged part of onedock: a VM's NICs and hot-plugged disks inside its container.

Containers run unprivileged, so whatever needs root on the host is here and only here:
veth pairs on the NIC's bridge (through pyroute2's netlink, no `ip` command lines), and mounts
moved into a container's mount namespace for hot-attached disks (open_tree/move_mount, Linux
5.2+). oneadmin runs it as `sudo -n onedock-nic ...`; sudoers needs exactly:

    oneadmin ALL=(root) NOPASSWD: /usr/local/bin/onedock-nic

Requests arrive as JSON on stdin and are validated here again, since sudo makes this the trust
boundary.
"""

from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import re
import sys
from dataclasses import asdict, dataclass

from onedock.errors import OneDockError

_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
_HOST_IF = re.compile(r"one-[0-9]{1,9}-[0-9]{1,3}")  # only onedock's own veth ends
_MAC = re.compile(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}")
_VOLUME_ROOT = "/var/lib/docker/volumes"


@dataclass(frozen=True)
class NicSpec:
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
        if not _IFNAME.fullmatch(self.bridge):
            raise OneDockError(f"'{self.bridge}' is not a valid bridge name")
        if not _HOST_IF.fullmatch(self.host_if) or len(self.host_if) > 15:
            raise OneDockError(f"'{self.host_if}' is not an onedock veth name (one-<vmid>-<n>)")
        if not _MAC.fullmatch(self.mac):
            raise OneDockError(f"'{self.mac}' is not a MAC address (aa:bb:cc:dd:ee:ff)")
        if not 0 <= self.nic_id < 1000:
            raise OneDockError(f"NIC_ID {self.nic_id} is out of range")
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


def _ipr():
    from pyroute2 import IPRoute  # imported only where netlink is used

    return IPRoute()


def _netns(pid: int):
    from pyroute2 import NetNS

    return NetNS(f"/proc/{pid}/ns/net")


def _one(ipr, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def check_bridges(bridges: list[str]) -> None:
    """Every bridge exists: sysfs answers without privileges or a netlink socket."""
    for bridge in bridges:
        if _IFNAME.fullmatch(bridge) and (os.path.isdir(f"/sys/class/net/{bridge}/bridge")
                                          or _netlink_bridge(bridge)):
            continue
        raise OneDockError(
            f"bridge '{bridge}' does not exist on this host",
            hint="create it, or fix BRIDGE of the virtual network",
        )


def _netlink_bridge(name: str) -> bool:
    """sysfs shows the namespace it was mounted in; ask netlink when it says no."""
    with _ipr() as ipr:
        index = _one(ipr, name)
        if index is None:
            return False
        info = ipr.get_links(index)[0].get_attr("IFLA_LINKINFO")
        return info is not None and info.get_attr("IFLA_INFO_KIND") == "bridge"


def attach(pid: int, nics: list[NicSpec]) -> None:
    """Give the container (by init pid) one interface per NIC; repeatable."""
    with _ipr() as ipr:
        for nic in nics:
            bridge = _one(ipr, nic.bridge)
            if bridge is None:
                raise OneDockError(
                    f"bridge '{nic.bridge}' does not exist on this host",
                    hint="create it, or fix BRIDGE of the virtual network",
                )
            stale = _one(ipr, nic.host_if)
            if stale is not None:
                kind = ipr.get_links(stale)[0].get_attr("IFLA_LINKINFO")
                if kind is None or kind.get_attr("IFLA_INFO_KIND") != "veth":
                    raise OneDockError(f"{nic.host_if} exists and is not an onedock veth")
                ipr.link("del", index=stale)
            peer = f"odp{os.urandom(5).hex()}"  # unique while it crosses into the container
            leftover = _one(ipr, peer)
            if leftover is not None:
                ipr.link("del", index=leftover)
            ipr.link("add", ifname=nic.host_if, kind="veth", peer={"ifname": peer})
            try:
                host = _one(ipr, nic.host_if)
                attrs = {"mtu": nic.mtu} if nic.mtu else {}
                ipr.link("set", index=host, master=bridge, state="up", **attrs)
                ipr.link("set", index=_one(ipr, peer), net_ns_fd=f"/proc/{pid}/ns/net")
                _inside(pid, nic, peer)
            except BaseException:
                gone = _one(ipr, nic.host_if)
                if gone is not None:
                    ipr.link("del", index=gone)
                raise


def _inside(pid: int, nic: NicSpec, peer: str) -> None:
    with _netns(pid) as ns:
        old = _one(ns, nic.ifname)
        if old is not None:
            ns.link("del", index=old)
        idx = _one(ns, peer)
        attrs = {"mtu": nic.mtu} if nic.mtu else {}
        ns.link("set", index=idx, ifname=nic.ifname, address=nic.mac, **attrs)
        if nic.ip:
            ns.addr("add", index=idx, address=nic.ip, prefixlen=nic.prefix)
        ns.link("set", index=idx, state="up")
        lo = _one(ns, "lo")
        if lo is not None:
            ns.link("set", index=lo, state="up")
        if nic.gateway:
            ns.route("replace", dst="default", gateway=nic.gateway)


def detach(pid: int, mac: str) -> str:
    """Remove the container's interface with this MAC; returns its name ('' if none)."""
    if not _MAC.fullmatch(mac):
        raise OneDockError(f"'{mac}' is not a MAC address")
    with _netns(pid) as ns:
        for link in ns.get_links():
            if link.get_attr("IFLA_ADDRESS") == mac:
                name = link.get_attr("IFLA_IFNAME")
                ns.link("del", index=link["index"])
                return name
    return ""


# -- hot-plugged disks ------------------------------------------------------------------------

_libc = None
AT_FDCWD = -100
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
CLONE_NEWNS = 0x00020000
MNT_DETACH = 2
_SYSCALLS = {"x86_64": (428, 429), "aarch64": (428, 429)}


def _sys():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OneDockError(f"{what}: {os.strerror(err)}")
    return ret


def _target(path: str) -> str:
    norm = os.path.normpath(path)
    if not norm.startswith("/") or norm == "/" or "\0" in norm or norm != path.rstrip("/"):
        raise OneDockError(f"'{path}' is not a usable mount point")
    return norm


def mount_volume(pid: int, volume: str, target: str) -> None:
    """Move a clone of the volume's directory into the container's mount namespace."""
    if not re.fullmatch(r"one-[0-9]{1,9}-disk\.[0-9]{1,6}", volume):
        raise OneDockError(f"'{volume}' is not an onedock disk volume")
    target = _target(target)
    source = os.path.join(_VOLUME_ROOT, volume, "_data")
    nr_open_tree, nr_move_mount = _SYSCALLS.get(os.uname().machine, (None, None))
    if nr_open_tree is None:
        raise OneDockError(f"hot disk attach is not supported on {os.uname().machine}")
    libc = _sys()
    tree = _check(libc.syscall(nr_open_tree, AT_FDCWD, source.encode(),
                               OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
                  f"open_tree {source}")
    child = os.fork()
    if child == 0:  # setns(CLONE_NEWNS) needs a single-threaded process
        code = 0
        try:
            ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
            _check(libc.setns(ns, CLONE_NEWNS), "setns")
            os.makedirs(target, exist_ok=True)
            _check(libc.syscall(nr_move_mount, tree, b"", AT_FDCWD, target.encode(),
                                MOVE_MOUNT_F_EMPTY_PATH), f"move_mount {target}")
        except BaseException as exc:  # noqa: BLE001 - reported through the exit code
            sys.stderr.write(f"{exc}\n")
            code = 1
        os._exit(code)
    os.close(tree)
    _, status = os.waitpid(child, 0)
    if status != 0:
        raise OneDockError(f"could not mount {volume} at {target} in the container")


def unmount(pid: int, target: str) -> None:
    target = _target(target)
    libc = _sys()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
            _check(libc.setns(ns, CLONE_NEWNS), "setns")
            ret = libc.umount2(target.encode(), MNT_DETACH)
            if ret < 0 and ctypes.get_errno() not in (22,):  # EINVAL: not mounted (retry)
                _check(ret, f"umount {target}")
        except BaseException as exc:  # noqa: BLE001
            sys.stderr.write(f"{exc}\n")
            code = 1
        os._exit(code)
    _, status = os.waitpid(child, 0)
    if status != 0:
        raise OneDockError(f"could not unmount {target} in the container")


# -- entry point ------------------------------------------------------------------------------


def _container_pid(pid) -> None:
    """Only act inside a container: a process whose namespaces are not the host's."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
        raise OneDockError("a container init pid is required")
    try:
        for kind in ("net", "mnt"):
            # the helper itself runs in the host's namespaces
            if os.stat(f"/proc/{pid}/ns/{kind}").st_ino == os.stat(f"/proc/self/ns/{kind}").st_ino:
                raise OneDockError(f"pid {pid} shares the host's {kind} namespace: not a container")
    except FileNotFoundError as exc:
        raise OneDockError(f"no process {pid}: the container is not running") from exc


def run(request: dict) -> dict:
    """One privileged request; the same function serves in-process calls and the sudo helper."""
    op = request.get("op")
    if op is None:
        return {}  # an early-started helper that turned out not to be needed
    pid = request.get("pid", 0)
    if op != "check_bridges":
        _container_pid(pid)
    if op == "attach":
        attach(pid, [NicSpec(**n).check() for n in request.get("nics", [])])
        return {}
    if op == "detach":
        return {"ifname": detach(pid, str(request.get("mac", "")))}
    if op == "check_bridges":
        check_bridges([str(b) for b in request.get("bridges", [])])
        return {}
    if op == "mount":
        mount_volume(pid, str(request.get("volume", "")), str(request.get("target", "")))
        return {}
    if op == "unmount":
        unmount(pid, str(request.get("target", "")))
        return {}
    raise OneDockError(f"unknown request '{op}'")


class Helper:
    """The root helper, started early: netlink's import cost overlaps the container start.

    pyroute2 takes ~100 ms to import; a deploy starts the helper (or, as root, a thread that
    imports it) before creating the container and hands it the request once there is a pid.
    """

    def __init__(self, argv: list[str], local: bool = True):
        self._argv = argv
        self._proc = None
        self._thread = None
        if local and os.geteuid() == 0:
            import threading

            self._thread = threading.Thread(target=_preload, daemon=True)
            self._thread.start()
        else:
            import subprocess

            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE)

    def call(self, request: dict) -> dict:
        if self._thread is not None:
            self._thread.join()
            return run(request)
        try:
            out, err = self._proc.communicate(json.dumps(request).encode(), timeout=120)
        except Exception:
            self._proc.kill()
            self._proc.wait()
            raise
        if self._proc.returncode != 0:
            message = err.decode("utf-8", "replace").strip() or f"exit {self._proc.returncode}"
            raise OneDockError(f"{' '.join(self._argv)}: {message}",
                               hint="is the sudo rule for onedock-nic installed?")
        return json.loads(out or b"{}")

    def close(self) -> None:
        """Not needed after all (e.g. the deploy failed first): let the helper go."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.communicate(b"{}", timeout=30)


def _preload() -> None:
    import pyroute2  # noqa: F401


def main() -> None:
    _preload()  # before reading stdin: the caller overlaps this with its own work
    try:
        request = json.loads(sys.stdin.read(1 << 20) or "{}")
        if not isinstance(request, dict):
            raise OneDockError("request must be a JSON object")
        out = run(request)
        sys.stdout.write(json.dumps(out))
    except Exception as exc:  # noqa: BLE001 - one line for oned, whatever failed (netlink too)
        sys.stderr.write(" ".join(f"{exc}".split()) or type(exc).__name__)
        sys.stderr.write("\n")
        sys.exit(1)


def as_dict(nic: NicSpec) -> dict:
    return asdict(nic)
