"""The root side of the helper: what `sudo -n onedock-nic` runs (and, when the action is
root already, what client.Helper calls in-process).

veth pairs on the NIC's bridge go through rtnetlink (netlink.py; no `ip` command lines), and
hot-attached disks are mounts moved into the container's mount namespace (open_tree and
move_mount, Linux 5.2+). oneadmin needs exactly one sudo rule (onedock install host writes it):

    oneadmin ALL=(root) NOPASSWD: /usr/bin/onedock-nic

Requests arrive as JSON on stdin and are validated here again. This module imports nothing of
onedock but the errors and the helper's own modules (requests, the bridge check, netlink, libc),
so what runs as root stays small.
"""

from __future__ import annotations

import json
import os
import re
import sys

from onedock.errors import OneDockError
from onedock.helper.client import check_bridges, missing_bridge
from onedock.helper.libc import errno, libc
from onedock.helper.netlink import Netlink
from onedock.helper.requests import MAC, NicSpec

_VOLUME_ROOT = "/var/lib/docker/volumes"


def attach(pid: int, nics: list[NicSpec]) -> None:
    """Give the container (by init pid) one interface per NIC; repeatable: an interface of an
    earlier try, on either side, is replaced."""
    with Netlink() as nl, Netlink.inside(pid) as inside:
        for nic in nics:
            bridge = nl.link(nic.bridge)
            if bridge is None or bridge.kind != "bridge":
                raise missing_bridge(nic.bridge)
            stale = nl.link(nic.host_if)
            if stale is not None:
                if stale.kind != "veth":
                    raise OneDockError(f"{nic.host_if} exists and is not an onedock veth")
                nl.delete(stale.index)
            old = inside.link(nic.ifname)
            if old is not None:
                inside.delete(old.index)
            netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                nl.add_veth(nic.host_if, bridge.index, nic.mtu, nic.ifname, netns, nic.mac)
            finally:
                os.close(netns)
            try:
                host = nl.link(nic.host_if)
                if host is None:
                    raise OneDockError(f"{nic.host_if} vanished as it was made")
                nl.up(host.index)
                _inside(inside, nic)
            except BaseException:
                gone = nl.link(nic.host_if)
                if gone is not None:
                    nl.delete(gone.index)  # its peer in the container goes with it
                raise


def _inside(inside: Netlink, nic: NicSpec) -> None:
    link = inside.link(nic.ifname)
    if link is None:
        raise OneDockError(f"{nic.ifname} did not appear in the container")
    if nic.ip:
        inside.add_address(link.index, nic.ip, nic.prefix)
    inside.up(link.index)
    lo = inside.link("lo")
    if lo is not None:
        inside.up(lo.index)
    if nic.gateway:
        inside.default_route(nic.gateway)


def detach(pid: int, mac: str) -> str:
    """Remove the container's interface with this MAC; returns its name ('' if none)."""
    if not MAC.fullmatch(mac):
        raise OneDockError(f"'{mac}' is not a MAC address")
    with Netlink.inside(pid) as inside:
        for link in inside.links():
            if link.mac == mac:
                inside.delete(link.index)
                return link.name
    return ""


# -- hot-plugged disks ------------------------------------------------------------------------

AT_FDCWD = -100
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
CLONE_NEWNS = 0x00020000
MNT_DETACH = 2
_SYSCALLS = {"x86_64": (428, 429), "aarch64": (428, 429)}


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = errno()
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
    lib = libc()
    tree = _check(lib.syscall(nr_open_tree, AT_FDCWD, source.encode(),
                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
                  f"open_tree {source}")
    child = os.fork()
    if child == 0:  # setns(CLONE_NEWNS) needs a single-threaded process
        code = 0
        try:
            ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
            _check(lib.setns(ns, CLONE_NEWNS), "setns")
            os.makedirs(target, exist_ok=True)
            _check(lib.syscall(nr_move_mount, tree, b"", AT_FDCWD, target.encode(),
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
    lib = libc()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
            _check(lib.setns(ns, CLONE_NEWNS), "setns")
            ret = lib.umount2(target.encode(), MNT_DETACH)
            if ret < 0 and errno() not in (22,):  # EINVAL: not mounted (retry)
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


def main() -> None:
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
