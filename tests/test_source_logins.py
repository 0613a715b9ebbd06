"""`cp` and `stat` from source registries that ask for a login, against real registries on
loopback: one with htpasswd basic auth, one with bearer tokens from a token service that
refuses anonymous pulls (as Docker Hub's would for a private repository). The logins come from
a `docker login` config.json (plain `auths`) and from a credential helper named in the
datastore's REGISTRY_AUTH_FILE."""

from __future__ import annotations

import base64
import json
import os

import pytest

from lab.registries import Htpasswd, RegistryProcess, TokenService
from onedock.registry import image as images_mod
from onedock.registry.client import Registry
from onedock.registry.copy import copy_image
from tests.conftest import ds_xml

USER, PASSWORD = "builder", "Corr3ct-Horse-Battery"
REPO = "team/busybox"


def _seed(hub, target: str, *, username: str = USER, password: str = PASSWORD) -> None:
    """The lab's busybox, copied into `target` with the login it asks for."""
    src = Registry(hub.host, secure=False)
    dst = Registry(target, secure=False, username=username, password=password)
    found = images_mod.resolve(src, "library/busybox", "latest", "linux/amd64")
    copy_image(found, dst, REPO, "latest", src=src, src_repo="library/busybox")


SHIMS_ENV: dict = {}


@pytest.fixture(autouse=True)
def _shims_env(shims):
    SHIMS_ENV.clear()
    SHIMS_ENV.update(shims.env)


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory, hub, images):
    root = tmp_path_factory.mktemp("basic-registry")
    reg = RegistryProcess(root, auth=Htpasswd(root, {USER: PASSWORD}).section).start()
    _seed(hub, reg.host)
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory, hub, images):
    root = tmp_path_factory.mktemp("token-registry")
    tokens = TokenService(root, {USER: PASSWORD})
    reg = RegistryProcess(root, auth=tokens.section).start()
    reg.tokens = tokens
    _seed(hub, reg.host)
    yield reg
    reg.stop()
    tokens.stop()


def _docker_config(tmp_path, host: str, password: str = PASSWORD) -> dict:
    """An environment whose `docker login` config.json holds a plain auths entry."""
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return {**SHIMS_ENV, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")}


def _nobody(tmp_path) -> dict:
    home = tmp_path / "nobody"
    home.mkdir(exist_ok=True)
    return {**SHIMS_ENV, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")}


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_cp_with_the_login_of_docker_config(kind, request, shims, private_view, new_id,
                                            tmp_path):
    reg = request.getfixturevalue(f"{kind}_registry")
    env = _docker_config(tmp_path, reg.host)
    image_id = new_id()
    xml = ds_xml(image_id, path=f"docker://{reg.host}/{REPO}:latest")
    size = shims.ds("stat", xml, image_id, env=env)
    assert size.rc == 0 and int(size.stdout) >= 1, size.stderr
    res = shims.ds("cp", xml, image_id, env=env)
    assert res.rc == 0, res.stderr
    assert private_view.digest(f"onedock/image-{image_id}") is not None
    assert PASSWORD not in res.stdout + res.stderr
    if kind == "token":
        assert {"user": USER, "authorization": True,
                "scope": f"repository:{REPO}:pull"} in reg.tokens.requests


def test_cp_with_a_credential_helper_named_in_the_datastore(token_registry, shims,
                                                            private_view, new_id, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-lab"
    helper.write_text("#!/bin/sh\nread -r server\n"
                      f"echo '{{\"ServerURL\":\"'\"$server\"'\",\"Username\":\"{USER}\","
                      f"\"Secret\":\"{PASSWORD}\"}}'\n")
    helper.chmod(0o755)
    auth_file = tmp_path / "group-a-auth.json"
    auth_file.write_text(json.dumps({"credHelpers": {token_registry.host: "lab"}}))
    env = {**_nobody(tmp_path), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{token_registry.host}/{REPO}",
                                auth_file=str(auth_file)), image_id, env=env)
    assert res.rc == 0, res.stderr
    assert private_view.digest(f"onedock/image-{image_id}") is not None


@pytest.mark.parametrize("kind, login, message", [
    ("basic", False, r"registry 127.0.0.1:\d+ wants a user name and password \(`docker login "
                     r"127.0.0.1:\d+` as oneadmin on the front-end, or a file in the "
                     r"datastore's REGISTRY_AUTH_FILE\)"),
    ("basic", True, r"registry 127.0.0.1:\d+ refused the login \(`docker login"),
    ("token", False, r"registry 127.0.0.1:\d+ does not allow anonymous pulls \(`docker login"),
    ("token", True, r"registry 127.0.0.1:\d+ refused the login \(`docker login"),
])
def test_a_missing_or_wrong_login_is_one_line_and_registers_nothing(
        kind, login, message, request, shims, private_view, new_id, tmp_path):
    import re

    reg = request.getfixturevalue(f"{kind}_registry")
    env = _docker_config(tmp_path, reg.host, "wrong-" + PASSWORD) if login else \
        _nobody(tmp_path)
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{reg.host}/{REPO}"), image_id,
                   env=env)
    assert res.rc == 1
    assert re.match("datastore/cp: " + message, res.stderr), res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.endswith(")\n")
    assert "wrong-" not in res.stderr and PASSWORD not in res.stderr
    assert private_view.digest(f"onedock/image-{image_id}") is None


def test_a_datastore_file_that_is_not_there_is_refused(token_registry, shims, new_id,
                                                       tmp_path):
    image_id = new_id()
    res = shims.ds("cp", ds_xml(image_id, path=f"docker://{token_registry.host}/{REPO}",
                                auth_file=str(tmp_path / "absent.json")), image_id,
                   env=_nobody(tmp_path))
    assert res.rc == 1
    assert res.stderr.startswith(f"datastore/cp: REGISTRY_AUTH_FILE {tmp_path}/absent.json of "
                                 "the datastore is not an existing file on the front-end")
