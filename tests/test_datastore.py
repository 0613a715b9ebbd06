"""DS_MAD=onedock actions against real registries, called with oned's argv and stdin."""

from __future__ import annotations

import base64
import http.server
import math
import threading

import pytest

from tests.conftest import PROTOCOL, ds_xml


def _registered(shims, images, new_id, name="busybox"):
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{images[name]}"), image_id)
    assert res.rc == 0, res.stderr
    return image_id, res.stdout.split()[0]


def _size(view, repo, ref="latest"):
    manifest = view.manifest(repo, ref)
    return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def test_cp_copies_and_pins_the_digest(shims, images, hub_view, private_view, new_id):
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{images['multi']}"), image_id)
    assert res.rc == 0, res.stderr
    assert res.stdout == f"onedock/image-{image_id} docker\n"
    assert res.stderr == ""
    hub_digest = hub_view.digest("onedock-test/multi")
    assert private_view.digest(f"onedock/image-{image_id}") == hub_digest
    manifest = private_view.manifest(f"onedock/image-{image_id}")
    assert len(manifest["layers"]) == 4
    for blob in [manifest["config"], *manifest["layers"]]:
        assert private_view.has_blob(f"onedock/image-{image_id}", blob["digest"])


def test_cp_of_the_path_the_610_cli_writes(shims, images, hub_view, private_view, new_id):
    """`oneimage create --path docker://REF` run in /home/user arrives as /home/user/docker://REF."""
    image_id = new_id()
    path = f"/var/lib/one/docker://{images['multi']}"
    res = shims.ds("cp", ds_xml(image_id, path=path), image_id)
    assert res.rc == 0, res.stderr
    assert private_view.digest(f"onedock/image-{image_id}") == hub_view.digest("onedock-test/multi")
    res = shims.ds("stat", ds_xml(path=path), 123)
    assert res.rc == 0 and int(res.stdout) >= 1, res.stderr


def test_registered_image_does_not_follow_the_upstream_tag(
    shims, images, hub, docker_client, private_view, new_id
):
    tag = f"{hub.host}/library/moving"
    docker_client.images.get(images["busybox"]).tag(tag, "v1")
    docker_client.images.push(tag, tag="v1")
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{tag}:v1"), image_id)
    assert res.rc == 0, res.stderr
    pinned = private_view.digest(f"onedock/image-{image_id}")
    docker_client.images.get(images["multi"]).tag(tag, "v1")
    docker_client.images.push(tag, tag="v1")
    assert private_view.digest(f"onedock/image-{image_id}") == pinned


def test_cp_by_digest_and_twice_is_the_same(shims, images, hub_view, private_view, new_id):
    digest = hub_view.digest("library/busybox")
    ref = images["busybox"].rsplit(":", 1)[0] + f"@{digest}"
    image_id = new_id()
    for _ in range(2):
        res = shims.ds("cp", ds_xml(image_id, path=f"docker://{ref}"), image_id)
        assert res.rc == 0, res.stderr
    assert private_view.digest(f"onedock/image-{image_id}") == digest


def test_stat_reports_the_manifest_size_in_mb(shims, images, hub_view, new_id):
    res = shims.ds("stat", ds_xml(path=f"docker://{images['multi']}"), 123)
    assert res.rc == 0, res.stderr
    manifest_len = len(hub_view._req("GET", "/v2/onedock-test/multi/manifests/latest")[2])
    expected = math.ceil((_size(hub_view, "onedock-test/multi") + manifest_len) / (1 << 20))
    assert res.stdout == f"{expected}\n"
    assert expected >= 12  # three 4 MiB random layers do not compress


def test_cp_of_a_docker_save_archive_runs(shims, images, docker_client, private, new_id):
    import tempfile
    from pathlib import Path

    safe = Path(tempfile.mkdtemp(dir="/var/tmp"))  # the example datastore's SAFE_DIRS
    archive = safe / "multi.tar"
    with open(archive, "wb") as out:
        for chunk in docker_client.images.get(images["multi"]).save():
            out.write(chunk)
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=str(archive)), image_id)
    assert res.rc == 0, res.stderr
    ref = f"{private.host}/onedock/image-{image_id}:latest"
    docker_client.images.pull(ref)
    try:
        out = docker_client.containers.run(ref, ["sh", "-c", "ls /data | wc -l"], remove=True,
                                           network_disabled=True)
        assert out.strip() == b"3"  # the three data layers on top of busybox
    finally:
        docker_client.images.remove(ref, force=True)
        archive.unlink()
        safe.rmdir()


def test_archive_outside_safe_dirs_is_refused(shims, tmp_path, new_id):
    xml = ds_xml(new_id(), path="/etc/passwd")  # example template: RESTRICTED_DIRS=/ SAFE=/var/tmp
    res = shims.ds("cp", xml, 1)
    assert res.rc == 1
    assert "not allowed to copy images from /etc/passwd" in res.error_line
    assert res.stdout == ""


def test_clone_is_a_registry_side_copy(shims, images, private_view, new_id):
    _, source = _registered(shims, images, new_id, "multi")
    new = new_id()
    res = shims.ds("clone", ds_xml(new, path=source), new)
    assert res.rc == 0, res.stderr
    assert res.stdout == f"onedock/image-{new} docker\n"
    assert private_view.digest(f"onedock/image-{new}") == private_view.digest(source)


def test_rm_deletes_the_manifest_and_repeats_safely(shims, images, private_view, new_id):
    image_id, source = _registered(shims, images, new_id)
    manifest = private_view.manifest(source)
    for _ in range(2):
        res = shims.ds("rm", ds_xml(image_id, source=source), image_id)
        assert res.rc == 0, res.stderr
    assert private_view.digest(source) is None
    assert not private_view.has_blob(source, manifest["layers"][0]["digest"])


def test_rm_of_one_image_keeps_its_clone(shims, images, private_view, new_id):
    image_id, source = _registered(shims, images, new_id)
    clone_id = new_id()
    assert shims.ds("clone", ds_xml(clone_id, path=source), clone_id).rc == 0
    assert shims.ds("rm", ds_xml(image_id, source=source), image_id).rc == 0
    assert private_view.digest(f"onedock/image-{clone_id}") is not None


def test_mkfs_makes_an_empty_volume_image(shims, private_view, new_id):
    image_id = new_id()
    res = shims.ds("mkfs", ds_xml(image_id, size=512, type_=2, fs="ext4"), image_id)
    assert res.rc == 0, res.stderr
    assert res.stdout == f"onedock/image-{image_id}\n"  # mkfs prints SOURCE only
    manifest = private_view.manifest(f"onedock/image-{image_id}")
    import json

    config = json.loads(private_view.blob(f"onedock/image-{image_id}",
                                          manifest["config"]["digest"]))
    labels = config["config"]["Labels"]
    assert labels["org.opennebula.onedock.kind"] == "volume"
    assert labels["org.opennebula.onedock.size_mb"] == "512"


def test_monitor_reports_registry_storage(shims, images, private, new_id):
    _registered(shims, images, new_id, "multi")
    res = shims.ds("monitor", ds_xml(), 1)
    assert res.rc == 0, res.stderr
    values = dict(line.split("=") for line in res.stdout.split())
    assert set(values) == {"USED_MB", "FREE_MB", "TOTAL_MB"}
    used, free, total = (int(values[k]) for k in ("USED_MB", "FREE_MB", "TOTAL_MB"))
    assert used >= 12 and 0 < free < total
    import os

    fs = os.statvfs(private.storage)
    assert total == fs.f_blocks * fs.f_frsize >> 20


def test_old_calling_convention_base64_in_argv(shims, remotes, images, new_id):
    """OpenNebula <= 6.6 runs `cp <base64> <id>` with an empty stdin."""
    image_id = new_id()
    payload = base64.b64encode(ds_xml(image_id, path=f"docker://{images['busybox']}").encode())
    res = shims.run([str(shims.script("datastore", "cp")), payload.decode(), str(image_id)])
    assert res.rc == 0, res.stderr
    assert res.stdout == f"onedock/image-{image_id} docker\n"


def test_protocol_example_replayed_verbatim(shims):
    """ds_cp.b64 exactly as oned sends it: a raw file PATH under SAFE_DIRS that does not exist."""
    res = shims.ds("cp", b"", 7, raw=(PROTOCOL / "ds_cp.b64").read_bytes())
    assert res.rc == 1
    assert res.error_line == "datastore/cp: /var/tmp/alpine-rootfs.raw is not a file"


BAD_INPUTS = {
    "bad base64": (b"PERTX0RSSVZFUl9BQ1RJT05fREFUQT4*!!", "not valid base64"),
    "empty stdin": (b"", "is empty"),
    "xml bomb": (base64.b64encode(
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<DS_DRIVER_ACTION_DATA>&b;</DS_DRIVER_ACTION_DATA>"), "forbidden XML"),
    "external entity": (base64.b64encode(
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><DS_DRIVER_ACTION_DATA>&e;'
        b"</DS_DRIVER_ACTION_DATA>"), "forbidden XML"),
    "not xml": (base64.b64encode(b"<DS_DRIVER_ACTION_DATA><IMAGE>"), "not well-formed"),
    "wrong root": (base64.b64encode(b"<VM><ID>1</ID></VM>"), "expected <DS_DRIVER_ACTION_DATA>"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_malformed_payloads_fail_in_one_line(shims, case):
    raw, message = BAD_INPUTS[case]
    res = shims.ds("cp", b"", 5, raw=raw)
    assert res.rc == 1
    assert message in res.error_line
    assert res.stdout == ""


HOSTILE_PATHS = [
    "docker://busybox;rm -rf /",
    "/home/u/docker://busybox;rm -rf /",
    "/home/u/docker://",
    "docker://$(id)",
    "docker://`reboot`",
    "docker://../../etc/passwd",
    "docker://Busybox",
    "docker://busybox:la test",
    "docker://busybox@sha256:1234",
    "docker://127.0.0.1:1/a|b",
    "http://example.invalid/img.tar",
    "relative/archive.tar",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_are_refused_and_leave_nothing(shims, private_view, new_id, path):
    image_id = new_id()
    for action in ("cp", "stat"):
        res = shims.ds(action, ds_xml(image_id, path=path), image_id)
        assert res.rc == 1, res.stdout
        assert res.error_line.startswith(f"datastore/{action}: ")
        assert res.stdout == ""
    assert private_view.digest(f"onedock/image-{image_id}") is None


def test_missing_path_is_an_error(shims, new_id):
    res = shims.ds("cp", ds_xml(new_id(), path=""), 3)
    assert res.rc == 1
    assert "has no PATH" in res.error_line


def test_image_that_does_not_exist(shims, hub, private_view, new_id):
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{hub.host}/library/nope:1"), image_id)
    assert res.rc == 1
    assert "not found" in res.error_line and "library/nope" in res.error_line
    assert private_view.digest(f"onedock/image-{image_id}") is None


def test_registry_down(shims, images, conf, tmp_path, new_id):
    from lab.registries import free_port

    bad = tmp_path / "down.conf"
    bad.write_text(conf.read_text().replace(
        conf.read_text().split('"')[1], f"127.0.0.1:{free_port()}", 1))
    env = dict(shims.env, ONEDOCK_CONF=str(bad))
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{images['busybox']}"), image_id,
                     env=env)
    assert res.rc == 1
    assert "unreachable" in res.error_line and "is the registry running" in res.error_line


class _Broken(http.server.BaseHTTPRequestHandler):
    """A registry that answers every blob request with 500 after serving real manifests."""

    upstream = ""

    def do_GET(self):  # noqa: N802
        import urllib.request

        if "/blobs/" in self.path:
            self.send_response(500)
            body = b'{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}'
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        req = urllib.request.Request(f"http://{self.upstream}{self.path}",
                                     headers={"Accept": self.headers.get("Accept", "")})
        with urllib.request.urlopen(req) as resp:
            body = resp.read()
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.headers["Content-Type"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_source_registry_answering_500_leaves_nothing(shims, images, hub, private_view,
                                                      new_id):
    _Broken.upstream = hub.host
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        image_id = new_id()
        res = shims.ds("cp", ds_xml(image_id, path=f"docker://127.0.0.1:{port}/onedock-test/"
                                                      "multi:latest"), image_id)
        assert res.rc == 1
        assert "answered 500" in res.error_line and "disk on fire" in res.error_line
        repo = f"onedock/image-{image_id}"
        assert private_view.digest(repo) is None
        # blobs copied before the failure were unlinked again
        hub_manifest = type(private_view)(hub.host).manifest("onedock-test/multi")
        for blob in [hub_manifest["config"], *hub_manifest["layers"]]:
            assert not private_view.has_blob(repo, blob["digest"])
    finally:
        server.shutdown()


def test_the_private_registry_is_not_a_source(shims, images, private, new_id):
    """Its repositories are other images' disks: reading them would bypass ONE's ACLs."""
    victim = new_id()
    assert shims.ds("cp", ds_xml(victim, path=f"docker://{images['busybox']}"), victim).rc == 0
    thief = new_id()
    res = shims.ds("cp", ds_xml(thief, path=f"docker://{private.host}/onedock/image-{victim}"),
                     thief)
    assert res.rc == 1 and "cannot be registered from the private registry" in res.error_line


def test_compressed_archives_are_refused(shims, docker_client, images, new_id):
    import gzip
    import tempfile
    from pathlib import Path

    safe = Path(tempfile.mkdtemp(dir="/var/tmp"))
    archive = safe / "busybox.tar.gz"
    try:
        with gzip.open(archive, "wb") as out:
            for chunk in docker_client.images.get(images["busybox"]).save():
                out.write(chunk)
        res = shims.ds("cp", ds_xml(new_id(), path=str(archive)), 1)
        assert res.rc == 1 and "is not a readable docker save archive" in res.error_line
    finally:
        archive.unlink(missing_ok=True)
        safe.rmdir()
