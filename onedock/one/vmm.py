"""VMM_DRIVER_ACTION_DATA: what oned sends with every VMM action (decoded, on stdin)."""

from __future__ import annotations

from typing import NamedTuple

from onedock.errors import OneDockError
from onedock.one.vm import VM, _vm
from onedock.one.xmldoc import parse, text


class VmmAction(NamedTuple):
    host: str
    migr_host: str
    deploy_id: str
    checkpoint_file: str
    vm: VM


def parse_vmm_action(data: bytes | str) -> VmmAction:
    what = "VMM_DRIVER_ACTION_DATA"
    doc = parse(data, "VMM_DRIVER_ACTION_DATA", what)
    vm_el = doc.find("VM")
    if vm_el is None:
        raise OneDockError(f"{what} lacks <VM>")
    return VmmAction(
        host=text(doc, "HOST"),
        migr_host=text(doc, "MIGR_HOST"),
        deploy_id=text(doc, "DEPLOY_ID"),
        checkpoint_file=text(doc, "CHECKPOINT_FILE"),
        vm=_vm(vm_el, what),
    )


def vm_from_stdin(data: bytes) -> VM:
    """deploy gets the deployment file (<VM>); other actions get VMM_DRIVER_ACTION_DATA."""
    head = data.lstrip()[:64]
    if head.startswith(b"<VM>") or head.startswith(b"<VM "):
        from onedock.one.vm import parse_vm

        return parse_vm(data, "deployment file")
    return parse_vmm_action(data).vm
