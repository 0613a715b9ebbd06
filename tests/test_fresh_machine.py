"""The README's first command on a fresh Debian: `.ci/setup`, LXD's initialisation and the
local smoke workflow, in a bare system container (debootstrap --variant=minbase plus the init
a system container boots with; nothing else preinstalled).

A missing install step (a package that only came by Recommends, a daemon nobody starts) fails
here rather than on a newcomer's first try. The container is LXD's (privileged, nesting), since
this machine refuses privileged Docker containers; its address is set by LXD before boot, so the
image needs no network tools. The nested `invoke sandbox.up` (LXD in LXD) is not run: it would
bootstrap a second Debian and double the time; `.ci/setup` and LXD's initialisation are what
failed on a fresh machine before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REQUIRE
from tests.test_package import _mirror

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("ONEDOCK_CACHE", Path.home() / ".cache" / "onedock"))
SUITE = "bookworm"
ALIAS = f"onedock-ci/{SUITE}-bare-1"
NAME = f"onedock-fresh-{os.getpid()}"
CA = Path("/etc/ssl/certs/ca-certificates.crt")  # this machine's trust, for pip in the guest
LIMIT = 1500  # seconds for the whole first command


def _missing(what: str):
    if REQUIRE:
        pytest.fail(f"{what} (ONEDOCK_REQUIRE_ENGINE=1: CI must provide it)")
    pytest.skip(what)


def _run(argv, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, (proc.args, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def _image() -> str:
    """The bare image in LXD, bootstrapped once into the cache."""
    if _run(["lxc", "image", "info", ALIAS], 60).returncode == 0:
        return ALIAS
    tarball = CACHE / f"{SUITE}-bare-1.tar.gz"
    if not tarball.exists():
        root = CACHE / f"{SUITE}-bare.partial"
        shutil.rmtree(root, ignore_errors=True)
        _ok(_run(["debootstrap", "--variant=minbase", "--include=systemd-sysv", SUITE,
                  str(root), _mirror()], 900))
        from sandbox.image import pack

        pack(root, tarball)
        shutil.rmtree(root, ignore_errors=True)
    _ok(_run(["lxc", "image", "import", str(tarball), "--alias", ALIAS], 600))
    return ALIAS


def _address() -> tuple[str, str]:
    """(address/prefix, gateway) on lxdbr0, far from the sandbox's .200."""
    import ipaddress

    proc = _run(["lxc", "network", "get", "lxdbr0", "ipv4.address"], 60)
    if proc.returncode != 0 or "/" not in proc.stdout:
        _missing("LXD has no lxdbr0 with an IPv4 address (lxd init first)")
    gateway = ipaddress.ip_interface(proc.stdout.strip())
    return f"{gateway.network.network_address + 201}/{gateway.network.prefixlen}", str(gateway.ip)


def _in(*argv: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return _run(["lxc", "exec", NAME, "--env", "PIP_CERT=/etc/onedock-host-ca.crt", "--env",
                 "DEBIAN_FRONTEND=noninteractive", "--cwd", "/root/src", "--", *argv], timeout)


@pytest.fixture(scope="module")
def fresh():
    for tool in ("lxc", "debootstrap", "git"):
        if shutil.which(tool) is None:
            _missing(f"needs {tool}")
    if _run(["lxc", "info"], 60).returncode != 0:
        _missing("LXD is not running (lxd --group lxd &)")
    image = _image()
    address, gateway = _address()
    raw = f"lxc.net.0.ipv4.address = {address}\nlxc.net.0.ipv4.gateway = {gateway}\n"
    _ok(_run(["lxc", "init", image, NAME, "-c", "security.privileged=true",
              "-c", "security.nesting=true", "-c", f"raw.lxc={raw}"], 300))
    try:
        _ok(_run(["lxc", "start", NAME], 300))
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"],
                             capture_output=True, check=True, timeout=120).stdout
        _ok(subprocess.run(["lxc", "exec", NAME, "--", "sh", "-c",
                            "mkdir -p /root/src && tar -x -C /root/src"], input=tar,
                           capture_output=True, timeout=300))
        _ok(_run(["lxc", "file", "push", "/etc/resolv.conf", f"{NAME}/etc/resolv.conf"], 60))
        if CA.exists():
            _ok(_run(["lxc", "file", "push", str(CA), f"{NAME}/etc/onedock-host-ca.crt"], 60))
        yield NAME
    finally:
        _run(["lxc", "delete", "--force", NAME], 300)


def test_readme_first_command_on_a_fresh_debian(fresh):
    started = time.monotonic()
    setup = _in("bash", ".ci/setup", timeout=LIMIT)
    took = time.monotonic() - started
    assert setup.returncode == 0, (setup.stdout[-3000:], setup.stderr[-3000:])
    print(f".ci/setup on a fresh Debian: {took:.0f} s")
    for command in ("dockerd", "docker-registry", "lxd", "dnsmasq", "debootstrap", "vagrant",
                    "shellcheck"):
        assert _in("sh", "-c", f"command -v {command}").returncode == 0, command
    init = _in(".venv/bin/python", "-c", "from sandbox.lxd import _client, ensure_initialised;"
               "c = _client(); ensure_initialised(c); print(len(c.storage_pools.all()))")
    assert init.returncode == 0 and init.stdout.strip() != "0", (init.stdout, init.stderr)
    smoke = _in(".venv/bin/invoke", "smoke", timeout=600)
    assert smoke.returncode == 0, (smoke.stdout[-3000:], smoke.stderr[-3000:])
    assert "smoke PASSED" in smoke.stdout
    print(f"README's first command (setup, LXD init, smoke): {time.monotonic() - started:.0f} s")
