"""The sandbox's base image, built offline from Debian packages with debootstrap and cached.

No image server is needed: debootstrap fetches .debs from the Debian mirror apt already uses,
the rootfs and LXD metadata are packed once into ~/.cache/onedock, and imported into LXD
under an alias; later `up`s reuse the alias (or the cached tarball after an LXD reset).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from onedock.errors import OneDockError

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
ALIAS_PREFIX = f"onedock-base/{SUITE}"
PACKAGES = ["systemd-sysv", "dbus", "iproute2", "ca-certificates", "python3", "python3-venv",
            "docker.io", "docker-registry", "busybox-static", "openssh-client", "procps",
            "openssh-server", "sudo"]
REVISION = hashlib.sha256(",".join(PACKAGES).encode()).hexdigest()[:8]  # new list, new image
ALIAS = f"{ALIAS_PREFIX}-{REVISION}"
CACHE = Path(os.environ.get("ONEDOCK_CACHE", Path.home() / ".cache" / "onedock"))


def cached_tarball() -> Path:
    return CACHE / f"{SUITE}-{REVISION}-rootfs.tar.gz"


def build_rootfs(progress) -> Path:
    """debootstrap a minimal Debian with Docker and the registry; cache it as a tarball."""
    target = cached_tarball()
    if target.exists():
        return target
    if shutil.which("debootstrap") is None:
        raise OneDockError("debootstrap is not installed", hint="apt-get install debootstrap")
    CACHE.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="onedock-rootfs-", dir=CACHE))
    try:
        argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
                str(root), MIRROR]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        last = ""
        for line in proc.stdout:
            last = line.strip()
            if last.startswith("I: Retrieving") or last.startswith("I: Configuring"):
                progress(last[3:])
        if proc.wait() != 0:
            raise OneDockError(f"debootstrap failed: {last}",
                               hint=f"is {MIRROR} reachable? re-run `invoke sandbox.up`")
        (root / "etc" / "hostname").write_text("onedock-sandbox\n")
        return pack(root, target)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def pack(root: Path, target: Path) -> Path:
    """An LXD unified image tarball (metadata.yaml and rootfs/) of `root`, renamed into place
    only once complete."""
    partial = target.with_suffix(".partial")
    with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
        meta = metadata()
        info = tarfile.TarInfo("metadata.yaml")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
        tar.add(str(root), arcname="rootfs")
    partial.rename(target)
    return target


def metadata() -> bytes:
    """LXD's metadata.yaml (YAML is a superset of JSON)."""
    meta = {
        "architecture": os.uname().machine,
        "creation_date": int(time.time()),
        "properties": {"os": "debian", "release": SUITE,
                       "description": "onedock sandbox base (debootstrap, Docker, registry)"},
    }
    return json.dumps(meta).encode()


def ensure(client, progress) -> str:
    """The fingerprint of the base image in LXD, importing (and building) it if needed."""
    try:
        return client.images.get_by_alias(ALIAS).fingerprint
    except Exception:  # noqa: BLE001 - pylxd raises NotFound; any failure means "build it"
        pass
    tarball = build_rootfs(progress)
    progress(f"importing {tarball} into LXD as {ALIAS}")
    with open(tarball, "rb") as rootfs:
        image = client.images.create(rootfs.read(), wait=True)
    image.add_alias(ALIAS, "onedock sandbox base image")
    return image.fingerprint
