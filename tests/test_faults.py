"""Fault matrix: what the drivers do when the world around them breaks.

=====================================  ===============  ========================================
Fault                                  Action           Expected outcome
=====================================  ===============  ========================================
private registry down (port closed)    TM clone         exit 1, one stderr line naming the
                                                        registry; nothing pulled or tagged
private registry's disk full (a        DS cp of the     exit 1, one line naming the registry;
second registry on a 4 MiB tmpfs)      ~14 MB image     no manifest for the repo (HEAD 404)
the host's dockerd stopped             TM clone to it   exit 1 within 10 s, one line naming the
                                                        unreachable engine; once dockerd is
                                                        back the same clone succeeds
SIGKILL at a random 0-300 ms (fixed    DS cp, TM clone  the rerun succeeds: cp's digest is the
seed), then the action again                            hub's; clone's disk tag exists once
20 clones of one SOURCE at once        TM clone x 20    all exit 0, every vmid has its disk tag
=====================================  ===============  ========================================

Every test removes what it made: containers, `one-<vmid>:*` tags, volumes, registry
repositories, the tmpfs mount and the extra registry.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from lab.registries import RegistryProcess, free_port
from tests.conftest import RegistryView, ds_xml
from tests.helpers import FRONTEND, HOST, HOST2, disk, purge

SEED = 20240611


def _conf(conf: Path, tmp_path: Path, name: str, private, registry: str,
          storage: str | None = None) -> Path:
    """The session's config with another private registry (and its storage)."""
    text = conf.read_text()
    assert f'registry = "{private.host}"' in text
    text = text.replace(f'registry = "{private.host}"', f'registry = "{registry}"')
    if storage is not None:
        text = text.replace(f'registry_storage = "{private.storage}"',
                            f'registry_storage = "{storage}"')
    path = tmp_path / name
    path.write_text(text)
    return path


def _env(shims, path: Path) -> dict:
    return dict(shims.env, ONEDOCK_CONF=str(path))


def tags(client, vmid: int) -> set[str]:
    """The VM's own tags (helpers.tags also lists other tags of the same image)."""
    return {t for i in client.images.list(name=f"one-{vmid}") for t in i.tags
            if t.startswith(f"one-{vmid}:")}


def _image_ids(client) -> set[str]:
    return {i.id for i in client.images.list(all=True)}


def _drop_new_images(client, before: set[str]) -> None:
    for image_id in _image_ids(client) - before:
        with contextlib.suppress(Exception):
            client.images.remove(image_id, force=True)


def _rm_image(shims, image_id: int) -> None:
    """DS rm: the repository's manifest and blobs go (idempotent)."""
    shims.ds("rm", ds_xml(image_id, source=f"onedock/image-{image_id}"), image_id)


def test_registry_down_during_clone(shims, conf, tmp_path, private, image_source,
                                    docker_client, new_id):
    dead = f"127.0.0.1:{free_port()}"
    env = _env(shims, _conf(conf, tmp_path, "dead.conf", private, dead))
    vmid = new_id()
    images_before = _image_ids(docker_client)
    try:
        res = shims.tm("clone", f"{FRONTEND}:{image_source}", disk(vmid, 0), str(vmid), "1",
                         env=env)
        assert (res.rc, res.stdout) == (1, "")
        line = res.error_line
        assert line.startswith("tm/clone: ") and dead in line and "unreachable" in line, line
        assert tags(docker_client, vmid) == set()
        assert _image_ids(docker_client) == images_before
    finally:
        purge(docker_client, vmid)


@pytest.fixture
def full_registry():
    """A second registry whose storage is a 4 MiB tmpfs."""
    root = Path(tempfile.mkdtemp(prefix="od-full-", dir="/tmp"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)], check=True)
    reg = None
    try:
        reg = RegistryProcess(root=root).start()
        yield reg
    finally:
        if reg is not None:
            reg.stop()
        subprocess.run(["umount", str(root)], check=False)
        with contextlib.suppress(OSError):
            root.rmdir()


def test_registry_disk_full_during_cp(shims, conf, tmp_path, private, images, full_registry,
                                      new_id):
    env = _env(shims, _conf(conf, tmp_path, "full.conf", private, full_registry.host,
                              str(full_registry.storage)))
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{images['multi']}"), image_id,
                     env=env)
    assert (res.rc, res.stdout) == (1, "")
    line = res.error_line
    assert line.startswith("datastore/cp: ") and full_registry.host in line, line
    assert "Traceback" not in res.stderr and "internal error" not in line
    view = RegistryView(full_registry.host)
    status, _, _ = view._req("HEAD", f"/v2/onedock/image-{image_id}/manifests/latest")
    assert status == 404
    assert view.digest(f"onedock/image-{image_id}") is None
    status, _, body = view._req("GET", f"/v2/onedock/image-{image_id}/tags/list")
    assert status == 404 or "latest" not in (json.loads(body).get("tags") or []), body


def test_dockerd_stopped_then_back(shims, image_source, engine2, new_id):
    """node02 is engine2 in the session's [hosts]: the clone finds its dockerd gone."""
    vmid = new_id()
    before = _image_ids(engine2.client)
    try:
        engine2.stop()
        try:
            started = time.monotonic()
            res = shims.tm("clone", f"{FRONTEND}:{image_source}", disk(vmid, 0, HOST2),
                             str(vmid), "1")
            elapsed = time.monotonic() - started
        finally:
            engine2.start()
        assert (res.rc, res.stdout) == (1, "")
        line = res.error_line
        assert f"Docker engine of {HOST2} unreachable" in line and engine2.url in line, line
        assert elapsed < 10, f"took {elapsed:.1f}s"
        again = shims.tm("clone", f"{FRONTEND}:{image_source}", disk(vmid, 0, HOST2),
                           str(vmid), "1")
        assert (again.rc, again.stdout, again.stderr) == (0, "", "")
        assert tags(engine2.client, vmid) == {f"one-{vmid}:disk.0"}
    finally:
        purge(engine2.client, vmid)
        _drop_new_images(engine2.client, before)


def _kill_after(argv: list[str], stdin: bytes, env: dict, delay: float) -> int:
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, cwd="/")
    proc.stdin.write(stdin)
    proc.stdin.close()
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    return proc.wait()


def test_cp_killed_at_random_then_retried(shims, images, hub_view, private_view, new_id):
    import base64

    rng = random.Random(SEED)
    image_id = new_id()
    xml = ds_xml(image_id, path=f"docker://{images['multi']}")
    script = shims.script("datastore", "cp")
    try:
        codes = [_kill_after([str(script), str(image_id)], base64.b64encode(xml.encode()),
                             shims.env, rng.uniform(0.0, 0.3)) for _ in range(5)]
        assert -signal.SIGKILL in codes, codes  # at least one kill landed mid-action
        res = shims.ds("cp", xml, image_id)
        assert (res.rc, res.stdout, res.stderr) == (0, f"onedock/image-{image_id} docker\n", "")
        repo = f"onedock/image-{image_id}"
        assert private_view.digest(repo) == hub_view.digest("onedock-test/multi")
        manifest = private_view.manifest(repo)
        for blob in [manifest["config"], *manifest["layers"]]:
            assert private_view.has_blob(repo, blob["digest"])
    finally:
        _rm_image(shims, image_id)


def test_clone_killed_at_random_then_retried(shims, images, private, private_view, engine2,
                                             new_id):
    """To host 2, of an image it lacks: the kill lands while its dockerd pulls."""
    rng = random.Random(SEED + 1)
    image_id, vmid = new_id(), new_id()
    before = _image_ids(engine2.client)
    try:
        res = shims.ds("cp", ds_xml(image_id, path=f"docker://{images['multi']}"), image_id)
        assert res.rc == 0, res.stderr
        source = res.stdout.split()[0]
        script = shims.script("tm", "clone")
        argv = [str(script), f"{FRONTEND}:{source}", disk(vmid, 0, HOST2), str(vmid), "1"]
        # the first kill lands early, inside the cold pull, whatever the speed of the machine
        delays = [rng.uniform(0.0, 0.1)] + [rng.uniform(0.0, 0.3) for _ in range(4)]
        codes = [_kill_after(argv, b"", shims.env, delay) for delay in delays]
        assert -signal.SIGKILL in codes, codes
        res = shims.tm("clone", *argv[1:])
        assert (res.rc, res.stdout, res.stderr) == (0, "", "")
        assert tags(engine2.client, vmid) == {f"one-{vmid}:disk.0"}
        staged = engine2.client.images.get(f"one-{vmid}:disk.0")
        digest = private_view.digest(source)
        assert f"{private.host}/{source}@{digest}" in staged.attrs["RepoDigests"]
        again = shims.tm("clone", *argv[1:])
        assert again.rc == 0, again.stderr
        assert tags(engine2.client, vmid) == {f"one-{vmid}:disk.0"}
    finally:
        purge(engine2.client, vmid)
        _drop_new_images(engine2.client, before)
        _rm_image(shims, image_id)


def test_twenty_concurrent_clones_of_one_source(shims, image_source, docker_client, new_id):
    vmids = [new_id() for _ in range(20)]
    script = shims.script("tm", "clone")
    before = _image_ids(docker_client)
    try:
        procs = [subprocess.Popen([str(script), f"{FRONTEND}:{image_source}", disk(vmid, 0, HOST),
                                   str(vmid), "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, env=shims.env, cwd="/")
                 for vmid in vmids]
        results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
        for proc in procs:
            proc.stdout.close()
            proc.stderr.close()
        assert results == [(0, b"", b"")] * 20
        for vmid in vmids:
            assert tags(docker_client, vmid) == {f"one-{vmid}:disk.0"}
        ids = {docker_client.images.get(f"one-{vmid}:disk.0").id for vmid in vmids}
        assert len(ids) == 1  # one pinned image, twenty tags
    finally:
        for vmid in vmids:
            purge(docker_client, vmid)
        _drop_new_images(docker_client, before)
