"""How onedock names what it creates, in one place: every action finds things by these names."""

from __future__ import annotations

LABEL = "org.opennebula.onedock"
LABEL_VMID = f"{LABEL}.vmid"
LABEL_DISK = f"{LABEL}.disk"
LABEL_ROLE = f"{LABEL}.role"
LABEL_SIZE = f"{LABEL}.size_mb"
LABEL_CONTEXT_ENV = f"{LABEL}.ctxenv"  # names of context variables set as environment
SCRATCH = ("onedock-scratch", "1")  # an empty local image: helper containers for volume I/O
VOLUME_MOUNT = "/volume"  # where volume-kind images keep their tree, and helpers mount volumes


def container(vmid: int) -> str:
    return f"one-{vmid}"


def disk_repo(vmid: int) -> str:
    """Local repository whose tags are a VM's image disks (`one-42:disk.0`), like disk.N files."""
    return f"one-{vmid}"


def disk_tag(disk_id: int) -> str:
    return f"disk.{disk_id}"


def volume(vmid: int, disk_id: int) -> str:
    return f"one-{vmid}-disk.{disk_id}"


def image_repo(prefix: str, image_id: int) -> str:
    """Registry repository owned by one OpenNebula image: its SOURCE."""
    return f"{prefix}/image-{image_id}"


def vm_repo(prefix: str, vmid: int) -> str:
    """Registry repository where a VM's disks are parked while it is stopped or moving."""
    return f"{prefix}/vm-{vmid}"


def backup_repo(prefix: str, vmid: int) -> str:
    """Registry repository of a VM's backups in an onedock backup datastore: tags
    `<backup id>-disk.<N>` and `<backup id>-vm`, the backup id being `<vmid>-<6 hex>`."""
    return f"{prefix}/backup-{vmid}"
