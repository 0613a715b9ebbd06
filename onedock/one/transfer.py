"""Arguments of TM scripts: `host:path` pairs, VM and datastore ids, image SOURCEs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from onedock.errors import OneDockError
from onedock.registry.reference import validate_repository

if TYPE_CHECKING:
    from onedock.one.vm import VM

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_DISK = re.compile(r"^disk\.([0-9]{1,6})$")


def hostname(value: str, what: str = "host") -> str:
    if len(value) > 253 or not _HOST.fullmatch(value):
        raise OneDockError(f"{what} '{value[:80]}' is not a valid host name")
    return value


class HostPath(NamedTuple):
    host: str
    path: str

    @property
    def disk_id(self) -> int | None:
        """N for `<sysdir>/disk.N`; None for the VM directory itself."""
        match = _DISK.fullmatch(self.path.rsplit("/", 1)[-1])
        return int(match.group(1)) if match else None

    def __str__(self) -> str:
        return f"{self.host}:{self.path}"


def host_path(arg: str, what: str = "argument") -> HostPath:
    """Split at the first ':' like tm_common.sh's arg_host/arg_path, then validate both."""
    host, sep, path = arg.partition(":")
    if not sep:
        raise OneDockError(f"{what} '{arg[:80]}' is not host:path")
    hostname(host, what)
    path = re.sub("/+", "/", path).rstrip("/") or ("/" if path else "")
    if not path.startswith("/") or "\0" in path or "/../" in f"{path}/":
        raise OneDockError(f"{what} '{arg[:80]}' has an unsafe path")
    return HostPath(host, path)


_VM_DIR = re.compile(r"^((?:/[A-Za-z0-9_-][A-Za-z0-9._-]{0,254})+)/([0-9]{1,9})/([0-9]{1,9})$")


def vm_dir(path: HostPath, vmid: int) -> str:
    """`path` as exactly `<datastores dir>/<dsid>/<vmid>` of this VM, or an error.

    The VM directory is removed recursively on the host, so nothing but that shape is
    accepted: an absolute, dot-free parent, digits for the datastore, the action's own vmid.
    """
    match = _VM_DIR.fullmatch(path.path)
    if not match or int(match.group(3)) != vmid or match.group(3) != str(vmid):
        raise OneDockError(f"'{str(path)[:80]}' is not the directory of VM {vmid} "
                           "(<datastores>/<dsid>/<vmid>)")
    return path.path


def vm_disk(arg: str, vmid: int, what: str = "disk") -> tuple[HostPath, int]:
    """`host:<sysdir>/disk.N` of this very VM: another VM's disk is refused, not acted on."""
    path = host_path(arg, what)
    if path.disk_id is None:
        raise OneDockError(f"{what} '{arg[:80]}' is not a disk path (<sysdir>/disk.N)")
    vm_dir(HostPath(path.host, path.path.rsplit("/", 1)[0]), vmid)
    return path, path.disk_id


def args(argv: list[str], count: int, usage: str) -> list[str]:
    """The action's arguments, exactly as many as oned passes."""
    if len(argv) != count:
        raise OneDockError(f"expected {count} arguments ({usage}), got {len(argv)}")
    return argv


def number(arg: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", arg):
        raise OneDockError(f"{what} '{arg[:40]}' is not a number (0 or more)")
    return int(arg)


def source(arg: str) -> str:
    """The image SOURCE: oned prefixes a colon-free SOURCE with `<frontend>:`."""
    _, sep, rest = arg.partition(":")
    repo = rest if sep else arg
    return validate_repository(repo, "image SOURCE")


class BackupStep(NamedTuple):
    """One of the three steps of a backup (prebackup, the datastore's backup, postbackup):
    argv `<host>:<sysdir> <disks> <deploy_id> <bj_id> <vmid> <dsid>`, the VM on stdin."""
    host: str
    sysdir: str
    vmid: int
    disk_ids: list[int]
    vm: VM | None  # None where the step needs no more than its argv (postbackup)
    document: bytes


def backup_step(path: str, disks: str, vmid: str, document: bytes | None) -> BackupStep:
    from onedock.one.vm import parse_vm

    vmid_ = number(vmid, "vmid")
    where = host_path(path, "path")
    sysdir = vm_dir(where, vmid_)
    ids = [number(d, "disk id") for d in disks.split(":")] if disks not in ("", "-") else []
    if document is None:
        return BackupStep(where.host, sysdir, vmid_, ids, None, b"")
    vm = parse_vm(document, "VM document on stdin")
    if vm.id != vmid_:
        raise OneDockError(f"the VM document on stdin is VM {vm.id}'s, not VM {vmid_}'s")
    if vm.backup_mode == "INCREMENT":
        raise OneDockError("incremental backups of onedock VMs are not supported",
                           hint="set BACKUP_CONFIG/MODE=FULL (onevm updateconf)")
    return BackupStep(where.host, sysdir, vmid_, ids, vm, document)
