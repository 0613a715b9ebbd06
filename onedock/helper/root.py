"""The root side of the helper: what `sudo -n onedock-nic` runs (and, when the action is
root already, what client.Helper calls in-process).

veth pairs on the NIC's bridge go through pyroute2's netlink (no `ip` command lines), and
hot-attached disks are mounts moved into the container's mount namespace (open_tree and
move_mount, Linux 5.2+). oneadmin needs exactly one sudo rule (onedock install host writes it):

    oneadmin ALL=(root) NOPASSWD: /usr/bin/onedock-nic

Requests arrive as JSON on stdin and are validated here again. This module imports nothing of
onedock but the requests and errors, so what runs as root stays small.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys

from onedock.errors import OneDockError
from onedock.helper.requests import IFNAME, MAC, NicSpec

_VOLUME_ROOT = "/var/lib/docker/volumes"


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
        if IFNAME.fullmatch(bridge) and (os.path.isdir(f"/sys/class/net/{bridge}/bridge")
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
    if not MAC.fullmatch(mac):
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


def preload() -> None:
    import pyroute2  # noqa: F401


def main() -> None:
    preload()  # before reading stdin: the caller overlaps this with its own work
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
