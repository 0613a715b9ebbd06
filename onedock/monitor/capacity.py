"""Where a host's VM disks really live: the filesystems of Docker's data root and volumes.

A container VM's root disk is its writable layer under Docker's data root, and its other disks
are volumes (DockerRootDir/volumes, or wherever a volume driver or a mount puts them), not files
under DATASTORE_LOCATION. Each filesystem is counted once (by device id), so a volumes root on
the data root's filesystem adds nothing.

Probes run as oneadmin, and Docker's data root is root's (mode 0710): a path below it cannot be
stat'ed. Its filesystem is then found in /proc/self/mountinfo (the longest mount point above
the path) and measured through any mount point of that device that this user can reach.
"""

from __future__ import annotations

import os
from typing import NamedTuple

MB = 1 << 20


class Usage(NamedTuple):
    used_mb: int
    free_mb: int
    total_mb: int

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.used_mb + other.used_mb, self.free_mb + other.free_mb,
                     self.total_mb + other.total_mb)


def statvfs_usage(path: str) -> Usage:
    """df's figures: used counts every allocated block, free only what this user may fill."""
    fs = os.statvfs(path)
    total = fs.f_blocks * fs.f_frsize // MB
    return Usage(total - fs.f_bfree * fs.f_frsize // MB, fs.f_bavail * fs.f_frsize // MB, total)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040 ...)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts(path: str = "/proc/self/mountinfo") -> list[tuple[int, str]]:
    """(device id, mount point) of every mount this process sees, in mount order."""
    out = []
    try:
        with open(path) as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 5 or ":" not in fields[2]:
                    continue
                major, _, minor = fields[2].partition(":")
                if major.isdigit() and minor.isdigit():
                    out.append((os.makedev(int(major), int(minor)), _unescape(fields[4])))
    except OSError:
        pass
    return out


def _covering(path: str, table: list[tuple[int, str]]) -> int | None:
    """The device of the mount that holds path: the last-mounted longest prefix wins."""
    best, best_len = None, -1
    for dev, point in table:
        inside = point == "/" or path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best_len:
            best, best_len = dev, len(point)
    return best


def filesystem(path: str, table: list[tuple[int, str]] | None = None
               ) -> tuple[int, Usage] | None:
    """(device id, usage) of the filesystem holding path, or None when nothing can measure it.

    table: mounts(), when the caller has read it already.
    """
    path = os.path.normpath(path)
    try:
        return os.stat(path).st_dev, statvfs_usage(path)
    except OSError:
        pass
    table = mounts() if table is None else table
    dev = _covering(path, table)
    if dev is None:
        return None
    for other, point in reversed(table):
        if other != dev:
            continue
        try:
            if os.stat(point).st_dev == dev:  # not shadowed by a later mount on top
                return dev, statvfs_usage(point)
        except OSError:
            continue
    return None


def combined(paths: list[str]) -> Usage | None:
    """The sum over the distinct filesystems that hold these paths; None if none is measurable."""
    seen: set[int] = set()
    table: list[tuple[int, str]] | None = None
    total: Usage | None = None
    for path in dict.fromkeys(paths):
        try:
            dev = os.stat(path).st_dev
            usage = None if dev in seen else statvfs_usage(path)
        except OSError:
            table = mounts() if table is None else table
            found = filesystem(path, table)
            if found is None:
                continue
            dev, usage = found
        if dev in seen or usage is None:
            continue
        seen.add(dev)
        total = usage if total is None else total + usage
    return total
