"""The smoke workflow through a real OpenNebula: its CLI, its oned, its scheduler and monitord.

Where `smoke.py` replays oned's protocol, this drives what a user types: datastores, a host,
an image registered from a registry standing in for Docker Hub, a bridged network, a VM that
answers on two ports at its IP, monitoring, live resize, poweroff with a disk snapshot, resume,
suspend/stop/undeploy and resume with the VM's files kept, disk-saveas, `onevm exec` (7.2+),
terminate, image delete, and then checks that nothing is left behind.

It needs an OpenNebula front-end whose CLI the environment points at (`ONE_LOCATION`/PATH,
`ONE_AUTH`, `ONE_XMLRPC`), onedock installed on it (`onedock install frontend`), and this
machine as its host (`onedock install host`), reachable by oned over ssh as HOST.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from lab import images as lab_images
from lab import registries
from lab.documents import SERVE, Bridge

BRIDGE, NET = "odone0", "10.217.0.0/24"
PREFIX = "onedock-smoke"


class StepFailed(RuntimeError):
    pass


def one_bin(name: str) -> str | None:
    """An OpenNebula command: $ONE_LOCATION/bin first (self-contained installs), then PATH."""
    location = os.environ.get("ONE_LOCATION", "")
    if location and os.access(Path(location) / "bin" / name, os.X_OK):
        return str(Path(location) / "bin" / name)
    return shutil.which(name)


def remotes_dir() -> Path:
    location = os.environ.get("ONE_LOCATION", "")
    return Path(location) / "var" / "remotes" if location else Path("/var/lib/one/remotes")


def datastores_dir() -> Path:
    location = os.environ.get("ONE_LOCATION", "")
    return Path(location) / "var" / "datastores" if location else Path("/var/lib/one/datastores")


def why_not() -> str:
    """'' when a real OpenNebula with onedock answers here, else what is missing."""
    if one_bin("onevm") is None:
        return "needs OpenNebula's CLI (a system install or ONE_LOCATION)"
    if not (remotes_dir() / "vmm" / "onedock" / "deploy").exists():
        return f"needs onedock installed into OpenNebula ({remotes_dir()}/vmm/onedock)"
    try:
        proc = subprocess.run([one_bin("onehost"), "list", "-x"], capture_output=True,
                              text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "oned does not answer (onehost list timed out)"
    if proc.returncode != 0:
        return f"oned does not answer: {' '.join(proc.stderr.split())[:200]}"
    return ""


@dataclass
class Cloud:
    """A handle on the front-end's CLI; every call is an argv, every wait is bounded."""

    host: str = "localhost"
    timeout: float = 180.0
    log: list[str] = field(default_factory=list)

    def run(self, command: str, *args: str, check: bool = True) -> str:
        argv = [one_bin(command) or command, *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise StepFailed(f"{command} {' '.join(args)}: {' '.join(proc.stderr.split())}"
                             f"{' '.join(proc.stdout.split())}"[:600])
        return proc.stdout

    def xml(self, command: str, *args: str) -> ET.Element:
        return ET.fromstring(self.run(command, *args, "-x"))

    def create(self, command: str, template: str, *args: str) -> int:
        with tempfile.NamedTemporaryFile("w", suffix=".tmpl", delete=False) as handle:
            handle.write(template)
        try:
            out = self.run(command, "create", handle.name, *args)
        finally:
            os.unlink(handle.name)
        return int(out.strip().split()[-1])

    def version(self) -> tuple[int, int]:
        """The front-end's release, from the VERSION file of its remotes tree."""
        import re

        text = (remotes_dir() / "VERSION").read_text()
        found = re.match(r"\s*(\d+)\.(\d+)", text)
        if not found:
            raise StepFailed(f"cannot read OpenNebula's version from {remotes_dir()}/VERSION")
        return int(found.group(1)), int(found.group(2))

    def wait(self, what: str, check, timeout: float | None = None, every: float = 1.0):
        deadline = time.monotonic() + (timeout or self.timeout)
        last = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(every)
        raise StepFailed(f"timed out waiting for {what}")

    def vm_state(self, vmid: int) -> str:
        doc = self.xml("onevm", "show", str(vmid))
        state, lcm = doc.findtext("STATE"), doc.findtext("LCM_STATE")
        names = {"1": "PENDING", "2": "HOLD", "4": "STOPPED", "5": "SUSPENDED", "6": "DONE",
                 "8": "POWEROFF", "9": "UNDEPLOYED"}
        if state == "3":
            return {"3": "RUNNING"}.get(lcm, f"ACTIVE/{lcm}")
        return names.get(state, f"STATE/{state}")

    def wait_vm(self, vmid: int, wanted: str, timeout: float | None = None) -> None:
        def check():
            state = self.vm_state(vmid)
            if "FAILURE" in state or state in ("ACTIVE/14", "ACTIVE/16", "ACTIVE/36"):
                raise StepFailed(f"VM {vmid} failed: {state}: {self._vm_error(vmid)}")
            return state == wanted
        try:
            self.wait(f"VM {vmid} {wanted}", check, timeout)
        except StepFailed as exc:
            raise StepFailed(f"{exc} (state {self.vm_state(vmid)}; {self._vm_error(vmid)})") \
                from None

    def _vm_error(self, vmid: int) -> str:
        doc = self.xml("onevm", "show", str(vmid))
        return " ".join((doc.findtext("USER_TEMPLATE/ERROR") or "no error").split())[:300]


class Workflow:
    """Each step prints its duration; the first failure stops the run and cleanup still runs."""

    def __init__(self, cloud: Cloud, hub: str):
        self.cloud = cloud
        self.hub = hub
        self.made: list[tuple[str, int]] = []  # (command, id) to delete, newest last
        self.bridge: Bridge | None = None
        self.results: list[tuple[str, float, str]] = []

    def step(self, title: str, func):
        started = time.perf_counter()
        try:
            note = func() or ""
        except Exception as exc:
            took = time.perf_counter() - started
            self.results.append((title, took, f"FAIL {exc}"))
            print(f"[FAIL] {title}  ({took:.1f}s)\n       {exc}", flush=True)
            raise
        took = time.perf_counter() - started
        self.results.append((title, took, note))
        print(f"[ok  ] {title}  ({took:.1f}s){'  ' + note if note else ''}", flush=True)

    # -- the steps ---------------------------------------------------------------------------

    def run(self) -> None:
        c = self.cloud
        self.version = c.version()
        print(f"OpenNebula {self.version[0]}.{self.version[1]} via {one_bin('onevm')}")
        self.step("datastores", self.datastores)
        self.step(f"host {c.host} MONITORED with capacity", self.host)
        self.step("oneimage create --path docker://... READY", self.image)
        self.step("bridged network", self.network)
        self.step("onevm create RUNNING", self.vm)
        self.step("two ports answer at the VM's IP", self.reach)
        self.step("monitoring in onevm show", self.monitoring)
        self.step("onevm resize (live)", self.resize)
        self.step("onevm poweroff", lambda: self.lifecycle("poweroff", "POWEROFF"))
        self.step("onevm disk-snapshot-create (poweroff)", self.disk_snapshot)
        self.step("onevm resume", lambda: self.lifecycle("resume", "RUNNING"))
        self.step("reach after resume", self.reach)
        self.step("a file written in the VM", self.mark)
        if self.others:
            other = sorted(self.others)[0]
            self.step(f"onevm migrate to {other} and back: the file and both ports each time",
                      lambda: self.migrate(other))
        self.step("onevm backup (live) into an rsync backup datastore", self.backup_rsync)
        self.step("oneimage restore of it, a VM of it RUNNING with the file",
                  lambda: self.restore_boot(self.rsync_backup, "rsync"))
        self.step("onevm backup (live) into an onedock backup datastore",
                  self.backup_registry)
        self.step("oneimage restore of it, a VM of it RUNNING with the file",
                  lambda: self.restore_boot(self.registry_backup, "registry"))
        for label in ("rsync", "registry"):
            self.step(f"onevm restore (in place) from the {label} backup: the file as it was",
                      lambda label=label: self.restore_in_place(label))
        self.step("oneimage delete of both backups", self.backup_delete)
        self.step("onebackupjob, KEEP_LAST=1, run twice: one backup left", self.backup_job)
        for verb, state in (("suspend", "SUSPENDED"), ("stop", "STOPPED"),
                            ("undeploy", "UNDEPLOYED")):
            self.step(f"onevm {verb}, resume: the file and both ports are back",
                      lambda verb=verb, state=state: self.round_trip(verb, state))
        self.step("onevm disk-saveas (poweroff) READY, then deleted", self.saveas)
        if self.version >= (7, 2):
            self.step("onevm exec", self.exec)
        self.step("onevm terminate", self.terminate)
        self.step("oneimage delete", self.image_delete)
        self.step("nothing left on the host", self.nothing_left)

    def datastores(self) -> str:
        c = self.cloud
        self.system_ds = c.create("onedatastore", f'NAME="{PREFIX}-system"\nTYPE="SYSTEM_DS"\n'
                                  'TM_MAD="onedock"\n')
        self.made.append(("onedatastore", self.system_ds))
        self.image_ds = c.create("onedatastore", f'NAME="{PREFIX}-images"\nDS_MAD="onedock"\n'
                                 'TM_MAD="onedock"\n')
        self.made.append(("onedatastore", self.image_ds))
        return f"system {self.system_ds}, images {self.image_ds}"

    def host(self) -> str:
        c = self.cloud
        known = self.onedock_hosts()
        if c.host in known:  # a front-end that has it already (the sandbox's): used, kept
            self.host_id = known.pop(c.host)
        else:
            out = c.run("onehost", "create", c.host, "-i", "onedock", "-v", "onedock")
            self.host_id = int(out.strip().split()[-1])
            self.made.append(("onehost", self.host_id))
        self.others = known  # where `onevm migrate` can take the VM

        def monitored():
            doc = c.xml("onehost", "show", str(self.host_id))
            state = doc.findtext("STATE")
            if state == "3":
                raise StepFailed("host in ERROR: " + " ".join(
                    (doc.findtext("TEMPLATE/ERROR") or "").split())[:300])
            return state == "2" and doc
        doc = c.wait("host MONITORED", monitored)
        cpu = int(doc.findtext("HOST_SHARE/TOTAL_CPU") or 0)
        mem = int(doc.findtext("HOST_SHARE/TOTAL_MEM") or 0)
        if cpu <= 0 or mem <= 0:
            raise StepFailed(f"no capacity: TOTAL_CPU={cpu} TOTAL_MEM={mem}")
        return f"TOTAL_CPU={cpu} TOTAL_MEM={mem // 1024} MB"

    def onedock_hosts(self) -> dict[str, int]:
        """Hosts with the onedock drivers, MONITORED, by name."""
        pool = self.cloud.xml("onehost", "list")
        return {h.findtext("NAME"): int(h.findtext("ID")) for h in pool.findall("HOST")
                if h.findtext("VM_MAD") == "onedock" and h.findtext("STATE") == "2"}

    def image(self) -> str:
        c = self.cloud
        ref = f"docker://{self.hub}/library/busybox:latest"
        out = c.run("oneimage", "create", "-d", str(self.image_ds), "--name",
                    f"{PREFIX}-busybox", "--path", ref)
        self.image_id = int(out.strip().split()[-1])
        self.made.append(("oneimage", self.image_id))

        def ready():
            doc = c.xml("oneimage", "show", str(self.image_id))
            if doc.findtext("STATE") == "5":
                raise StepFailed("image ERROR: " + (doc.findtext("TEMPLATE/ERROR") or ""))
            return doc.findtext("STATE") == "1" and doc
        doc = c.wait("image READY", ready, 120)
        return f"SOURCE={doc.findtext('SOURCE')} from --path {ref}"

    def network(self) -> str:
        shared = os.environ.get("ONEDOCK_SMOKE_NETWORK", "")
        if shared:  # a network every host's bridge reaches (the sandbox's, with --nodes)
            doc = self.cloud.xml("onevnet", "show", shared)
            self.net_id = int(doc.findtext("ID"))
            return f"{shared} ({doc.findtext('BRIDGE')}), as given"
        self.bridge = Bridge(BRIDGE, NET)
        self.net_id = self.cloud.create("onevnet", (
            f'NAME="{PREFIX}-net"\nVN_MAD="bridge"\nBRIDGE="{BRIDGE}"\n'
            f'NETWORK_ADDRESS="{self.bridge.net.network_address}"\n'
            f'NETWORK_MASK="{self.bridge.net.netmask}"\nGATEWAY="{self.bridge.gateway}"\n'
            f'AR=[TYPE="IP4", IP="{self.bridge.ip(10)}", SIZE="8"]\n'))
        self.made.append(("onevnet", self.net_id))
        return f"{BRIDGE} {NET}"

    def vm(self) -> str:
        c = self.cloud
        command = SERVE.replace('"', '\\"')
        self.vmid = c.create("onevm", (
            f'NAME="{PREFIX}-vm"\nCPU="0.5"\nVCPU="1"\nMEMORY="128"\n'
            f'DISK=[IMAGE_ID="{self.image_id}"]\nNIC=[NETWORK_ID="{self.net_id}"]\n'
            f'CONTEXT=[NETWORK="YES", SET_HOSTNAME="smoke"]\n'
            f'SCHED_REQUIREMENTS="ID={self.host_id}"\n'
            f'SCHED_DS_REQUIREMENTS="ID={self.system_ds}"\nDOCKER_COMMAND="{command}"\n'))
        self.made.append(("onevm", self.vmid))
        started = time.perf_counter()
        c.wait_vm(self.vmid, "RUNNING")
        doc = c.xml("onevm", "show", str(self.vmid))
        self.ip = doc.findtext("TEMPLATE/NIC/IP")
        return f"VM {self.vmid} at {self.ip} in {time.perf_counter() - started:.1f}s"

    def reach(self) -> str:
        for port in (80, 8080):
            def answer(port=port):
                try:
                    with urllib.request.urlopen(f"http://{self.ip}:{port}/", timeout=2) as r:
                        return r.read().decode().strip()
                except OSError:
                    return ""
            body = self.cloud.wait(f"{self.ip}:{port}", answer, 60)
            if body != str(self.vmid):
                raise StepFailed(f"{self.ip}:{port} answered {body!r}, not the VM id")
        return f"{self.ip}:80 and :8080"

    def monitoring(self) -> str:
        def figures():
            doc = self.cloud.xml("onevm", "show", str(self.vmid))
            cpu, mem = doc.findtext("MONITORING/CPU"), doc.findtext("MONITORING/MEMORY")
            return cpu is not None and mem is not None and int(mem) > 0 and (cpu, mem)
        cpu, mem = self.cloud.wait("MONITORING CPU and MEMORY", figures, 150, every=3)
        return f"CPU={cpu} MEMORY={mem} KB"

    def resize(self) -> str:
        c = self.cloud
        c.run("onevm", "resize", str(self.vmid), "--cpu", "1", "--memory", "192")
        c.wait_vm(self.vmid, "RUNNING")
        limits = self._container()["HostConfig"]

        def applied():
            return self._container()["HostConfig"]["Memory"] == 192 << 20
        c.wait("the container's new memory limit", applied, 30)
        return f"Memory={limits['Memory'] >> 20} MB NanoCpus={limits.get('NanoCpus')}"

    def lifecycle(self, verb: str, state: str) -> str:
        self.cloud.run("onevm", verb, str(self.vmid))
        self.cloud.wait_vm(self.vmid, state)
        return ""

    def disk_snapshot(self) -> str:
        c = self.cloud
        c.run("onevm", "disk-snapshot-create", str(self.vmid), "0", "smoke1")

        def listed():
            doc = c.xml("onevm", "show", str(self.vmid))
            return self.cloud.vm_state(self.vmid) == "POWEROFF" and \
                doc.find("SNAPSHOTS/SNAPSHOT") is not None
        c.wait("disk snapshot listed", listed, 120)
        return ""

    def mark(self) -> str:
        self.marker = f"/root/onedock-smoke-{self.vmid}"
        subprocess.run(["docker", "exec", f"one-{self.vmid}", "sh", "-c",
                        f"echo kept > {self.marker}"], check=True, capture_output=True)
        return self.marker

    def check_mark(self, when: str) -> None:
        out = subprocess.run(["docker", "exec", f"one-{self.vmid}", "cat", self.marker],
                             capture_output=True, text=True)
        if out.stdout.strip() != "kept":
            raise StepFailed(f"{when} {self.marker} is gone: {out.stderr.strip()}")

    def migrate(self, other: str) -> str:
        c = self.cloud
        times = []
        for target, target_id in ((other, self.others[other]), (c.host, self.host_id)):
            started = time.perf_counter()
            c.run("onevm", "migrate", str(self.vmid), str(target_id))

            def arrived(target_id=target_id):
                doc = c.xml("onevm", "show", str(self.vmid))
                return (doc.findtext("STATE") == "3" and doc.findtext("LCM_STATE") == "3"
                        and doc.findtext("HISTORY_RECORDS/HISTORY[last()]/HID")
                        == str(target_id))
            c.wait(f"VM {self.vmid} RUNNING on {target}", arrived)
            self.reach()
            if target_id == self.host_id:  # the engine here sees only this host's containers
                self.check_mark("after migrating there and back")
            times.append(f"{target} {time.perf_counter() - started:.1f}s")
        return ", ".join(times)

    def backup_rsync(self) -> str:
        import pwd

        owner = pwd.getpwuid(datastores_dir().stat().st_uid).pw_name  # the user oned runs as
        ds = self.cloud.create("onedatastore", f'NAME="{PREFIX}-rsync"\nTYPE="BACKUP_DS"\n'
                               f'DS_MAD="rsync"\nRSYNC_HOST="{self.cloud.host}"\n'
                               f'RSYNC_USER="{owner}"\n')
        self.made.append(("onedatastore", ds))
        self.rsync_backup = self._backup(ds)
        source = self.cloud.xml("oneimage", "show", str(self.rsync_backup)).findtext("SOURCE")
        files = sorted(os.listdir(datastores_dir() / str(ds) / str(self.vmid) / source))
        if "vm.xml" not in files or "disk.0.0" not in files:
            raise StepFailed(f"the rsync datastore holds {files}, not vm.xml and disk.0.0")
        return f"image {self.rsync_backup}: {', '.join(files)}"

    def backup_registry(self) -> str:
        ds = self.cloud.create("onedatastore", f'NAME="{PREFIX}-registry-backups"\n'
                               'TYPE="BACKUP_DS"\nDS_MAD="onedock"\n')
        self.made.append(("onedatastore", ds))
        self.registry_ds = ds
        self.registry_backup = self._backup(ds)
        doc = self.cloud.xml("oneimage", "show", str(self.registry_backup))
        return f"image {self.registry_backup} SOURCE={doc.findtext('SOURCE')}"

    def backup_job(self) -> str:
        c = self.cloud
        job = c.create("onebackupjob", f'NAME="{PREFIX}-job"\nBACKUP_VMS="{self.vmid}"\n'
                       f'DATASTORE_ID="{self.registry_ds}"\nKEEP_LAST="1"\nMODE="FULL"\n')
        self.made.append(("onebackupjob", job))
        first = self._backup(self.registry_ds, ["onebackupjob", "backup", str(job)])
        second = self._backup(self.registry_ds, ["onebackupjob", "backup", str(job)])

        def retired():
            return subprocess.run([one_bin("oneimage"), "show", str(first)],
                                  capture_output=True).returncode != 0
        c.wait(f"KEEP_LAST=1 deleting backup image {first}", retired, 120)
        self.made.remove(("oneimage", first))
        c.run("oneimage", "delete", str(second))
        c.wait(f"backup image {second} deleted", lambda: subprocess.run(
            [one_bin("oneimage"), "show", str(second)], capture_output=True).returncode != 0, 60)
        self.made.remove(("oneimage", second))
        return f"job {job}: images {first}, {second}; {first} retired by KEEP_LAST"

    def _backup(self, ds: int, command: list[str] | None = None) -> int:
        """`onevm backup` of the running VM into ds (or `command`, a backup job's run); the
        backup image, once READY."""
        c = self.cloud
        before = {i.text for i in c.xml("onevm", "show", str(self.vmid)).findall(
            "BACKUPS/BACKUP_IDS/ID")}
        c.run(*(command or ["onevm", "backup", str(self.vmid), "-d", str(ds)]))

        def done():
            doc = c.xml("onevm", "show", str(self.vmid))
            new = {i.text for i in doc.findall("BACKUPS/BACKUP_IDS/ID")} - before
            return c.vm_state(self.vmid) == "RUNNING" and new and int(new.pop())
        image = c.wait("the backup image", done, 180)
        self.made.append(("oneimage", image))

        def ready():
            doc = c.xml("oneimage", "show", str(image))
            if doc.findtext("STATE") == "5":
                raise StepFailed("backup image ERROR: " + (doc.findtext("TEMPLATE/ERROR") or ""))
            return doc.findtext("STATE") == "1"
        c.wait("backup image READY", ready, 120)
        return image

    def restore_boot(self, backup: int, label: str) -> str:
        c = self.cloud
        out = c.run("oneimage", "restore", str(backup), "-d", str(self.image_ds), "--no_ip",
                    "--name", f"{PREFIX}-{label}")
        template = int(out.split("VM Template:")[1].split()[0])
        images = [int(n) for n in out.split("Images:")[1].split()]
        self.made += [("oneimage", i) for i in images] + [("onetemplate", template)]
        for image in images:
            c.wait(f"restored image {image} READY", lambda image=image: c.xml(
                "oneimage", "show", str(image)).findtext("STATE") == "1", 180)
        out = c.run("onetemplate", "instantiate", str(template))
        vmid = int(out.strip().split()[-1])
        self.made.append(("onevm", vmid))
        c.wait_vm(vmid, "RUNNING")
        got = subprocess.run(["docker", "exec", f"one-{vmid}", "cat", self.marker],
                             capture_output=True, text=True)
        if got.stdout.strip() != "kept":
            raise StepFailed(f"the restored VM {vmid} lacks {self.marker}: {got.stderr.strip()}")
        c.run("onevm", "terminate", str(vmid))
        c.wait_vm(vmid, "DONE")
        self.made.remove(("onevm", vmid))
        return f"template {template}, images {images}, VM {vmid} had {self.marker}"

    def restore_in_place(self, label: str) -> str:
        backup = self.rsync_backup if label == "rsync" else self.registry_backup
        subprocess.run(["docker", "exec", f"one-{self.vmid}", "sh", "-c",
                        f"echo changed > {self.marker}"], check=True, capture_output=True)
        self.lifecycle("poweroff", "POWEROFF")
        self.cloud.run("onevm", "restore", str(self.vmid), str(backup))
        self.cloud.wait_vm(self.vmid, "POWEROFF")
        self.lifecycle("resume", "RUNNING")
        self.reach()
        got = subprocess.run(["docker", "exec", f"one-{self.vmid}", "cat", self.marker],
                             capture_output=True, text=True).stdout.strip()
        if got != "kept":
            raise StepFailed(f"after onevm restore {self.marker} holds {got!r}, not 'kept'")
        return f"from backup image {backup}"

    def backup_delete(self) -> str:
        for image in (self.rsync_backup, self.registry_backup):
            self.cloud.run("oneimage", "delete", str(image))
            self.cloud.wait(f"backup image {image} deleted", lambda image=image: subprocess.run(
                [one_bin("oneimage"), "show", str(image)], capture_output=True).returncode != 0,
                60)
            self.made.remove(("oneimage", image))
        return ""

    def round_trip(self, verb: str, state: str) -> str:
        started = time.perf_counter()
        self.lifecycle(verb, state)
        down = time.perf_counter() - started
        started = time.perf_counter()
        self.lifecycle("resume", "RUNNING")
        up = time.perf_counter() - started
        self.reach()
        self.check_mark(f"after {verb} and resume")
        return f"{verb} {down:.1f}s, resume {up:.1f}s"

    def saveas(self) -> str:
        c = self.cloud
        self.lifecycle("poweroff", "POWEROFF")
        out = c.run("onevm", "disk-saveas", str(self.vmid), "0", f"{PREFIX}-saved")
        saved = int(out.strip().split()[-1])
        self.made.append(("oneimage", saved))

        def ready():
            doc = c.xml("oneimage", "show", str(saved))
            if doc.findtext("STATE") == "5":
                raise StepFailed("saved image ERROR: " + (doc.findtext("TEMPLATE/ERROR") or ""))
            return doc.findtext("STATE") == "1" and doc
        doc = c.wait("saved image READY", ready, 120)
        c.wait_vm(self.vmid, "POWEROFF")
        c.run("oneimage", "delete", str(saved))
        c.wait("saved image deleted", lambda: subprocess.run(
            [one_bin("oneimage"), "show", str(saved)], capture_output=True).returncode != 0, 60)
        self.made.remove(("oneimage", saved))
        self.lifecycle("resume", "RUNNING")
        return f"image {saved} SOURCE={doc.findtext('SOURCE')}"

    def exec(self) -> str:
        c = self.cloud
        c.run("onevm", "exec", str(self.vmid), "echo hello from $(hostname)")

        def done():
            doc = c.xml("onevm", "show", str(self.vmid))
            status = doc.findtext("TEMPLATE/QEMU_GA_EXEC/STATUS")
            return status not in (None, "EXECUTING") and doc
        doc = c.wait("exec result", done, 60)
        out = base64.b64decode(doc.findtext("TEMPLATE/QEMU_GA_EXEC/STDOUT") or "").decode()
        status = doc.findtext("TEMPLATE/QEMU_GA_EXEC/STATUS")
        if status != "DONE" or "hello from" not in out:
            raise StepFailed(f"exec ended {status} with stdout {out!r}")
        return f"STATUS={status} STDOUT={out.strip()!r}"

    def terminate(self) -> str:
        self.cloud.run("onevm", "terminate", str(self.vmid))
        self.cloud.wait_vm(self.vmid, "DONE")
        return ""

    def image_delete(self) -> str:
        c = self.cloud
        c.run("oneimage", "delete", str(self.image_id))

        def gone():
            return subprocess.run([one_bin("oneimage"), "show", str(self.image_id)],
                                  capture_output=True).returncode != 0
        c.wait("image deleted", gone, 60)
        self.made.remove(("oneimage", self.image_id))
        return ""

    def nothing_left(self) -> str:
        left = []
        docker = ["docker"]
        out = subprocess.run([*docker, "ps", "-a", "--format", "{{.Names}}"],
                             capture_output=True, text=True).stdout.split()
        left += [f"container {n}" for n in out if n == f"one-{self.vmid}"]
        out = subprocess.run([*docker, "volume", "ls", "--format", "{{.Name}}"],
                             capture_output=True, text=True).stdout.split()
        left += [f"volume {n}" for n in out if n.startswith(f"one-{self.vmid}-")]
        out = subprocess.run([*docker, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                             capture_output=True, text=True).stdout.split()
        left += [f"image {n}" for n in out if n.startswith(f"one-{self.vmid}:")
                 or f"/image-{self.image_id}" in n or f"/vm-{self.vmid}" in n]
        vm_dir = datastores_dir() / str(self.system_ds) / str(self.vmid)
        if vm_dir.exists():
            left.append(f"directory {vm_dir} ({', '.join(sorted(os.listdir(vm_dir)))})")
        links = os.listdir("/sys/class/net")
        left += [f"interface {n}" for n in links if n.startswith(f"one-{self.vmid}-")]
        left += self._registry_left()
        if left:
            raise StepFailed("left behind: " + "; ".join(left))
        return "no container, volume, image copy, directory, veth or registry tag"

    def _registry_left(self) -> list[str]:
        """Tags still in the private registry for the VM's parked disks or the image."""
        from onedock import config, names

        cfg = config.load(str(remotes_dir()))
        scheme = "http" if cfg.registry_insecure else "https"
        left = []
        for repo in (names.vm_repo(cfg.prefix, self.vmid),
                     names.image_repo(cfg.prefix, self.image_id),
                     names.backup_repo(cfg.prefix, self.vmid)):
            try:
                with urllib.request.urlopen(f"{scheme}://{cfg.registry}/v2/{repo}/tags/list",
                                            timeout=5) as resp:
                    tags = json.loads(resp.read()).get("tags") or []
            except urllib.error.HTTPError as err:
                if err.code != 404:
                    raise
                tags = []
            left += [f"registry tag {repo}:{tag}" for tag in tags]
        return left

    def _container(self) -> dict:
        proc = subprocess.run(["docker", "inspect", f"one-{self.vmid}"], capture_output=True,
                              text=True, check=True)
        return json.loads(proc.stdout)[0]

    def cleanup(self) -> None:
        """Delete what the run made, newest first, whatever state it reached."""
        for command, oid in reversed(self.made):
            if command == "onevm":
                self.cloud.run("onevm", "recover", "--delete", str(oid), check=False)
                try:
                    self.cloud.wait(f"VM {oid} gone", lambda oid=oid: self.cloud.vm_state(oid)
                                    == "DONE", 60)
                except Exception as exc:  # noqa: BLE001 - cleanup goes on
                    print(f"cleanup: {exc}")
            elif command == "onehost":
                self.cloud.run("onehost", "delete", str(oid), check=False)
            else:
                self.cloud.run(command, "delete", str(oid), check=False)
                if command == "oneimage":
                    time.sleep(3)
        if self.bridge is not None:
            self.bridge.remove()


def run(host: str = "localhost") -> int:
    """Start a stand-in Docker Hub, run the workflow, clean up; 0 when every step passed."""
    reason = why_not()
    if reason:
        print(f"no OpenNebula here: {reason}")
        return 2
    import docker

    client = docker.from_env()
    hub = registries.RegistryProcess(registries.temp_root("onedock-one-smoke-")).start()
    flow = Workflow(Cloud(host=host), hub.host)
    try:
        lab_images.build_images(client, hub.host, layers=1, layer_mb=1)
        flow.run()
        return 0
    except StepFailed:
        return 1
    finally:
        flow.cleanup()
        lab_images.remove_images(client, (hub.host,))
        hub.stop()
        client.close()
