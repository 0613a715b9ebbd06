"""The front-end reaching a host's engine over ssh, against a real sshd on loopback (lab.sshd):
TM actions share one ssh connection per host for ssh_persist seconds, and a shared master never
holds an action's output open (oned reads an action's stdout and stderr to their end)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from lab.shims import Shims
from lab.sshd import SSHD, SshHost
from tests.helpers import FRONTEND, SYS, purge

NODE = "node-ssh"


@pytest.fixture(scope="module")
def ssh_host():
    if not Path(SSHD).exists():
        pytest.skip(f"needs {SSHD} (apt-get install openssh-server)")
    root = Path(tempfile.mkdtemp(prefix="od-ssh-", dir="/tmp"))  # short: ssh's socket names
    host = SshHost(root).start()
    yield host
    host.stop()
    shutil.rmtree(root, ignore_errors=True)


def _shims(ssh_host: SshHost, remotes: Path, private, persist: int, name: str) -> Shims:
    state = ssh_host.root / name
    conf = ssh_host.root / f"{name}.conf"
    conf.write_text(
        f'registry = "{private.host}"\nregistry_insecure = true\nfrontend = "{FRONTEND}"\n'
        f'state_dir = "{state}"\nssh_config = "{ssh_host.config}"\nssh_persist = {persist}\n'
        f'[hosts]\n{NODE} = "ssh://{ssh_host.name}"\n')
    return Shims(remotes, conf)


@pytest.fixture
def vms(new_id, docker_client):
    made: list[int] = []
    yield lambda: made.append(new_id()) or made[-1]
    for vmid in made:
        purge(docker_client, vmid)


def _clone(shims: Shims, source: str, vmid: int):
    res = shims.tm("clone", f"{FRONTEND}:{source}", f"{NODE}:{SYS}/{vmid}/disk.0", str(vmid), "1",
                   timeout=60)  # a master holding the pipes open would hang here
    assert (res.rc, res.stderr) == (0, ""), res.stderr
    return res


def test_actions_share_one_connection_per_host(ssh_host, remotes, private, image_source, vms,
                                               docker_client):
    shims = _shims(ssh_host, remotes, private, 30, "shared")
    before = ssh_host.logins()
    staged = [vms() for _ in range(3)]
    for vmid in staged:
        _clone(shims, image_source, vmid)
    assert ssh_host.logins() - before == 1, ssh_host.log.read_text()[-800:]
    masters = [p for p in (ssh_host.root / "shared").glob("ssh-*/*") if p.is_socket()]
    assert len(masters) == 1
    for vmid in staged:  # each clone reached the engine through the shared connection
        assert docker_client.images.get(f"one-{vmid}:disk.0")


def test_without_sharing_each_action_connects(ssh_host, remotes, private, image_source, vms):
    shims = _shims(ssh_host, remotes, private, 0, "unshared")
    before = ssh_host.logins()
    for _ in range(2):
        _clone(shims, image_source, vms())
    assert ssh_host.logins() - before == 2
    assert not list((ssh_host.root / "unshared").glob("ssh-*/*"))
