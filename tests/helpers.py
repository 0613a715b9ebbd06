"""Helpers shared by the engine tests: names of a VM's things, purging them, test bridges."""

from __future__ import annotations

from lab.images import purge_vm as purge  # noqa: F401 - the tests' name for it

FRONTEND = "one-fe"
HOST = "node01"
HOST2 = "node02"
DOWN = "node09"  # mapped to an engine socket that does not exist
SYS = "/var/lib/one//datastores/0"
VOL_LABEL = "org.opennebula.onedock.vmid"


def disk(vmid: int, n: int, host: str = HOST) -> str:
    return f"{host}:{SYS}/{vmid}/disk.{n}"


def vmdir(vmid: int, host: str = HOST) -> str:
    return f"{host}:{SYS}/{vmid}"


def tags(client, vmid: int) -> set[str]:
    return {t for i in client.images.list(name=f"one-{vmid}") for t in i.tags}


def volumes(client, vmid: int) -> set[str]:
    return {v.name for v in client.volumes.list(filters={"label": f"{VOL_LABEL}={vmid}"})}


def conf_with(text: str, **values: str) -> str:
    """The lab's config text with top-level string keys set, replacing the lab's own."""
    head, sep, tables = text.partition("[hosts]")
    kept = [line for line in head.splitlines() if line.split("=")[0].strip() not in values]
    kept += [f'{key} = "{value}"' for key, value in values.items()]
    return "\n".join(kept) + "\n" + sep + tables
