"""DS_MAD=onedock: images live in the private registry, one repository per OpenNebula image.

SOURCE is the repository (`onedock/image-7`): colon-free, so oned hands it to TM scripts in its
usual `frontend:SOURCE` form, and owned by exactly one image, so `rm` of one image can never
delete what another image uses. `cp` resolves the user's tag to one digest at registration and
copies exactly that manifest: later changes to the upstream tag never reach registered images.
"""

from __future__ import annotations

import math
import os

from onedock import names, registries
from onedock.config import Config
from onedock.drivers import backup_ds
from onedock.errors import OneDockError
from onedock.one.datastore import DsAction, ImageData, parse_ds_action
from onedock.one.transfer import source as parse_source
from onedock.registry import image as images
from onedock.registry.copy import copy_image
from onedock.registry.reference import parse as parse_reference

FORMAT = backup_ds.FORMAT
TAG = "latest"
SCHEME = "docker://"
AUTH_FILE = "REGISTRY_AUTH_FILE"  # the datastore's own logins for source registries


def _image(action: DsAction) -> ImageData:
    if action.image is None:
        raise OneDockError("DS_DRIVER_ACTION_DATA lacks <IMAGE>")
    return action.image


def _image_source(action: DsAction, cfg: Config) -> str:
    image = _image(action)
    if image.id < 0:
        raise OneDockError("DS_DRIVER_ACTION_DATA lacks the image ID")
    return names.image_repo(cfg.prefix, image.id)


def _archive_path(path: str, action: DsAction) -> str:
    """A local docker-save archive, checked against the datastore's SAFE/RESTRICTED_DIRS."""
    real = os.path.realpath(path)
    ds = action.datastore

    def under(dirs: list[str]) -> bool:
        return any(real == d.rstrip("/") or real.startswith(d.rstrip("/") + "/") or d == "/"
                   for d in (os.path.realpath(x) for x in dirs))

    if under(ds.dirs("RESTRICTED_DIRS")) and not under(ds.dirs("SAFE_DIRS")):
        raise OneDockError(
            f"not allowed to copy images from {path}",
            hint="check RESTRICTED_DIRS and SAFE_DIRS of the datastore",
        )
    if not os.path.isfile(real):
        raise OneDockError(f"{path} is not a file")
    return real


def docker_reference(path: str) -> str | None:
    """The reference in `docker://REF`, or in what the 6.10+ CLI makes of it.

    `oneimage create --path docker://REF` reaches oned as `<working dir>/docker://REF`: the CLI
    prepends the directory to every PATH but http(s), ssh, s3, rbd and lxd URLs. No file path
    has an empty component after a `docker:` directory, so the form cannot name a real file.
    """
    if path.startswith(SCHEME):
        return path[len(SCHEME):]
    if path.startswith("/"):
        _, found, ref = path.partition("/" + SCHEME)
        if found:
            return ref
    return None


def _open_path(path: str, action: DsAction, cfg: Config):
    """(image, copy kwargs) for a PATH: a docker:// reference or a docker-save archive."""
    given = docker_reference(path)
    if given is not None:
        ref = parse_reference(given)
        src = registries.source(cfg, ref, action.datastore.template.get(AUTH_FILE, ""))
        image = images.resolve(src, ref.repository, ref.ref, cfg.platform)
        return image, {"src": src, "src_repo": ref.repository}, None
    if path.startswith("/"):
        from onedock.registry.archive import Archive

        archive = Archive(_archive_path(path, action))
        return archive.image, {"opener": archive.open}, archive
    raise OneDockError(
        f"unsupported PATH '{path[:120]}'",
        hint="use docker://[registry/]repository[:tag|@digest] or a docker save archive",
    )


def cp(cfg: Config, payload: bytes) -> str:
    action = parse_ds_action(payload)
    image = _image(action)
    if not image.path:
        raise OneDockError("image has no PATH to copy from")
    source = _image_source(action, cfg)
    if image.path.startswith(BACKUP_URLS):  # `oneimage restore` of a stock backup
        from onedock.registry import backup_disk

        backup_disk.download(image.path, registries.private(cfg), source, TAG,
                             root=image.type.upper() == "OS", platform=cfg.platform)
        return f"{source} {FORMAT}"
    if image.path.startswith(backup_ds.SCHEME):
        registry = registries.private(cfg)
        repo, tag = backup_ds.disk(cfg, image.path)
        copy_image(images.resolve(registry, repo, tag, cfg.platform), registry, source, TAG,
                   src=registry, src_repo=repo, parallel=cfg.copy_parallel)
        return f"{source} {FORMAT}"
    found, kwargs, archive = _open_path(image.path, action, cfg)
    try:
        copy_image(found, registries.private(cfg), source, TAG,
                   parallel=cfg.copy_parallel, **kwargs)
    finally:
        if archive is not None:
            archive.close()
    return f"{source} {FORMAT}"


BACKUP_URLS = ("rsync://", "restic://")  # what the stock backup datastores' restore hands cp


def stat(cfg: Config, payload: bytes) -> str:
    action = parse_ds_action(payload)
    image = _image(action)
    if not image.path:
        raise OneDockError("STAT needs IMAGE/PATH")
    if image.path.startswith(backup_ds.SCHEME):
        found = images.resolve(registries.private(cfg), *backup_ds.disk(cfg, image.path),
                               cfg.platform)
        return str(max(1, math.ceil(found.size / (1 << 20))))
    found, _, archive = _open_path(image.path, action, cfg)
    if archive is not None:
        archive.close()
    return str(max(1, math.ceil(found.size / (1 << 20))))


def clone(cfg: Config, payload: bytes) -> str:
    action = parse_ds_action(payload)
    image = _image(action)
    origin = parse_source(image.path)
    target = _image_source(action, cfg)
    registry = registries.private(cfg)
    found = images.resolve(registry, origin, TAG, cfg.platform)
    copy_image(found, registry, target, TAG, src=registry, src_repo=origin,
               parallel=cfg.copy_parallel)
    return f"{target} {FORMAT}"


def rm(cfg: Config, payload: bytes) -> str:
    action = parse_ds_action(payload)
    if _image(action).type == "BACKUP":
        return backup_ds.rm(cfg, _image(action))
    repo = parse_source(_image(action).source)
    registry = registries.private(cfg)
    digest = registry.head_manifest(repo, TAG)
    if digest is None:
        return ""  # already gone: rm is safe to repeat
    found = images.from_manifest(registry.get_manifest(repo, digest))
    registry.delete_manifest(repo, digest)
    for blob in found.blobs:
        registry.delete_blob(repo, blob.digest)
    return ""


def mkfs(cfg: Config, payload: bytes) -> str:
    action = parse_ds_action(payload)
    image = _image(action)
    source = _image_source(action, cfg)
    manifest, config, layer = images.empty_volume_image(image.size_mb, image.fs)
    images.put_volume_image(registries.private(cfg), source, TAG, manifest, config, layer)
    return source


def monitor(cfg: Config, payload: bytes) -> str:
    parse_ds_action(payload)
    root = cfg.registry_storage
    try:
        fs = os.statvfs(root)
    except OSError as exc:
        raise OneDockError(
            f"cannot read registry storage {root}: {exc.strerror}",
            hint="set registry_storage in onedock.conf to the registry's root directory",
        ) from exc
    used = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                used += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue  # a blob removed while we walk
    mb = 1 << 20
    total = fs.f_blocks * fs.f_frsize // mb
    free = fs.f_bavail * fs.f_frsize // mb
    return f"USED_MB={math.ceil(used / mb)}\nFREE_MB={free}\nTOTAL_MB={total}"


ACTIONS = {"cp": cp, "stat": stat, "clone": clone, "rm": rm, "mkfs": mkfs, "monitor": monitor,
           "restore": backup_ds.restore}
STEPS = {"backup": backup_ds.backup, "backup_cancel": backup_ds.backup_cancel}  # argv, raw stdin
