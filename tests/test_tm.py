"""TM_MAD=onedock actions against real Docker engines, called with one_tm's argv."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import PROTOCOL, ds_xml
from tests.helpers import (
    DOWN,
    FRONTEND,
    HOST,
    HOST2,
    SYS,
    VOL_LABEL,
    disk,
    purge,
    tags,
    vmdir,
    volumes,
)


@pytest.fixture
def vm(new_id, docker_client, engine2):
    vmid = new_id()
    yield vmid
    purge(docker_client, vmid)
    purge(engine2.client, vmid)


@pytest.fixture(scope="module")
def source(harness, images):
    image_id = 900000 + id(harness) % 1000
    res = harness.ds("cp", ds_xml(image_id, path=f"docker://{images['busybox']}"), image_id)
    assert res.rc == 0, res.stderr
    return res.stdout.split()[0]


def _run(client, image, command, volumes=None):
    out = client.containers.run(image, ["sh", "-c", command], remove=True,
                                network_disabled=True, volumes=volumes or {})
    return out.decode().strip()


def _write_volume(client, name: str, text: str) -> None:
    client.containers.run(_busybox(client), ["sh", "-c", f"echo {text} > /v/file"],
                          remove=True, network_disabled=True, volumes={name: {"bind": "/v"}})


def _busybox(client) -> str:
    found = [t for i in client.images.list() for t in i.tags if "/library/busybox:" in t]
    assert found, "busybox test image missing on this engine"
    return found[0]


def _read_volume(client, name: str) -> str:
    return _run(client, _busybox(client), "cat /v/file", {name: {"bind": "/v"}})


def test_clone_stages_the_pinned_image(harness, source, private_view, private, docker_client,
                                       vm):
    res = harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0), str(vm), "1")
    assert (res.rc, res.stdout, res.stderr) == (0, "", "")
    staged = docker_client.images.get(f"one-{vm}:disk.0")
    digest = private_view.digest(source)
    assert f"{private.host}/{source}@{digest}" in staged.attrs["RepoDigests"]
    again = harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0), str(vm), "1")
    assert again.rc == 0, again.stderr
    assert docker_client.images.get(f"one-{vm}:disk.0").id == staged.id


def test_ln_stages_a_persistent_image(harness, source, docker_client, vm):
    res = harness.tm("ln", f"{FRONTEND}:{source}", disk(vm, 1), str(vm), "1")
    assert res.rc == 0, res.stderr
    assert f"one-{vm}:disk.1" in tags(docker_client, vm)


def test_clone_of_an_unregistered_source(harness, docker_client, vm):
    res = harness.tm("clone", f"{FRONTEND}:onedock/image-424242", disk(vm, 0), str(vm), "1")
    assert res.rc == 1
    assert "onedock/image-424242:latest is not in the private registry" in res.error_line
    assert tags(docker_client, vm) == set()


HOSTILE = [
    ("one-fe:onedock/x;reboot", "node01:/var/lib/one//datastores/0/5/disk.0", "5",
     "not a valid repository name"),
    ("one-fe:onedock/image-1", "node01;id:/var/lib/one//datastores/0/5/disk.0", "5",
     "not a valid host name"),
    ("one-fe:onedock/image-1", "-oProxyCommand=id:/x/disk.0", "5", "not a valid host name"),
    ("one-fe:onedock/image-1", "node01:/var/lib/one/../../etc/disk.0", "5", "unsafe path"),
    ("one-fe:onedock/image-1", "node01:relative/disk.0", "5", "unsafe path"),
    ("one-fe:onedock/image-1", "node01:/var/lib/one//datastores/0/5/disk.0", "5;reboot",
     "is not a number"),
    ("one-fe:onedock/image-1", "node01:/var/lib/one//datastores/0/5", "5", "not a disk path"),
]


@pytest.mark.parametrize("src,dst,vmid,message", HOSTILE)
def test_hostile_arguments(harness, docker_client, src, dst, vmid, message):
    res = harness.tm("clone", src, dst, vmid, "1")
    assert res.rc == 1
    assert message in res.error_line
    assert res.error_line.startswith("tm/clone: ")
    assert tags(docker_client, 5) == set()


def test_wrong_argument_count(harness):
    res = harness.tm("clone", "one-fe:onedock/image-1")
    assert res.rc == 1 and "expected 4 arguments" in res.error_line


def test_engine_down_is_a_clear_error(harness, source, vm):
    res = harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0, DOWN), str(vm), "1")
    assert res.rc == 1
    assert f"Docker engine of {DOWN} unreachable" in res.error_line
    assert "is dockerd running there" in res.error_line


def test_mkimage_makes_a_labelled_volume(harness, docker_client, vm):
    for _ in range(2):
        res = harness.tm("mkimage", "256", "raw", disk(vm, 2), str(vm), "0")
        assert res.rc == 0, res.stderr
    vol = docker_client.volumes.get(f"one-{vm}-disk.2")
    labels = vol.attrs["Labels"]
    assert labels[VOL_LABEL] == str(vm)
    assert labels["org.opennebula.onedock.role"] == "volatile"
    assert labels["org.opennebula.onedock.size_mb"] == "256"


def test_mkswap_is_refused(harness, vm):
    res = harness.tm("mkswap", "1024", disk(vm, 3), str(vm), "0")
    assert res.rc == 1 and "no swap disks" in res.error_line


def test_context_lands_in_a_volume(harness, docker_client, images, tmp_path, vm):
    ctx = tmp_path / "context.sh"
    ctx.write_text("# Context variables generated by OpenNebula\nHOSTNAME='vm-ctx'\n")
    extra = tmp_path / "init.sh"
    extra.write_text("echo hi\n")
    res = harness.tm("context", str(ctx), f"{extra}:'start.sh'", disk(vm, 1), str(vm), "0")
    assert res.rc == 0, res.stderr
    name = f"one-{vm}-disk.1"
    out = _run(docker_client, images["busybox"], "cat /c/context.sh; cat /c/start.sh",
               {name: {"bind": "/c"}})
    assert "HOSTNAME='vm-ctx'" in out and "echo hi" in out
    assert docker_client.volumes.get(name).attrs["Labels"]["org.opennebula.onedock.role"] == \
        "context"


def test_context_with_a_missing_file_makes_nothing(harness, docker_client, tmp_path, vm):
    res = harness.tm("context", str(tmp_path / "nope.sh"), disk(vm, 1), str(vm), "0")
    assert res.rc == 1 and "cannot read context file" in res.error_line
    assert volumes(docker_client, vm) == set()


def test_datablock_from_mkfs_becomes_a_volume(harness, docker_client, new_id, vm):
    image_id = new_id()
    assert harness.ds("mkfs", ds_xml(image_id, size=64, type_=2), image_id).rc == 0
    res = harness.tm("clone", f"{FRONTEND}:onedock/image-{image_id}", disk(vm, 1), str(vm), "1")
    assert res.rc == 0, res.stderr
    assert f"one-{vm}-disk.1" in volumes(docker_client, vm)
    assert tags(docker_client, vm) == set()


def test_delete_disk_then_directory(harness, source, private, private_view, docker_client, vm):
    assert harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0), str(vm), "1").rc == 0
    assert harness.tm("mkimage", "10", "raw", disk(vm, 2), str(vm), "0").rc == 0
    res = harness.tm("delete", disk(vm, 0), str(vm), "1")
    assert res.rc == 0, res.stderr
    assert f"one-{vm}:disk.0" not in tags(docker_client, vm)
    cached = f"{private.host}/{source}@{private_view.digest(source)}"
    docker_client.images.get(cached)  # the host keeps its cache for the next VM
    for _ in range(2):
        res = harness.tm("delete", vmdir(vm), str(vm), "0")
        assert res.rc == 0, res.stderr
    assert volumes(docker_client, vm) == set() and tags(docker_client, vm) == set()


def test_stop_and_resume_through_the_registry(harness, source, private_view, docker_client,
                                              vm):
    """STOP moves disks host -> front-end (parked in the registry), RESUME moves them back."""
    assert harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0), str(vm), "1").rc == 0
    assert harness.tm("mkimage", "10", "raw", disk(vm, 2), str(vm), "0").rc == 0
    _write_volume(docker_client, f"one-{vm}-disk.2", "kept-across-stop")
    for line in (disk(vm, 0), disk(vm, 2), vmdir(vm)):
        fe = FRONTEND + line[len(HOST):]
        res = harness.tm("mv", line, fe, str(vm), "0")
        assert res.rc == 0, res.stderr
    assert tags(docker_client, vm) == set() and volumes(docker_client, vm) == set()
    assert private_view.digest(f"onedock/vm-{vm}", "disk.0") is not None
    assert private_view.digest(f"onedock/vm-{vm}", "disk.2") is not None
    for line in (disk(vm, 0), disk(vm, 2), vmdir(vm)):
        fe = FRONTEND + line[len(HOST):]
        res = harness.tm("mv", fe, line, str(vm), "0")
        assert res.rc == 0, res.stderr
    assert f"one-{vm}:disk.0" in tags(docker_client, vm)
    assert _read_volume(docker_client, f"one-{vm}-disk.2") == "kept-across-stop"


def test_cold_migration_between_two_engines(harness, source, docker_client, engine2, vm):
    assert harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0), str(vm), "1").rc == 0
    assert harness.tm("mkimage", "10", "raw", disk(vm, 2), str(vm), "0").rc == 0
    _write_volume(docker_client, f"one-{vm}-disk.2", "moved-to-host2")
    for src, dst in ((disk(vm, 0), disk(vm, 0, HOST2)), (disk(vm, 2), disk(vm, 2, HOST2)),
                     (vmdir(vm), vmdir(vm, HOST2))):
        for _ in range(2):  # every action is safe to retry
            res = harness.tm("mv", src, dst, str(vm), "0")
            assert res.rc == 0, res.stderr
    assert tags(docker_client, vm) == set() and volumes(docker_client, vm) == set()
    assert f"one-{vm}:disk.0" in tags(engine2.client, vm)
    out = engine2.client.containers.run(f"one-{vm}:disk.0", ["cat", "/v/file"], remove=True,
                                        network_disabled=True,
                                        volumes={f"one-{vm}-disk.2": {"bind": "/v"}})
    assert out.decode().strip() == "moved-to-host2"


def _container_with_change(client, vmid: int, text: str) -> None:
    box = client.containers.create(f"one-{vmid}:disk.0", ["sh", "-c", f"echo {text} > /saved"],
                                   name=f"one-{vmid}", network_disabled=True,
                                   labels={"org.opennebula.onedock.disk": "0"})
    box.start()
    box.wait(timeout=60)


def test_mvds_saves_the_writable_layer_into_the_image(harness, images, docker_client, new_id,
                                                      private_view, vm):
    image_id = new_id()
    assert harness.ds("cp", ds_xml(image_id, path=f"docker://{images['busybox']}"),
                      image_id).rc == 0
    src = f"onedock/image-{image_id}"
    before = private_view.digest(src)
    assert harness.tm("ln", f"{FRONTEND}:{src}", disk(vm, 0), str(vm), "1").rc == 0
    _container_with_change(docker_client, vm, "persistent-change")
    res = harness.tm("mvds", disk(vm, 0), src, str(vm), "1")
    assert res.rc == 0, res.stderr
    assert private_view.digest(src) != before
    other = new_id()
    try:
        assert harness.tm("clone", f"{FRONTEND}:{src}", disk(other, 0), str(other), "1").rc == 0
        assert _run(docker_client, f"one-{other}:disk.0", "cat /saved") == "persistent-change"
    finally:
        purge(docker_client, other)


def test_cpds_saves_a_volume_as_a_new_image(harness, docker_client, new_id, vm):
    target = new_id()
    assert harness.ds("mkfs", ds_xml(target, size=10, type_=2), target).rc == 0
    assert harness.tm("mkimage", "10", "raw", disk(vm, 2), str(vm), "0").rc == 0
    _write_volume(docker_client, f"one-{vm}-disk.2", "saved-as")
    res = harness.tm("cpds", disk(vm, 2), f"onedock/image-{target}", "-1", str(vm), "0")
    assert res.rc == 0, res.stderr
    other = new_id()
    try:
        res = harness.tm("clone", f"{FRONTEND}:onedock/image-{target}", disk(other, 1),
                         str(other), "1")
        assert res.rc == 0, res.stderr
        assert _read_volume(docker_client, f"one-{other}-disk.1") == "saved-as"
    finally:
        purge(docker_client, other)


def _vm_b64(vmid: int, source: str) -> bytes:
    xml = (PROTOCOL / "lxc_deployment.xml").read_text()
    xml = xml.replace("<ID>42</ID>", f"<ID>{vmid}</ID>", 1)
    xml = xml.replace("<SOURCE>/var/lib/one//datastores/1/3a5f6f2b9d1c4e7f8a0b1c2d3e4f5a6b"
                      "</SOURCE>", f"<SOURCE>{source}</SOURCE>")
    xml = xml.replace("<TM_MAD>ssh</TM_MAD><TYPE>FILE</TYPE></DISK>",
                      "<TM_MAD>onedock</TM_MAD><TYPE>FILE</TYPE></DISK>")
    return base64.b64encode(xml.encode())


def test_premigrate_then_postmigrate(harness, source, docker_client, engine2, vm):
    assert harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0), str(vm), "1").rc == 0
    args = (HOST, HOST2, f"{SYS}/{vm}", str(vm), "0")
    res = harness.tm("premigrate", *args, stdin=_vm_b64(vm, source))
    assert res.rc == 0, res.stderr
    assert f"one-{vm}:disk.0" in tags(engine2.client, vm)
    res = harness.tm("postmigrate", *args, stdin=_vm_b64(vm, source))
    assert res.rc == 0, res.stderr
    assert tags(docker_client, vm) == set()


def test_failmigrate_undoes_premigrate(harness, source, docker_client, engine2, vm):
    assert harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0), str(vm), "1").rc == 0
    args = (HOST, HOST2, f"{SYS}/{vm}", str(vm), "0")
    assert harness.tm("premigrate", *args, stdin=_vm_b64(vm, source)).rc == 0
    res = harness.tm("failmigrate", *args, stdin=_vm_b64(vm, source))
    assert res.rc == 0, res.stderr
    assert tags(engine2.client, vm) == set()
    assert f"one-{vm}:disk.0" in tags(docker_client, vm)


def test_premigrate_with_garbage_on_stdin(harness, vm):
    res = harness.tm("premigrate", HOST, HOST2, f"{SYS}/{vm}", str(vm), "0", stdin=b"%%%")
    assert res.rc == 1 and "not valid base64" in res.error_line


def test_stopped_vm_saveas_and_delete_on_the_frontend(harness, source, docker_client, new_id,
                                                      private_view, vm):
    """disk-saveas and terminate of a STOPPED VM name the front-end: the registry answers."""
    assert harness.tm("clone", f"{FRONTEND}:{source}", disk(vm, 0), str(vm), "1").rc == 0
    fe = FRONTEND + disk(vm, 0)[len(HOST):]
    assert harness.tm("mv", disk(vm, 0), fe, str(vm), "0").rc == 0
    assert private_view.digest(f"onedock/vm-{vm}", "disk.0") is not None
    target = new_id()
    assert harness.ds("mkfs", ds_xml(target, size=10), target).rc == 0
    res = harness.tm("cpds", fe, f"onedock/image-{target}", "-1", str(vm), "1")
    assert res.rc == 0, res.stderr
    assert private_view.digest(f"onedock/image-{target}") == \
        private_view.digest(f"onedock/vm-{vm}", "disk.0")
    for path in (fe, f"{FRONTEND}:{SYS}/{vm}"):
        res = harness.tm("delete", path, str(vm), "0")
        assert res.rc == 0, res.stderr
    assert private_view.digest(f"onedock/vm-{vm}", "disk.0") is None
