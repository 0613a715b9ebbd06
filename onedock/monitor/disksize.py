"""DISK_SIZE per VM disk: the root disk's writable layer and each volume disk, cached.

Docker computes these sizes by walking the files, so they are costly; measured here (Docker
20.10, overlay2, 2 cores, 20 containers with an 8 MiB file and 2000 small files in the
writable layer and a 4 MiB + 1000-file volume each): the plain container list a MONITOR_VM run
makes takes 3-4 ms, the same list with size=1 190-260 ms, /system/df (layers and volumes at
once) 350-370 ms, and both grow with the number of files. So one /system/df call (restricted
to containers and volumes where the engine knows `type`, API 1.42+; older engines ignore it)
refreshes a cache in state_dir at most every REFRESH seconds, or sooner (but not more often
than every RETRY seconds) when a running VM is not in it yet; every other run reads the cache.
"""

from __future__ import annotations

from onedock import names

REFRESH = 300  # s: disk usage changes slowly, and oned only shows it
RETRY = 60  # s: between two measurements at most (a new VM, or an engine that failed)
TIMEOUT = 20.0  # s: a measurement that takes longer is abandoned, the old figures stay
MB = 1 << 20


def due(cache: dict, live_ids: list[str], now: float) -> bool:
    if now - cache.get("tried", 0) < RETRY:
        return False
    if now - cache.get("at", 0) >= REFRESH:
        return True
    roots = cache.get("roots", {})
    return any(cid not in roots for cid in live_ids)


def measure(engine, cache: dict, now: float) -> dict:
    """A fresh cache from the engine; the old one (marked as tried) when the engine fails."""
    from onedock.errors import OneDockError

    try:
        usage = engine.get("/system/df", [("type", "container"), ("type", "volume")],
                           timeout=TIMEOUT)
    except OneDockError:
        return {**cache, "tried": now}
    roots = {box["Id"]: int(box.get("SizeRw") or 0) for box in usage.get("Containers") or []
             if names.LABEL_VMID in (box.get("Labels") or {})}
    volumes = {}
    for volume in usage.get("Volumes") or []:
        size = (volume.get("UsageData") or {}).get("Size", -1)
        if str(volume.get("Name", "")).startswith("one-") and isinstance(size, int) and size >= 0:
            volumes[volume["Name"]] = size
    return {"at": now, "tried": now, "roots": roots, "volumes": volumes}


def _owner(volume: str) -> tuple[int, str] | None:
    """one-42-disk.1 → (42, "disk.1"); one-42-vol-<hash> → (42, "vol"); else None."""
    vmid, _, rest = volume.removeprefix("one-").partition("-")
    if not (vmid.isascii() and vmid.isdigit() and len(vmid) < 10):
        return None
    if rest.startswith("disk.") and rest[5:].isascii() and rest[5:].isdigit():
        return int(vmid), rest
    return (int(vmid), "vol") if rest.startswith("vol-") else None


def by_vm(cache: dict) -> dict[int, dict[str, int]]:
    """Volume bytes per VM: {"disk.N": bytes} and "vol" for the image's own VOLUMEs."""
    out: dict[int, dict[str, int]] = {}
    for name, size in cache.get("volumes", {}).items():
        owner = _owner(name)
        if owner is not None:
            kinds = out.setdefault(owner[0], {})
            kinds[owner[1]] = kinds.get(owner[1], 0) + size
    return out


def disk_sizes(cache: dict, volumes: dict[str, int], cid: str, boot_disk: str
               ) -> list[tuple[int, int]]:
    """(disk id, MB) of one VM. The image's VOLUMEs belong to the root disk: they are its
    data, only kept outside the layer so that rebuilding the container keeps them."""
    out = {}
    root = cache.get("roots", {}).get(cid)
    if root is not None and boot_disk.isascii() and boot_disk.isdigit():
        out[int(boot_disk)] = root + volumes.get("vol", 0)
    for kind, size in volumes.items():
        if kind.startswith("disk.") and int(kind[5:]) not in out:
            out[int(kind[5:])] = size
    return [(disk_id, -(-size // MB)) for disk_id, size in sorted(out.items())]
