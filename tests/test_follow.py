"""Images that follow their tag (registry.follow), against real registries and the engine: a
tag moves upstream; a dry run says so and changes nothing; the update copies the new digest,
keeps the old one tagged; a VM staged afterwards gets the new image, a VM made before keeps
its own. The `onedock image update` command over a real oned is tests/test_real_one.py's."""

from __future__ import annotations

import pytest

from onedock import config
from onedock.errors import OneDockError
from onedock.registry.follow import Follow, tag_of
from tests.conftest import ds_xml
from tests.helpers import FRONTEND, disk, purge


@pytest.fixture
def moving_tag(docker_client, hub, images):
    """hub/onedock-test/moving:1 over the lab's busybox; returns a function that moves it to
    a new digest (a layer with `marker` in /marker)."""
    repo = f"{hub.host}/onedock-test/moving"

    def push(marker: str) -> str:
        box = docker_client.containers.create(images["busybox"], ["sh", "-c",
                                              f"echo {marker} > /marker"], network_disabled=True)
        try:
            box.start()
            box.wait(timeout=60)
            box.commit(repository=repo, tag="1", conf={"Cmd": ["cat", "/marker"]})
        finally:
            box.remove(force=True)
        for line in docker_client.images.push(repo, tag="1", stream=True, decode=True):
            if line.get("error"):
                raise RuntimeError(line["error"])
        return docker_client.images.get_registry_data(f"{repo}:1").id

    push("first")
    yield push, f"{repo}:1"
    docker_client.images.remove(f"{repo}:1", force=True)


def _marker(client, vmid: int) -> str:
    return client.containers.run(f"one-{vmid}:disk.0", remove=True,
                                 network_disabled=True).decode().strip()


def test_a_moved_tag_reaches_new_vms_and_spares_made_ones(shims, conf, moving_tag, new_id,
                                                          private_view, docker_client,
                                                          monkeypatch):
    push, ref = moving_tag
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{ref}"), image_id)
    assert res.rc == 0, res.stderr
    repo = res.stdout.split()[0]
    before = private_view.digest(repo)
    old_vm, new_vm = new_id(), new_id()
    try:
        assert shims.tm("clone", f"{FRONTEND}:{repo}", disk(old_vm, 0), str(old_vm), "1").rc == 0
        assert _marker(docker_client, old_vm) == "first"

        monkeypatch.setenv("ONEDOCK_CONF", str(conf))
        follow = Follow(config.load(None), repo, f"docker://{ref}")
        unmoved = follow.check()
        assert not unmoved.moved and "up to date" in unmoved.describe(dry_run=True)

        push("second")
        move = follow.check()
        assert move.moved and move.current == before
        said = move.describe(dry_run=True)
        assert said.startswith(f"{repo}: {ref.split('/', 1)[0]}/onedock-test/moving:1 would "
                               f"move from {before[:19]} to {move.upstream[:19]}")
        assert private_view.digest(repo) == before  # a dry run changes nothing

        follow.apply(move)
        assert private_view.digest(repo) == move.upstream
        assert private_view.digest(repo, move.kept_as) == before  # the old one stays named
        follow.apply(follow.check())  # again: nothing to do
        assert private_view.digest(repo) == move.upstream

        assert shims.tm("clone", f"{FRONTEND}:{repo}", disk(new_vm, 0), str(new_vm), "1").rc == 0
        assert _marker(docker_client, new_vm) == "second"
        assert _marker(docker_client, old_vm) == "first"
    finally:
        purge(docker_client, old_vm)
        purge(docker_client, new_vm)


@pytest.mark.parametrize("path, message", [
    ("/var/tmp/busybox.tar", "is not a docker:// reference: nothing to follow"),
    ("docker://busybox@sha256:" + "a" * 64, "is pinned by digest: nothing to follow"),
    ("docker://UPPER/case", "invalid image reference"),
])
def test_what_cannot_follow_a_tag_says_why(path, message):
    with pytest.raises(OneDockError, match=message):
        tag_of(path)
