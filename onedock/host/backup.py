"""A VM's backup on its host, in the layout OpenNebula's stock backup datastores (rsync, restic)
collect from there (digest §12.3), so they work with onedock VMs unchanged:

    <sysdir>/backup/vm.xml       the VM document, base64 as Ruby's Base64.encode64 writes it
    <sysdir>/backup/disk.<N>.0   the root disk: the container's filesystem with its writable
                                 layer, as a tar led by the image's run config
                                 (registry/backup_disk.py); a volume disk: a tar of its tree

A live backup (prebackup_live) pauses the container only while its writable layer is committed
and its volumes are read, then exports the committed image at leisure; how long the VM was
paused goes to stderr, which oned keeps in the VM's log. Every object a killed run may leave
behind (the committed image, the export container, the spool directory, the backup directory,
a pause) has a fixed name, so the next run and postbackup find and remove it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import shutil
import signal
import sys
import threading
import time

from onedock import names, registries, streams
from onedock.errors import NotFound, OneDockError, undo
from onedock.host.spec import boot_disk
from onedock.host.staging import Host
from onedock.one.transfer import BackupStep
from onedock.registry import backup_disk
from onedock.registry.backup_disk import config_member
from onedock.state import private_dir

LABEL_BACKUP = f"{names.LABEL}.backup"  # the backup id, in the images of a registry backup
BACKUP_DIR = "backup"  # below the VM's directory on the host, as the stock TMs make it
MOUNT = "/onedock-vm-dir"  # where the export container sees the VM's directory


def _image_tag(vmid: int) -> str:
    return f"{names.container(vmid)}:backup"


def vm_xml(document: bytes) -> bytes:
    """Base64 with a newline every 60 characters, then echo's newline (tm/qcow2/prebackup)."""
    text = base64.b64encode(document)
    return b"".join(text[i:i + 60] + b"\n" for i in range(0, len(text), 60)) + b"\n"


def vm_document(stored: bytes) -> bytes:
    """The VM document back out of a vm.xml that vm_xml wrote."""
    return base64.b64decode(b"".join(stored.split()))


class HostBackup:
    def __init__(self, host: Host, step: BackupStep):
        self.host = host
        self.engine = host.engine
        self.vm = step.vm
        self.vmid = step.vmid
        self.document = step.document
        self.sysdir = step.sysdir.rstrip("/")
        self.disk_ids = step.disk_ids
        self.name = names.container(step.vmid)
        self.spool = os.path.join(host.cfg.state_dir, f"backup-{step.vmid}")

    # -- prebackup ------------------------------------------------------------------------

    def write(self, live: bool) -> float:
        """Capture the disks and write the host's backup directory; returns seconds paused."""
        info = self.engine.container_inspect(self.name)
        if info is None:
            raise OneDockError(f"VM {self.vmid}: its container {self.name} is not on "
                               f"{self.host.name}", hint="is the VM deployed with onedock?")
        root, volumes = self._disks()
        self.clean()
        private_dir(self.host.cfg.state_dir)
        os.makedirs(self.spool, mode=0o700)
        try:
            paused = self._capture(root, volumes, live and info.running)
            if root is not None:
                self._export(os.path.join(self.spool, f"disk.{root}.0"))
            self._upload()
        except BaseException:
            self.clean()
            raise
        shutil.rmtree(self.spool, ignore_errors=True)
        return paused

    def _disks(self) -> tuple[int | None, list[tuple[int, str]]]:
        assert self.vm is not None, "a backup is written from the VM's document"
        boot = boot_disk(self.vm).disk_id
        root, volumes = None, []
        for disk_id in self.disk_ids:
            if disk_id == boot:
                root = disk_id
                continue
            volume = names.volume(self.vmid, disk_id)
            if self.engine.volume_inspect(volume) is None:
                raise OneDockError(f"VM {self.vmid}: disk {disk_id} is neither its root disk nor "
                                   f"a volume on {self.host.name} ({volume} missing)")
            volumes.append((disk_id, volume))
        return root, volumes

    def _capture(self, root: int | None, volumes: list[tuple[int, str]], pause: bool) -> float:
        """The root layer committed and the volumes spooled, the container paused meanwhile."""
        cancelled = signal.signal(signal.SIGTERM, _cancel)  # backup_cancel: unpause first
        started = time.monotonic()
        if pause:
            self.engine.pause(self.name)
        try:
            if root is not None:
                self.engine.commit(self.name, *_image_tag(self.vmid).split(":"), pause=False)
            for disk_id, volume in volumes:
                with self.host.read_volume(volume, self.vmid) as stream, \
                        open(os.path.join(self.spool, f"disk.{disk_id}.0"), "wb") as out:
                    streams.copy(stream, out)
        finally:
            if pause:
                self.engine.unpause(self.name)
            signal.signal(signal.SIGTERM, cancelled)
        took = time.monotonic() - started
        if pause:
            sys.stderr.write(f"VM {self.vmid} paused {took:.2f} s for a consistent backup\n")
        return took if pause else 0.0

    def _export(self, path: str) -> None:
        """The committed image's filesystem, all layers merged, through a never-started
        helper container (the image stays until postbackup: an onedock backup datastore
        pushes it, store)."""
        image = self.engine.image_inspect(_image_tag(self.vmid))
        with self.host.helper(_image_tag(self.vmid), {}, self.vmid) as cid, \
                open(path, "wb") as out:
            out.write(config_member(image.config if image is not None else {}))
            streams.copy(self.engine.export(cid), out)

    def _upload(self) -> None:
        """vm.xml and the spooled disks into <sysdir>/backup on the host, owned by this user
        (the backup datastore reads them as oneadmin, postbackup removes them as oneadmin)."""
        files = sorted(f for f in os.listdir(self.spool) if f.startswith("disk."))
        reader, writer = os.pipe()
        failed: list[BaseException] = []

        def produce() -> None:
            import tarfile  # only the backup actions pay for it

            try:
                with os.fdopen(writer, "wb") as pipe, \
                        tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    tar.addfile(self._entry(tarfile, BACKUP_DIR, tarfile.DIRTYPE, 0o700))
                    data = vm_xml(self.document)
                    tar.addfile(self._entry(tarfile, f"{BACKUP_DIR}/vm.xml", tarfile.REGTYPE,
                                            0o600, len(data)), io.BytesIO(data))
                    for name in files:
                        path = os.path.join(self.spool, name)
                        with open(path, "rb") as handle:
                            tar.addfile(self._entry(tarfile, f"{BACKUP_DIR}/{name}",
                                                    tarfile.REGTYPE, 0o600,
                                                    os.fstat(handle.fileno()).st_size), handle)
            except BaseException as exc:  # noqa: BLE001 - the sender reports it
                failed.append(exc)

        binds = (f"{os.path.normpath(self.sysdir)}:{MOUNT}",)
        thread = threading.Thread(target=produce, daemon=True)
        with self.host.helper(self.host.scratch(), {}, self.vmid, binds) as cid:
            thread.start()
            with os.fdopen(reader, "rb") as body:
                self.engine.put_archive(cid, MOUNT, body)
            thread.join()
        if failed:
            raise OneDockError(f"VM {self.vmid}: writing the backup failed: {failed[0]}")

    @staticmethod
    def _entry(tarfile, name: str, kind: bytes, mode: int, size: int = 0):
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.size, info.mtime = kind, mode, size, int(time.time())
        info.uid, info.gid = os.getuid(), os.getgid()
        return info

    # -- datastore/onedock/backup: the registry as the backup datastore -----------------------

    def store(self) -> tuple[str, int]:
        """What prebackup left, as images in the private registry: (backup id, size in MB).

        The root disk is the committed image prebackup kept, pushed by the host's engine, so
        the layers it shares with its OpenNebula image (and with earlier backups) are never
        stored again: a second backup of an unchanged VM stores its writable layer only.
        Volumes and vm.xml are streamed from the host's backup directory as single layers.
        """
        cfg = self.host.cfg
        bid = f"{self.vmid}-{os.urandom(3).hex()}"
        repo = names.backup_repo(cfg.prefix, self.vmid)
        registry = registries.private(cfg)
        labels = {LABEL_BACKUP: bid}
        root = boot_disk(self.vm).disk_id if self.vm is not None else -1
        total, stored = 0, []
        cancelled = signal.signal(signal.SIGTERM, _cancel)  # backup_cancel
        try:
            with self.host.helper(self.host.scratch(), {}, self.vmid,
                                  (f"{os.path.normpath(self.sysdir)}:{MOUNT}",)) as cid:
                for disk_id in self.disk_ids:
                    name, tag = f"disk.{disk_id}.0", f"{bid}-disk.{disk_id}"
                    if disk_id == root:
                        total += self._host_size(cid, name)
                        self._push_root(repo, tag)
                    else:
                        with self._host_file(cid, name) as stream:
                            total += backup_disk.push(stream, registry, repo, tag, root=False,
                                                      arch="amd64", labels=labels)
                    stored.append(tag)
                with self._host_file(cid, "vm.xml") as stream:
                    backup_disk.put_file(registry, repo, f"{bid}-vm", "vm.xml", stream.read(),
                                         labels)
                stored.append(f"{bid}-vm")
        except BaseException:
            undo(lambda tag: registry.forget(repo, tag), stored)
            raise
        finally:
            signal.signal(signal.SIGTERM, cancelled)
        return bid, max(1, -(-total // (1 << 20)))

    @contextlib.contextmanager
    def _host_file(self, cid: str, name: str):
        """A file of the host's backup directory, streamed (one at a time: the engine's
        connection carries it until it is read)."""
        import tarfile

        try:
            resp = self.engine.get_archive(cid, f"{MOUNT}/{BACKUP_DIR}/{name}")
        except NotFound:
            raise OneDockError(f"VM {self.vmid}: no {BACKUP_DIR}/{name} on {self.host.name}",
                               hint="did the onedock TM's prebackup run?") from None
        try:
            with tarfile.open(fileobj=resp, mode="r|") as tar:
                member = tar.next()
                handle = tar.extractfile(member) if member is not None else None
                if handle is None:
                    raise OneDockError(f"VM {self.vmid}: {BACKUP_DIR}/{name} is not a file")
                yield handle
        finally:
            resp.read()

    def _host_size(self, cid: str, name: str) -> int:
        try:
            return int(self.engine.path_stat(cid, f"{MOUNT}/{BACKUP_DIR}/{name}").get("size", 0))
        except NotFound:
            raise OneDockError(f"VM {self.vmid}: no {BACKUP_DIR}/{name} on {self.host.name}",
                               hint="did the onedock TM's prebackup run?") from None

    def _push_root(self, repo: str, tag: str) -> None:
        image = _image_tag(self.vmid)
        if self.engine.image_inspect(image) is None:
            raise OneDockError(f"VM {self.vmid}: the committed root disk is gone from "
                               f"{self.host.name}", hint="run the backup again")
        target = f"{self.host.cfg.registry}/{repo}"
        self.engine.tag(image, target, tag)
        try:
            self.engine.push(target, tag, registries.engine_auth(self.host.cfg))
        finally:
            self.engine.remove_image(f"{target}:{tag}")

    # -- postbackup and retries -----------------------------------------------------------

    def clean(self) -> None:
        """What a backup of this VM leaves, whatever point it reached: removed."""
        shutil.rmtree(self.spool, ignore_errors=True)
        for helper in self.engine.containers([f"{names.LABEL_ROLE}=helper",
                                              f"{names.LABEL_VMID}={self.vmid}"]):
            self.engine.remove_container(helper.id, force=True)
        with contextlib.suppress(OneDockError):
            self.engine.remove_image(_image_tag(self.vmid), force=True)
        self.host.remove_dir(f"{self.sysdir}/{BACKUP_DIR}")

    def finish(self, live: bool) -> None:
        """postbackup: clean up; a live backup's VM is running again (a killed prebackup may
        have left it paused; during a backup oned never has it SUSPENDED)."""
        if live:
            info = self.engine.container_inspect(self.name)
            if info is not None and info.status == "paused":
                self.engine.unpause(self.name)
        self.clean()


_BACKUP_ID = re.compile(r"([0-9]{1,9})-[0-9a-f]{6}")
STEP_NAMES = ("tm/onedock/prebackup", "tm/onedock/prebackup_live", "datastore/onedock/backup")


def backup_vmid(backup_id: str) -> int:
    """The VM whose backup `backup_id` (`<vmid>-<6 hex>`, what store printed) is."""
    match = _BACKUP_ID.fullmatch(backup_id)
    if not match:
        raise OneDockError(f"'{backup_id[:40]}' is not the id of an onedock backup")
    return int(match.group(1))


def cancel(deploy_id: str) -> int:
    """SIGTERM this user's running backup steps of the VM `deploy_id` (their argv has it, as
    the stock backup_cancel finds its steps); returns how many."""
    if not re.fullmatch(r"one-[0-9]{1,9}", deploy_id):
        raise OneDockError(f"'{deploy_id[:40]}' is not an onedock deploy id (one-<vmid>)")
    ended = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid != os.getuid() or int(pid) == os.getpid():
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if deploy_id in argv and any(a.endswith(STEP_NAMES) for a in argv):
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGTERM)
                ended += 1
    return ended


def _cancel(*_) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the clean-up (an unpause) must not be cut
    raise OneDockError("backup cancelled")
