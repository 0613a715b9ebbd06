"""Fixtures: a real Docker engine, real registries, offline test images, and a shims that
runs the driver executables exactly as OpenNebula's MADs do (argv, stdin, exit code)."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from lab import engines, registries
from lab import images as lab_images
from lab.documents import PROTOCOL, Bridge, ds_xml  # noqa: F401 - re-exported
from lab.shims import Run, Shims  # noqa: F401 - Run re-exported
from tests import helpers
from tests.helpers import DOWN, FRONTEND, HOST, HOST2  # noqa: F401 - re-exported

ROOT = Path(__file__).resolve().parent.parent
REQUIRE = os.environ.get("ONEDOCK_REQUIRE_ENGINE") == "1"


def _missing(what: str):
    if REQUIRE:
        pytest.fail(f"{what} (ONEDOCK_REQUIRE_ENGINE=1: CI must provide it)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def docker_client():
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _missing(f"needs a running Docker engine: {exc}")
    return client


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory):
    return tmp_path_factory.mktemp("lab")


def _registry(root: Path, name: str):
    if shutil.which("docker-registry") is None:
        _missing("needs docker-registry (apt-get install docker-registry)")
    return registries.RegistryProcess(root / name).start()


@pytest.fixture(scope="session")
def hub(lab_root):
    """A registry standing in for Docker Hub."""
    reg = _registry(lab_root, "hub")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def private(lab_root):
    """The front-end's private registry, the cache of every registered image."""
    reg = _registry(lab_root, "private")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def images(docker_client, hub, private):
    yield lab_images.build_images(docker_client, hub.host)
    lab_images.remove_images(docker_client, (hub.host, private.host))


@pytest.fixture(scope="session")
def remotes(lab_root):
    return Shims.write(lab_root / "remotes").remotes


@pytest.fixture(scope="session")
def engine2(lab_root, docker_client):
    """A second Docker engine standing in for host 2 (own socket and data root)."""
    if shutil.which("dockerd") is None:
        _missing("needs dockerd for a second engine")
    engine = engines.SecondEngine(Path(tempfile.mkdtemp(prefix="od2-", dir="/tmp")))
    try:
        engine.start()
    except RuntimeError as exc:
        _missing(f"second dockerd failed to start: {exc}")
    import docker

    engine.client = docker.DockerClient(base_url=engine.url, timeout=120)
    yield engine
    engine.client.close()
    engine.remove()
    shutil.rmtree(engine.root, ignore_errors=True)


@pytest.fixture(scope="session")
def conf(lab_root, private, engine2):
    path = lab_root / "onedock.conf"
    path.write_text(
        f'registry = "{private.host}"\n'
        "registry_insecure = true\n"
        f'registry_storage = "{private.storage}"\n'
        f'frontend = "{FRONTEND}"\n'
        f'state_dir = "{lab_root / "state"}"\n'  # not the machine's /var/tmp/onedock
        "[hosts]\n"
        f'{HOST} = "unix:///var/run/docker.sock"\n'
        f'{HOST2} = "{engine2.url}"\n'
        f'{DOWN} = "unix:///nonexistent/docker.sock"\n'
    )
    return path


_ids = itertools.count(1000 + os.getpid() % 1000 * 100)


@pytest.fixture
def new_id():
    return lambda: next(_ids)


@pytest.fixture(scope="session")
def shims(remotes, conf):
    return Shims(remotes, conf)


class RegistryView:
    """Independent look at a registry over plain HTTP (not through onedock's client)."""

    ACCEPT = ("application/vnd.oci.image.manifest.v1+json, "
              "application/vnd.docker.distribution.manifest.v2+json, "
              "application/vnd.docker.distribution.manifest.list.v2+json, "
              "application/vnd.oci.image.index.v1+json")

    def __init__(self, host: str):
        self.host = host

    def _req(self, method: str, path: str):
        req = urllib.request.Request(f"http://{self.host}{path}", method=method,
                                     headers={"Accept": self.ACCEPT})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def digest(self, repo: str, ref: str = "latest") -> str | None:
        status, headers, _ = self._req("HEAD", f"/v2/{repo}/manifests/{ref}")
        return headers.get("Docker-Content-Digest") if status == 200 else None

    def manifest(self, repo: str, ref: str = "latest") -> dict:
        import json

        status, _, body = self._req("GET", f"/v2/{repo}/manifests/{ref}")
        assert status == 200, f"{repo}:{ref} -> {status}"
        return json.loads(body)

    def has_blob(self, repo: str, digest: str) -> bool:
        return self._req("HEAD", f"/v2/{repo}/blobs/{digest}")[0] == 200

    def tags(self, repo: str) -> list[str]:
        import json

        status, _, body = self._req("GET", f"/v2/{repo}/tags/list")
        return (json.loads(body).get("tags") or []) if status == 200 else []

    def blob(self, repo: str, digest: str) -> bytes:
        status, _, body = self._req("GET", f"/v2/{repo}/blobs/{digest}")
        assert status == 200
        return body


@pytest.fixture(scope="session")
def private_view(private):
    return RegistryView(private.host)


@pytest.fixture(scope="session")
def hub_view(hub):
    return RegistryView(hub.host)


# -- VMs: a staged image, test bridges, a VM whose prolog ran ----------------------------------

@pytest.fixture(scope="session")
def bridges(docker_client):
    if subprocess.run(["ip", "link", "show"], capture_output=True).returncode != 0:
        pytest.skip("needs iproute2")
    made = [Bridge("odtbr0", "10.213.10.0/24"), Bridge("odtbr1", "10.213.11.0/24")]
    yield made
    for bridge in made:
        bridge.remove()


@pytest.fixture(scope="session")
def image_source(shims, images):
    image_id = 800000 + id(shims) % 1000
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{images['busybox']}"), image_id)
    assert res.rc == 0, res.stderr
    return res.stdout.split()[0]


@pytest.fixture
def staged(shims, image_source, new_id, docker_client, engine2, tmp_path):
    """A VM whose prolog ran: disk.0 cloned, context in disk.1."""
    vmid = new_id()
    assert shims.tm("clone", f"{FRONTEND}:{image_source}", helpers.disk(vmid, 0), str(vmid),
                      "1").rc == 0
    ctx = tmp_path / "context.sh"
    ctx.write_text(f"# Context variables generated by OpenNebula\nHOSTNAME='vm{vmid}'\n")
    assert shims.tm("context", str(ctx), helpers.disk(vmid, 1), str(vmid), "0").rc == 0
    yield vmid
    helpers.purge(docker_client, vmid)
    helpers.purge(engine2.client, vmid)


