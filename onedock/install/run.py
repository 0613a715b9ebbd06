"""Carrying out a plan: show it, check it, write it, record it; and undoing it."""

from __future__ import annotations

import contextlib
import os
import sys

from onedock.install import changes as ch
from onedock.install import onedconf
from onedock.install.layout import Layout


def install(layout: Layout, role: str, plan: list[ch.Change], dry_run: bool, out=sys.stdout):
    manifest_path = layout.manifest(role)
    previous = {}
    if os.path.exists(manifest_path):
        previous = {e["path"]: e for e in ch.load_manifest(manifest_path)}
    todo = [c for c in plan if c.kind != "unchanged"]
    for change in plan:
        note = f"  ({change.note})" if change.note else ""
        out.write(f"{change.kind:>9}  {change.path}{note}\n")
        if dry_run and change.kind != "unchanged":
            out.write(change.diff())
    if not todo:
        out.write(f"onedock {role}: nothing to change, already installed\n")
        return 0
    if dry_run:
        out.write(f"onedock {role}: {len(todo)} change(s) planned; nothing written (--dry-run)\n")
        return 0
    ch.check_writable(todo + [ch.Change(manifest_path, None, b"")])
    entries = dict(previous)
    made_dirs = set()
    if os.path.exists(manifest_path):
        made_dirs.update(ch.load_dirs(manifest_path))
    for change in [*todo, ch.Change(manifest_path, None, b"")]:
        made_dirs.update(ch.missing_dirs(change.path))
    for change in todo:
        ch.apply(change)
        entry = ch.manifest_entry(change)
        if change.path in previous:  # keep what the file was before the first install
            entry["before"] = previous[change.path]["before"]
        entries[change.path] = entry
    ch.save_manifest(manifest_path, list(entries.values()), sorted(made_dirs))
    out.write(f"onedock {role}: {len(todo)} change(s) written; manifest {manifest_path}\n")
    return 0


def uninstall(layout: Layout, role: str, dry_run: bool, out=sys.stdout) -> int:
    manifest_path = layout.manifest(role)
    entries = ch.load_manifest(manifest_path)
    kept = []
    for entry in reversed(entries):
        path = entry["path"]
        if ch.is_untouched(entry):
            before = ch.original(entry)
            action = "remove" if before is None else "restore"
        elif os.path.basename(path) in ("oned.conf", "monitord.conf"):
            current = ch.read(path)
            if current is None:
                continue
            text = onedconf.remove_block(current.decode())
            if os.path.basename(path) == "oned.conf":
                for mad in ("TM_MAD", "DATASTORE_MAD"):
                    text = onedconf.remove_driver(text, mad)
            before, action = text.encode(), "edit"
        else:
            kept.append(path)
            out.write(f"     kept  {path}  (changed since install: left as it is)\n")
            continue
        out.write(f"{action:>9}  {path}\n")
        if dry_run:
            continue
        if entry.get("directory"):
            with contextlib.suppress(OSError):
                os.rmdir(path)
        elif entry.get("link") is not None or before is None:
            if os.path.lexists(path):
                os.unlink(path)
        else:
            ch.write_atomic(path, before, entry.get("mode", 0o644))
        backup = path + ch.BACKUP_SUFFIX
        if action == "restore" and os.path.exists(backup):
            os.unlink(backup)
    if not dry_run:
        made_dirs = ch.load_dirs(manifest_path)
        os.unlink(manifest_path)
        for folder in sorted(made_dirs, key=len, reverse=True):
            with contextlib.suppress(OSError):  # only if empty: what others put there stays
                os.rmdir(folder)
    out.write(f"onedock {role}: uninstalled" + (" (dry run)" if dry_run else "") +
              (f"; {len(kept)} file(s) kept" if kept else "") + "\n")
    return 0
