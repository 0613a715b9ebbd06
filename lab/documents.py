"""OpenNebula documents for driving onedock without oned: the smoke workflow and the tests.

Built from the protocol examples in sandbox/protocol (OpenNebula 6.10's element order), with
onedock's drivers, our image and a NIC on a bridge this machine owns.
"""

from __future__ import annotations

import ipaddress
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

PROTOCOL = Path(__file__).resolve().parent / "protocol"
HOST = "node01"


class Bridge:
    """A Linux bridge owned by the test, with the host's address on it.

    The range must be on no other interface of this machine, and an `unreachable` route for it
    (metric above the bridge's own) stays after the bridge is gone, so a packet for a test
    address never leaves the machine, whatever the default route.
    """

    def __init__(self, name: str, net: str):
        self.name = name
        self.net = ipaddress.IPv4Network(net)
        self.gateway = str(self.net.network_address + 1)
        self.remove()  # a leftover of an interrupted run: the name is ours
        guard_range(self.net)
        subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", f"{self.gateway}/{self.net.prefixlen}", "dev", name],
                       check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)

    def ip(self, n: int) -> str:
        return str(self.net.network_address + n)

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.name], check=False, capture_output=True)


def guard_range(net: ipaddress.IPv4Network) -> None:
    """Refuse a range another interface has; route it nowhere when no bridge of ours has it."""
    listing = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                             text=True, check=True).stdout
    for line in listing.splitlines():
        fields = line.split()
        if "inet" not in fields:
            continue
        there = ipaddress.IPv4Interface(fields[fields.index("inet") + 1]).network
        if there.overlaps(net):
            raise RuntimeError(f"test range {net} overlaps {there} on {fields[1]}: pick another")
    subprocess.run(["ip", "route", "replace", "unreachable", str(net), "metric", "4242"],
                   check=True)


def ds_xml(image_id: int = 7, path: str = "", source: str = "", size: int = 0,
           type_: int = 0, fs: str = "", storage: str = "", auth_file: str = "") -> str:
    """The protocol example's DS_DRIVER_ACTION_DATA with onedock's datastore and our image."""
    xml = (PROTOCOL / "ds_cp.xml").read_text()
    xml = xml.replace("<IMAGE><ID>7</ID>", f"<IMAGE><ID>{image_id}</ID>")
    xml = xml.replace("<SOURCE></SOURCE>", f"<SOURCE>{_esc(source)}</SOURCE>")
    xml = xml.replace("<PATH>/var/tmp/alpine-rootfs.raw</PATH>", f"<PATH>{_esc(path)}</PATH>")
    xml = xml.replace("<SIZE>256</SIZE>", f"<SIZE>{size}</SIZE>")
    xml = xml.replace("<TYPE>0</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>",
                      f"<TYPE>{type_}</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>")
    xml = xml.replace("<FS></FS>", f"<FS>{_esc(fs)}</FS>")
    xml = xml.replace("<DS_MAD>fs</DS_MAD><TM_MAD>ssh</TM_MAD>",
                      "<DS_MAD>onedock</DS_MAD><TM_MAD>onedock</TM_MAD>")
    if auth_file:
        xml = xml.replace("<TYPE>IMAGE_DS</TYPE></TEMPLATE>", "<TYPE>IMAGE_DS</TYPE>"
                          f"<REGISTRY_AUTH_FILE>{_esc(auth_file)}</REGISTRY_AUTH_FILE></TEMPLATE>")
    return xml


def backup_ds_stdin(vm_document: bytes, ds_id: int = 100) -> bytes:
    """Step 2 of a backup (protocol example E7) into an onedock backup datastore: the raw
    DS_DRIVER_ACTION_DATA with that datastore and our VM document."""
    xml = (PROTOCOL / "backup_ds_stdin.xml").read_bytes()
    start, end = xml.index(b"<VM>"), xml.rindex(b"</VM>") + len(b"</VM>")
    xml = xml[:start] + vm_document + xml[end:]
    return (xml.replace(b"<DS_MAD>rsync</DS_MAD>", b"<DS_MAD>onedock</DS_MAD>")
            .replace(b"<DATASTORE><ID>100</ID>", f"<DATASTORE><ID>{ds_id}</ID>".encode()))


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SERVE = ('["sh","-c","mkdir -p /www && echo $ONE_VMID > /www/index.html && '
         '(httpd -f -p 8080 -h /www &) && exec httpd -f -p 80 -h /www"]')


def vm_xml(vmid: int, source: str, bridge: Bridge, ip: int, *, memory=128, cpu="0.5", vcpu=1,
           command=SERVE, extra_disks=(), context_disk=1) -> str:
    root = ET.fromstring((PROTOCOL / "lxc_deployment.xml").read_text())
    root.find("ID").text = str(vmid)
    root.find("NAME").text = f"test-{vmid}"
    tmpl = root.find("TEMPLATE")
    tmpl.find("MEMORY").text = str(memory)
    tmpl.find("CPU").text = cpu
    ET.SubElement(tmpl, "VCPU").text = str(vcpu)
    d0 = tmpl.find("DISK")
    d0.find("SOURCE").text = source
    d0.find("TM_MAD").text = "onedock"
    for disk_id, target, extra in extra_disks:
        d = ET.SubElement(tmpl, "DISK")
        for key, value in {"DISK_ID": disk_id, "TARGET": target, "TM_MAD": "onedock",
                           "TYPE": "FS", **extra}.items():
            ET.SubElement(d, key).text = str(value)
    nic = tmpl.find("NIC")
    mac = "02:00:" + ":".join(f"{int(b):02x}" for b in bridge.ip(ip).split("."))
    nic.find("BRIDGE").text = bridge.name
    nic.find("IP").text = bridge.ip(ip)
    nic.find("MAC").text = mac
    nic.find("TARGET").text = f"one-{vmid}-0"
    ctx = tmpl.find("CONTEXT")
    ctx.find("DISK_ID").text = str(context_disk)
    ctx.find("ETH0_IP").text = bridge.ip(ip)
    ctx.find("ETH0_MAC").text = mac
    ET.SubElement(ctx, "ETH0_MASK").text = str(bridge.net.netmask)
    ET.SubElement(ctx, "ETH0_GATEWAY").text = bridge.gateway
    ET.SubElement(ctx, "HOSTNAME").text = f"vm{vmid}"
    ET.SubElement(ctx, "START_SCRIPT").text = "echo started > /tmp/start-script-ran"
    hist = root.find("HISTORY_RECORDS/HISTORY")
    hist.find("VM_MAD").text = "onedock"
    root.find("USER_TEMPLATE").find("HYPERVISOR").text = "onedock"
    if command:
        ET.SubElement(root.find("USER_TEMPLATE"), "DOCKER_COMMAND").text = command
    return ET.tostring(root, encoding="unicode")


def drv(vm: str, host: str = HOST, migr: str = "") -> bytes:
    """VMM_DRIVER_ACTION_DATA as one_vmm_exec writes it to a step's stdin."""
    migr_el = f"<MIGR_HOST>{migr}</MIGR_HOST>" if migr else "<MIGR_HOST/>"
    return (f"<VMM_DRIVER_ACTION_DATA><HOST>{host}</HOST>{migr_el}<DEPLOY_ID/>"
            f"<LOCAL_DEPLOYMENT_FILE/><REMOTE_DEPLOYMENT_FILE/><CHECKPOINT_FILE/><TM_COMMAND/>"
            f"<TM_COMMAND_ROLLBACK/><DISK_TARGET_PATH/>{vm}<DATASTORE><ID>0</ID></DATASTORE>"
            f"</VMM_DRIVER_ACTION_DATA>\n").encode()
