"""Planned file changes: shown as diffs, applied atomically, recorded for uninstall."""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import os
from dataclasses import dataclass

from onedock.errors import OneDockError

BACKUP_SUFFIX = ".onedock-backup"


@dataclass
class Change:
    path: str
    before: bytes | None  # None: the file does not exist
    after: bytes | None  # None: remove it
    mode: int = 0o644
    link: str | None = None  # a symlink target instead of content
    note: str = ""
    directory: bool = False  # an (empty) directory that must exist

    @property
    def kind(self) -> str:
        if self.directory:
            return "unchanged" if self.before is not None else "mkdir"
        if self.link is not None:
            return "unchanged" if self.before == self.link.encode() else "link"
        if self.before == self.after:
            return "unchanged"
        if self.before is None:
            return "create"
        return "remove" if self.after is None else "modify"

    def diff(self) -> str:
        if self.link is not None or self.directory or self.kind == "unchanged":
            return ""
        old = (self.before or b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = (self.after or b"").decode("utf-8", "replace").splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"{self.path} (now)", f"{self.path} (after)")
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end\n"
                       for line in lines)


def read(path: str) -> bytes | None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            return b""
        if os.path.islink(path):
            return os.readlink(path).encode()
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OneDockError(f"cannot read {path}: {exc.strerror}") from exc


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """An edited file keeps its owner, group and mode (Debian's /etc/one/oned.conf is
    root:oneadmin 0640, and oned must still read it); a new one gets `mode` and, written by
    root, the owner of its directory (OpenNebula's remotes tree is oneadmin's)."""
    folder = os.path.dirname(path)
    try:
        _makedirs_like_parent(folder)
        try:
            like = os.stat(path)
            mode = like.st_mode & 0o7777
        except FileNotFoundError:
            like = os.stat(folder)
        tmp = os.path.join(folder, f".{os.path.basename(path)}.onedock-tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if os.geteuid() == 0:
            os.chown(tmp, like.st_uid, like.st_gid)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise OneDockError(f"cannot write {path}: {exc.strerror}",
                           hint="is the location writable (run as root)?") from exc


def _makedirs_like_parent(folder: str) -> None:
    missing = missing_dirs(os.path.join(folder, "x"))  # outermost first
    os.makedirs(folder, exist_ok=True)
    if missing and os.geteuid() == 0:
        parent = os.stat(os.path.dirname(missing[0]))
        for made in missing:
            os.chown(made, parent.st_uid, parent.st_gid)


def missing_dirs(path: str) -> list[str]:
    """The directories that writing `path` will create, outermost first."""
    out = []
    folder = os.path.dirname(path)
    while folder and folder != "/" and not os.path.exists(folder):
        out.append(folder)
        folder = os.path.dirname(folder)
    return out[::-1]


def apply(change: Change) -> None:
    if change.kind == "unchanged":
        return
    if change.directory:
        _makedirs_like_parent(change.path)
        return
    if change.link is not None:
        _makedirs_like_parent(os.path.dirname(change.path))
        if os.path.lexists(change.path):
            os.unlink(change.path)
        os.symlink(change.link, change.path)
        return
    if change.before is not None and not os.path.exists(change.path + BACKUP_SUFFIX):
        write_atomic(change.path + BACKUP_SUFFIX, change.before, 0o600)
    if change.after is None:
        try:
            os.unlink(change.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise OneDockError(f"cannot remove {change.path}: {exc.strerror}") from exc
        return
    write_atomic(change.path, change.after, change.mode)


def check_writable(changes: list[Change]) -> None:
    """Refuse before writing anything when a target cannot be written: nothing half-done."""
    for change in changes:
        if change.kind == "unchanged":
            continue
        folder = os.path.dirname(change.path)
        while folder and not os.path.exists(folder):
            folder = os.path.dirname(folder)
        if not os.access(folder or "/", os.W_OK) or (
            os.path.exists(change.path) and not os.access(change.path, os.W_OK)
        ):
            raise OneDockError(f"{change.path} is not writable",
                               hint="run as root or pick a writable --prefix")


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def manifest_entry(change: Change) -> dict:
    return {
        "path": change.path,
        "link": change.link,
        "before": base64.b64encode(change.before).decode() if change.before is not None
        else None,
        "after_sha256": _sha(change.link.encode() if change.link else change.after),
        "mode": change.mode,
        "directory": change.directory,
    }


def save_manifest(path: str, entries: list[dict], dirs: list[str]) -> None:
    data = {"version": 1, "changes": entries, "created_dirs": dirs}
    write_atomic(path, json.dumps(data, indent=1).encode(), 0o600)


def load_dirs(path: str) -> list[str]:
    try:
        return list(json.loads(read(path) or b"{}").get("created_dirs", []))
    except ValueError:
        return []


def load_manifest(path: str) -> list[dict]:
    data = read(path)
    if data is None:
        raise OneDockError(f"no install manifest at {path}", hint="was onedock installed here?")
    try:
        return json.loads(data)["changes"]
    except (ValueError, KeyError) as exc:
        raise OneDockError(f"install manifest {path} is damaged") from exc


def is_untouched(entry: dict) -> bool:
    return _sha(read(entry["path"])) == entry["after_sha256"]


def original(entry: dict) -> bytes | None:
    return base64.b64decode(entry["before"]) if entry["before"] is not None else None
