"""OpenNebula from its package repository in the sandbox: what is rendered (the repository is
not reachable from this project's machines, so the install itself is not run here)."""

from __future__ import annotations

import subprocess

import pytest

from onedock.errors import OneDockError
from sandbox import one_release
from sandbox.lxd import provision_script

PAIRS = [(v, d) for v, ds in one_release.SUPPORTED.items() for d in ds]


@pytest.mark.parametrize("version,distro", PAIRS)
def test_every_supported_pair_renders_its_repository(version, distro):
    script = provision_script(archives=True, src="/root/src", wheels="/root/wheels",
                              hostname="fe", one_packages=False, one_version=version,
                              distro=distro)
    path = one_release.DISTROS[distro]
    line = (f"deb [signed-by=/etc/apt/keyrings/opennebula.asc] "
            f"https://downloads.opennebula.io/repo/{version}/{path} stable opennebula")
    assert f'echo "{line}" >/etc/apt/sources.list.d/opennebula.list' in script
    assert "https://downloads.opennebula.io/repo/repo2.key" in script
    assert "opennebula opennebula-fireedge opennebula-gate opennebula-flow" in script
    assert "is not reachable from here; going on without it" in script  # no internet: one line
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


@pytest.mark.parametrize("version,distro", [("7.4", "ubuntu2204"), ("6.8", "debian12"),
                                            ("7.4", "debian11"), ("7.4;id", "debian12")])
def test_a_pair_without_packages_is_refused_listing_the_supported(version, distro):
    with pytest.raises(OneDockError) as err:
        one_release.repository_line(version, distro)
    assert "supported: 6.10 on debian12" in str(err.value) and "\n" not in str(err.value)


def test_refused_before_anything_is_made():
    from sandbox.lxd import LxdBackend

    with pytest.raises(OneDockError, match="has no packages"):
        LxdBackend.__init__(object.__new__(LxdBackend), one_version="5.0")


def test_without_a_release_there_is_no_repository_step():
    script = provision_script(archives=True, src="/s", wheels="/w", hostname="fe",
                              one_packages=False)
    assert "opennebula.list" not in script
    assert "OpenNebula: skipped" in script
