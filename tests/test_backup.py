"""Backups of onedock VMs into the stock backup datastores (rsync, restic): TM prebackup,
prebackup_live, postbackup and postbackup_live with oned's argv and stdin (digest §12), against
the real engine. The host is this machine, so the layout the datastore would collect is read
here from <sysdir>/backup."""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from lab.documents import backup_ds_stdin, ds_xml, vm_xml
from tests.conftest import FRONTEND, HOST
from tests.helpers import disk, purge
from tests.test_vmm import deploy

SYS = Path("/var/lib/one/datastores/0")


def _argv(vmid: int, disks: str = "0:2") -> list[str]:
    return [f"{HOST}:/var/lib/one//datastores/0/{vmid}", disks, f"one-{vmid}", "-", str(vmid),
            "0"]


@pytest.fixture
def running(shims, bridges, staged, image_source, docker_client):
    """A running VM with a file in its root disk and one in its datablock (disk.2 at /data)."""
    vmid = staged
    assert shims.tm("mkimage", "16", "raw", disk(vmid, 2), str(vmid), "0").rc == 0
    xml = vm_xml(vmid, image_source, bridges[0], 31,
                 extra_disks=[(2, "vdb", {"MOUNTPOINT": "/data"})])
    res = deploy(shims, vmid, xml)
    assert res.rc == 0, res.stderr
    box = docker_client.containers.get(f"one-{vmid}")
    assert box.exec_run(["sh", "-c", "echo in-root > /root/rootfile && "
                                     "echo in-volume > /data/f"]).exit_code == 0
    yield vmid, xml.encode(), box
    shutil.rmtree(SYS / str(vmid), ignore_errors=True)


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _nothing_left(docker_client, vmid: int) -> None:
    assert not (SYS / str(vmid) / "backup").exists()
    assert not docker_client.images.list(filters={"reference": f"one-{vmid}:backup"})
    assert not docker_client.containers.list(all=True, filters={"label": [
        f"org.opennebula.onedock.vmid={vmid}", "org.opennebula.onedock.role=helper"]})


def test_a_live_backup_leaves_the_stock_layout_and_the_vm_running(shims, running,
                                                                   docker_client):
    vmid, document, box = running
    res = shims.tm("prebackup_live", *_argv(vmid), stdin=document)
    assert res.rc == 0, res.stderr
    assert f"VM {vmid} paused" in res.stderr
    paused = float(res.stderr.split(" paused ")[1].split()[0])
    backup = SYS / str(vmid) / "backup"
    assert sorted(p.name for p in backup.iterdir()) == ["disk.0.0", "disk.2.0", "vm.xml"]
    raw = (backup / "vm.xml").read_bytes()
    assert all(len(line) <= 60 for line in raw.splitlines()) and raw.endswith(b"\n\n")
    assert base64.b64decode(raw) == document
    root = _members(backup / "disk.0.0")
    assert root["root/rootfile"] == b"in-root\n"
    assert "bin/busybox" in root or "bin/sh" in root  # the image's layers, merged
    assert _members(backup / "disk.2.0")["volume/f"] == b"in-volume\n"
    box.reload()
    assert box.status == "running"
    print(f"live backup: VM paused {paused:.3f} s")

    res = shims.tm("postbackup_live", *_argv(vmid), stdin=document)
    assert (res.rc, res.stdout, res.stderr) == (0, "", "")
    _nothing_left(docker_client, vmid)
    res = shims.tm("postbackup_live", *_argv(vmid), stdin=document)  # nothing to clean
    assert (res.rc, res.stdout, res.stderr) == (0, "", "")


def test_a_powered_off_backup_and_one_of_only_the_volume(shims, running, docker_client):
    vmid, document, box = running
    assert shims.vmm("shutdown", f"one-{vmid}", HOST, str(vmid), HOST).rc == 0
    res = shims.tm("prebackup", *_argv(vmid, "2"), stdin=document)
    assert (res.rc, res.stderr) == (0, ""), res.stderr
    backup = SYS / str(vmid) / "backup"
    assert sorted(p.name for p in backup.iterdir()) == ["disk.2.0", "vm.xml"]
    assert shims.tm("postbackup", *_argv(vmid, "2"), stdin=document).rc == 0
    _nothing_left(docker_client, vmid)


def test_refusals_are_one_line_and_leave_nothing(shims, running, docker_client, new_id):
    vmid, document, box = running
    increment = document.replace(b"</VM>", b"<BACKUPS><BACKUP_CONFIG><MODE>INCREMENT</MODE>"
                                 b"</BACKUP_CONFIG></BACKUPS></VM>")
    res = shims.tm("prebackup_live", *_argv(vmid), stdin=increment)
    assert res.rc == 1 and "incremental backups" in res.error_line
    res = shims.tm("prebackup_live", *_argv(vmid, "0:7"), stdin=document)
    assert res.rc == 1 and "disk 7" in res.error_line
    other = new_id()
    res = shims.tm("prebackup_live", *_argv(other), stdin=document)
    assert res.rc == 1 and f"not VM {other}'s" in res.error_line
    gone = document.replace(f"<ID>{vmid}</ID>".encode(), f"<ID>{other}</ID>".encode(), 1)
    res = shims.tm("prebackup_live", *_argv(other), stdin=gone)
    assert res.rc == 1 and "is not on" in res.error_line
    for leftover in (vmid, other):
        _nothing_left(docker_client, leftover)
    box.reload()
    assert box.status == "running"


def test_a_killed_live_backup_then_postbackup_leaves_the_vm_running(shims, running,
                                                                     docker_client):
    """oned runs postbackup after a failed (or cancelled) prebackup: it must unpause."""
    vmid, document, box = running
    script = shims.script("tm", "prebackup_live")
    for delay in (0.15, 0.3, 0.5):
        proc = subprocess.Popen([str(script), *_argv(vmid)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=shims.env, cwd="/")
        proc.stdin.write(document)
        proc.stdin.close()
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        res = shims.tm("postbackup_live", *_argv(vmid), stdin=document)
        assert (res.rc, res.stderr) == (0, ""), res.stderr
        box.reload()
        assert box.status == "running"
        _nothing_left(docker_client, vmid)
    res = shims.tm("prebackup_live", *_argv(vmid), stdin=document)  # and a retry works
    assert res.rc == 0, res.stderr
    assert shims.tm("postbackup_live", *_argv(vmid), stdin=document).rc == 0


def test_vm_xml_is_written_as_ruby_base64_encodes_it():
    from onedock.host.backup import vm_xml as encode

    data = b"<VM>" + b"x" * 100 + b"</VM>"
    text = encode(data)
    assert text.split(b"\n")[0] == base64.b64encode(data)[:60]
    assert base64.b64decode(text) == data and text.endswith(b"=\n\n")


def test_a_backup_becomes_images_a_new_vm_boots_from(shims, running, bridges, new_id,
                                                      docker_client, monkeypatch):
    """What `oneimage restore` does with the files (under a real oned the stock datastore's
    downloader streams them; tests/test_real_one.py): the root disk and the volume become
    images in the private registry, and a VM made of them runs with the files it had."""
    from onedock import config, registries
    from onedock.registry import backup_disk

    vmid, document, box = running
    assert shims.tm("prebackup_live", *_argv(vmid), stdin=document).rc == 0
    monkeypatch.setenv(config.CONF_ENV, shims.env[config.CONF_ENV])
    cfg = config.load()  # the lab's
    registry = registries.private(cfg)
    restored = {}
    for disk_id, root in ((0, True), (2, False)):
        repo = f"onedock/image-{new_id()}"
        with open(SYS / str(vmid) / "backup" / f"disk.{disk_id}.0", "rb") as stream:
            assert backup_disk.push(stream, registry, repo, "latest", root=root,
                                    arch="amd64") > 0
        restored[disk_id] = repo
    assert shims.tm("postbackup_live", *_argv(vmid), stdin=document).rc == 0

    again = new_id()
    try:
        for disk_id, repo in restored.items():
            res = shims.tm("clone", f"{FRONTEND}:{repo}", disk(again, disk_id), str(again), "1")
            assert res.rc == 0, res.stderr
        xml = vm_xml(again, restored[0], bridges[0], 32, context_disk=-1,
                     extra_disks=[(2, "vdb", {"MOUNTPOINT": "/data"})])
        res = deploy(shims, again, xml)
        assert res.rc == 0, res.stderr
        copy = docker_client.containers.get(f"one-{again}")
        assert copy.exec_run(["cat", "/root/rootfile"]).output == b"in-root\n"
        assert copy.exec_run(["cat", "/data/f"]).output == b"in-volume\n"
        copy.reload()
        assert copy.status == "running"
        assert docker_client.images.get(f"one-{again}:disk.0").attrs["Config"]["Cmd"] == \
            box.attrs["Config"]["Cmd"]  # what the VM's container ran with came back too
    finally:
        purge(docker_client, again)


def _storage_bytes(private) -> int:
    return sum(p.stat().st_size for p in Path(private.storage).rglob("*") if p.is_file())


def _ds_backup(shims, vmid: int, document: bytes):
    script = shims.script("datastore", "backup")
    return shims.run([str(script), *_argv(vmid)], backup_ds_stdin(document),
                     env={**shims.env, "ONEDOCK_DEBUG": "1"})


def test_the_registry_keeps_backups_and_a_second_stores_only_what_changed(
        shims, running, private, private_view, docker_client):
    """An onedock backup datastore: oned's three steps, twice, then `rm` of the first."""
    vmid, document, box = running
    ids, stored = [], []
    for _ in range(2):
        before = _storage_bytes(private)
        assert shims.tm("prebackup_live", *_argv(vmid), stdin=document).rc == 0
        res = _ds_backup(shims, vmid, document)
        assert res.rc == 0, res.stderr
        bid, size_mb, fmt = res.stdout.split()
        assert (bid.startswith(f"{vmid}-"), int(size_mb) >= 1, fmt) == (True, True, "docker")
        assert shims.tm("postbackup_live", *_argv(vmid), stdin=document).rc == 0
        ids.append(bid)
        stored.append(_storage_bytes(private) - before)
    print(f"registry backups of an unchanged VM: first stored {stored[0] / 1e3:.0f} kB, "
          f"second {stored[1] / 1e3:.0f} kB")
    assert stored[1] < 256 << 10  # the writable layer, vm.xml and configs: no image layer again
    repo = f"onedock/backup-{vmid}"
    view_tags = set(private_view.tags(repo))
    for bid in ids:
        assert {f"{bid}-disk.0", f"{bid}-disk.2", f"{bid}-vm"} <= view_tags
    _nothing_left(docker_client, vmid)

    res = shims.ds("rm", ds_xml(source=ids[0], type_=6), 1)
    assert (res.rc, res.stdout, res.stderr) == (0, "", ""), res.stderr
    left = set(private_view.tags(repo))
    assert not any(t.startswith(ids[0]) for t in left)
    assert {f"{ids[1]}-disk.0", f"{ids[1]}-disk.2", f"{ids[1]}-vm"} <= left
    pulled = docker_client.images.pull(f"{private.host}/{repo}", tag=f"{ids[1]}-disk.0")
    try:
        out = docker_client.containers.run(pulled.id, ["cat", "/root/rootfile"], remove=True,
                                           network_disabled=True, entrypoint=[])
        assert out == b"in-root\n"  # the second backup is whole without the first
    finally:
        docker_client.images.remove(pulled.id, force=True)
    res = shims.ds("rm", ds_xml(source="../image-1", type_=6), 1)
    assert res.rc == 1 and "not the id of an onedock backup" in res.error_line


def test_backup_cancel_ends_a_running_backup_and_the_vm_runs_on(shims, running,
                                                               docker_client):
    vmid, document, box = running
    assert box.exec_run(["dd", "if=/dev/urandom", "of=/data/big", "bs=1M",
                         "count=150"]).exit_code == 0
    script = shims.script("tm", "prebackup_live")
    proc = subprocess.Popen([str(script), *_argv(vmid)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**shims.env, "ONEDOCK_DEBUG": "1"}, cwd="/")
    proc.stdin.write(document)
    proc.stdin.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        box.reload()
        if box.status == "paused":
            break
        time.sleep(0.01)
    assert box.status == "paused", "the backup never paused the VM"
    cancel = shims.run([str(shims.script("datastore", "backup_cancel")),
                        f"{HOST}:/var/lib/one//datastores/0/{vmid}", f"one-{vmid}"], document)
    assert (cancel.rc, cancel.stderr) == (0, "")
    assert proc.wait(30) == 1
    assert "backup cancelled" in proc.stderr.read().decode()
    box.reload()
    assert box.status == "running"
    assert shims.tm("postbackup_live", *_argv(vmid), stdin=document).rc == 0
    _nothing_left(docker_client, vmid)
