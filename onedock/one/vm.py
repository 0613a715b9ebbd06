"""The <VM> document (deployment file, vm.xml): the parts onedock acts on."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple
from xml.etree.ElementTree import Element

from onedock.errors import OneDockError
from onedock.one.xmldoc import decode_base64, flat, integer, parse, text


class Disk(NamedTuple):
    disk_id: int
    source: str
    tm_mad: str
    type: str
    image_id: int
    clone: bool
    target: str
    attrs: Mapping[str, str] = MappingProxyType({})


class Nic(NamedTuple):
    nic_id: int
    ip: str
    mac: str
    bridge: str
    attrs: Mapping[str, str] = MappingProxyType({})


class VM(NamedTuple):
    id: int
    name: str
    deploy_id: str
    cpu: float
    vcpu: int
    memory_mb: int
    disks: list[Disk]
    nics: list[Nic]
    context: dict[str, str]
    user_template: dict[str, str]
    ds_id: int
    hostname: str
    boot: str = ""
    context_disk: int = -1
    backup_mode: str = ""  # BACKUPS/BACKUP_CONFIG/MODE: FULL or INCREMENT (6.6+)

    def nic_context(self, nic_id: int, key: str) -> str:
        return self.context.get(f"ETH{nic_id}_{key}", "")


def _vm(doc: Element, what: str) -> VM:
    tmpl = doc.find("TEMPLATE")
    disks = [
        Disk(
            disk_id=integer(d, "DISK_ID", what),
            source=text(d, "SOURCE"),
            tm_mad=text(d, "TM_MAD"),
            type=text(d, "TYPE"),
            image_id=integer(d, "IMAGE_ID", what, -1),
            clone=text(d, "CLONE", "NO").upper() == "YES",
            target=text(d, "TARGET"),
            attrs=flat(d),
        )
        for d in (tmpl.findall("DISK") if tmpl is not None else [])
    ]
    nics = [
        Nic(
            nic_id=integer(n, "NIC_ID", what),
            ip=text(n, "IP"),
            mac=text(n, "MAC"),
            bridge=text(n, "BRIDGE"),
            attrs=flat(n),
        )
        for n in (tmpl.findall("NIC") if tmpl is not None else [])
    ]
    history = doc.find("HISTORY_RECORDS/HISTORY")
    try:
        cpu = float(text(tmpl, "CPU", "1") or "1")
    except ValueError as exc:
        raise OneDockError(f"{what}: CPU is not a number") from exc
    if not 0 < cpu < 4096:  # also refuses nan and inf
        raise OneDockError(f"{what}: CPU must be a positive number of CPUs, got {cpu}")
    return VM(
        id=integer(doc, "ID", what),
        name=text(doc, "NAME"),
        deploy_id=text(doc, "DEPLOY_ID"),
        cpu=cpu,
        vcpu=integer(tmpl, "VCPU", what, 0),
        memory_mb=integer(tmpl, "MEMORY", what, 0),
        disks=disks,
        nics=nics,
        context=flat(tmpl.find("CONTEXT") if tmpl is not None else None),
        user_template=flat(doc.find("USER_TEMPLATE")),
        ds_id=integer(history, "DS_ID", what, -1),
        hostname=text(history, "HOSTNAME"),
        boot=text(tmpl, "OS/BOOT"),
        context_disk=integer(tmpl, "CONTEXT/DISK_ID", what, -1),
        backup_mode=text(doc, "BACKUPS/BACKUP_CONFIG/MODE").upper(),
    )


def parse_vm(data: bytes | str, what: str = "VM document") -> VM:
    return _vm(parse(data, "VM", what), what)


def parse_vm_base64(data: bytes | str, what: str = "VM document") -> VM:
    return parse_vm(decode_base64(data, what), what)
