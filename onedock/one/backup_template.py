"""The VM template `oneimage restore` makes of an onedock backup: the backed-up VM's own
template with its disks replaced by the restored images, written in OpenNebula's template
syntax. What oned computed at run time (automatic requirements, NIC leases and bridges,
context values it derives from them) is left for oned to compute again for the new VM.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from onedock.one.xmldoc import parse

RUNTIME = {"AUTOMATIC_DS_REQUIREMENTS", "AUTOMATIC_NIC_REQUIREMENTS", "AUTOMATIC_REQUIREMENTS",
           "TEMPLATE_ID", "VMID", "SECURITY_GROUP_RULE", "ERROR", "SCHED_MESSAGE", "DISK",
           "NIC", "NIC_ALIAS", "CONTEXT", "SNAPSHOT", "TM_MAD_SYSTEM", "NUMA_NODE",
           "BACKUPS", "ORIGINAL_NAME"}
NIC_KEEP = ("NETWORK", "NETWORK_ID", "NETWORK_UNAME", "NETWORK_UID", "NETWORK_MODE", "MODEL",
            "RDP", "SSH", "SECURITY_GROUPS")
CONTEXT_DROP = ("DISK_ID", "TARGET")  # and every ETH<n>_* value oned derives from the NICs
VECTOR_DROP = {"GRAPHICS": ("PORT",), "OS": ("UUID",)}  # assigned to each VM anew


def vm_template(vm_xml: bytes, images: list[int], *, name: str, no_nic: bool,
                no_ip: bool) -> str:
    """`images` in disk order, the boot disk's first (OS/BOOT then names it disk0)."""
    vm = parse(vm_xml, "VM", "the backup's vm.xml")
    tmpl = vm.find("TEMPLATE")
    lines = [f"NAME = {_quote(name)}"]
    seen: set[str] = set()
    for child in list(tmpl) if tmpl is not None else []:
        if child.tag in RUNTIME:
            continue
        lines.append(_attribute(child))
        seen.add(child.tag)
    for image_id in images:
        lines.append(f"DISK = [ IMAGE_ID = {_quote(str(image_id))} ]")
    for nic in (tmpl.findall("NIC") if tmpl is not None and not no_nic else []):
        keep = [(k, nic.findtext(k) or "") for k in NIC_KEEP if nic.findtext(k)]
        if not no_ip and nic.findtext("IP"):
            keep.append(("IP", nic.findtext("IP") or ""))
        if keep:
            lines.append(_vector("NIC", keep))
    context = tmpl.find("CONTEXT") if tmpl is not None else None
    if context is not None:
        keep = [(c.tag, c.text or "") for c in context
                if c.tag not in CONTEXT_DROP and not (c.tag.startswith("ETH") and "_" in c.tag)]
        lines.append(_vector("CONTEXT", keep))
    user = vm.find("USER_TEMPLATE")
    for child in list(user) if user is not None else []:
        if child.tag not in seen and child.tag not in RUNTIME and len(child) == 0:
            lines.append(_attribute(child))
    return "\n".join(lines) + "\n"


def _attribute(element: Element) -> str:
    if len(element):
        values = [(c.tag, c.text or "") for c in element
                  if c.tag not in VECTOR_DROP.get(element.tag, ())]
        if element.tag == "OS":
            values = [(k, "disk0" if k == "BOOT" else v) for k, v in values]
        return _vector(element.tag, values)
    return f"{element.tag} = {_quote(element.text or '')}"


def _vector(key: str, values: list[tuple[str, str]]) -> str:
    inner = ",\n  ".join(f"{k} = {_quote(v)}" for k, v in values)
    return f"{key} = [\n  {inner} ]"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
