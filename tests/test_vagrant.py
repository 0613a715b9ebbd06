"""The Vagrant sandbox: the Vagrantfile's configuration, and a real docker-provider run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRE = os.environ.get("ONEDOCK_REQUIRE_ENGINE") == "1"


def vagrant(*args: str, **env: str) -> subprocess.CompletedProcess:
    if shutil.which("vagrant") is None:
        if REQUIRE:
            pytest.fail("needs vagrant (.ci/setup installs it)")
        pytest.skip("needs vagrant (apt-get install vagrant)")
    return subprocess.run(["vagrant", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, **env))


def invoke(*tasks: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *tasks], cwd=ROOT, text=True,
                          capture_output=True, timeout=900)


def test_vagrantfile_validates():
    proc = vagrant("validate")
    assert proc.returncode == 0, proc.stderr
    assert "validated successfully" in proc.stdout


def test_nodes_add_host_machines():
    proc = vagrant("status", ONEDOCK_NODES="2", VAGRANT_DEFAULT_PROVIDER="docker")
    assert proc.returncode == 0, proc.stderr
    for name in ("frontend", "host1", "host2"):
        assert name in proc.stdout
    assert "host3" not in proc.stdout


def test_untested_providers_are_configured():
    """libvirt and VirtualBox cannot boot here (no boxes offline); their blocks are checked."""
    text = (ROOT / "Vagrantfile").read_text()
    for provider in ("libvirt", "virtualbox"):
        block = text.split(f'm.vm.provider "{provider}"')[1].split("end")[0]
        assert 'override.vm.box = "debian/bookworm64"' in block
        assert "memory = 4096" in block
    assert "lv.nested = true" in text
    assert 'm.vm.provision "shell", path: "sandbox/vagrant-bootstrap.sh"' in text


@pytest.fixture(scope="module")
def docker_sandbox():
    vagrant("version")  # skips (or fails in CI) without vagrant
    pytest.importorskip("vagrant")
    invoke("sandbox.down", "--backend", "vagrant")
    try:
        proc = invoke("sandbox.up", "--backend", "vagrant")
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        yield
    finally:  # also when `up` failed half-way: its machine must not outlive the test
        proc = invoke("sandbox.down", "--backend", "vagrant")
    assert proc.returncode == 0, proc.stderr


def test_vagrant_docker_provider_up_and_smoke(docker_sandbox):
    status = invoke("sandbox.status", "--backend", "vagrant")
    assert '"state": "running"' in status.stdout
    proc = invoke("sandbox.smoke", "--backend", "vagrant")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
    assert "==> smoke PASSED" in proc.stdout
    again = invoke("sandbox.up", "--backend", "vagrant")
    assert again.returncode == 0 and "machine up" not in again.stdout
