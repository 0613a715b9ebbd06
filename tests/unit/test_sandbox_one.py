"""OpenNebula in the sandbox: what the provisioning renders for a self-contained install and
for nodes, and the sandbox's edits of each release's shipped configuration (unmodified copies
in ../shared/one-configs). The run itself is tests/test_sandbox.py's, where LXD and a build of
OpenNebula are at hand."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import provision
from onedock.errors import OneDockError
from onedock.install import onedconf
from sandbox.lxd import LxdBackend, provision_script
from sandbox.one_setup import MARKETS_OFFLINE, keep_empty_bridge, sandbox_oned_conf

CONFIGS = Path(__file__).resolve().parents[3] / "shared" / "one-configs"
RELEASES = sorted(p.name for p in CONFIGS.glob("release-*")) if CONFIGS.exists() else []


VARIANTS = {
    "no OpenNebula": dict(one_packages=False),
    "apt, 7.4 on Debian 12": dict(one_packages=False, one_version="7.4"),
    "apt, 6.10 on Ubuntu 24.04": dict(one_packages=False, one_version="6.10",
                                      distro="ubuntu2404"),
    "shipped .debs": dict(one_packages=True),
    "self-contained install": dict(one_packages=False, one_location="/opt/one/7.4"),
    "node": dict(one_packages=False, role="node", registry="10.214.0.200:5000"),
    "node of an OpenNebula sandbox": dict(one_packages=False, role="node", one_host=True,
                                          registry="10.214.0.200:5000"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_provisioning_variant_is_shellcheck_clean(variant):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("needs shellcheck (apt-get install shellcheck; .ci/packages installs it)")
    script = provision_script(archives=True, src="/s", wheels="/w", hostname="fe",
                              **VARIANTS[variant])
    proc = subprocess.run([shellcheck, "--shell=bash", "-"],
                          input=script, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:]


def _bash_ok(script: str) -> bool:
    return subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_a_self_contained_install_is_unpacked_with_its_runtime_and_oneadmin():
    script = provision_script(archives=True, src="/s", wheels="/w", hostname="fe",
                              one_packages=False, one_location="/opt/one/7.4")
    assert "tar -xf /root/one-location.tar -C /opt/one/7.4" in script
    assert "useradd -u 9869 -g oneadmin -d /var/lib/one" in script
    assert "ruby-nokogiri" in script and "apt-get install -y -qq --no-install-recommends" in script
    assert "if [ -x /opt/one/7.4/bin/oned ]" in script
    assert "OpenNebula: skipped" not in script and _bash_ok(script)


def test_a_node_is_a_host_only():
    script = provision_script(archives=True, src="/s", wheels="/w", hostname="fe-node1",
                              one_packages=False, role="node", registry="10.214.0.200:5000")
    assert "onedock install host --registry 10.214.0.200:5000 --registry-insecure" in script
    assert "ip link set eth1 master onebr0" in script
    assert "registry.yml" not in script and "10.215.0.1/24" not in script  # the front-end's
    assert "opennebula.list" not in script and "one-location.tar" not in script
    assert "load_opennebula_paths" not in script and "sudoers" not in script
    assert _bash_ok(script)


def test_a_node_of_an_opennebula_sandbox_gets_the_host_side_it_needs():
    script = provision_script(archives=True, src="/s", wheels="/w", hostname="fe-node1",
                              one_packages=False, role="node", registry="10.214.0.200:5000",
                              one_host=True)
    assert re.search(r"--no-install-recommends \\\n  ruby ruby-sqlite3 rsync sudo", script)
    assert '"$site/load_opennebula_paths.rb"' in script  # 7.x host scripts require it
    assert "visudo -cq -f /etc/sudoers.d/opennebula-network" in script
    assert "oneadmin ALL=(root) NOPASSWD: /usr/sbin/ip link *" in script
    assert _bash_ok(script)


@pytest.mark.parametrize("location", ["relative/one", "/opt/one;reboot", "/opt/../etc",
                                      "/opt/one 7.4"])
def test_a_hostile_location_is_refused_before_anything(location):
    with pytest.raises(OneDockError, match="not an absolute path"):
        LxdBackend.__init__(object.__new__(LxdBackend), one_location=location)


def test_a_location_without_oned_is_refused(tmp_path):
    with pytest.raises(OneDockError, match="no bin/oned there"):
        LxdBackend.__init__(object.__new__(LxdBackend), one_location=str(tmp_path))


def test_too_many_nodes_are_refused():
    with pytest.raises(OneDockError, match="--nodes 9"):
        LxdBackend.__init__(object.__new__(LxdBackend), one_version="", nodes=9)


@pytest.mark.skipif(not RELEASES, reason="../shared/one-configs is not next to this checkout")
@pytest.mark.parametrize("release", RELEASES)
def test_the_public_marketplaces_are_left_out_of_each_release(release):
    text = (CONFIGS / release / "oned.conf").read_text()
    edited = sandbox_oned_conf(text)
    market = [a for n, _, _, a in onedconf.blocks(edited) if n == "MARKET_MAD"]
    assert market and market[0]["ARGUMENTS"] == MARKETS_OFFLINE
    # nothing else changed, and a second pass changes nothing
    assert edited.replace(MARKETS_OFFLINE, "") == re.sub(
        r"-t 15 -m http,s3,one,linuxcontainers", "", text, count=1)
    assert sandbox_oned_conf(edited) == edited


def test_an_empty_bridge_is_kept_whether_or_not_the_key_is_there():
    assert keep_empty_bridge(":keep_empty_bridge: false\n:x: 1\n") == \
        ":keep_empty_bridge: true\n:x: 1\n"
    assert keep_empty_bridge(":x: 1\n").endswith(":keep_empty_bridge: true\n")


def test_the_objects_render_as_templates_oned_parses():
    net = provision.render("vnet.tmpl.j2", name="onedock-net", bridge="onebr0",
                           network="10.215.0.0", netmask="255.255.255.0",
                           gateway="10.215.0.1", first_ip="10.215.0.100", size=100)
    assert 'AR = [ TYPE = "IP4", IP = "10.215.0.100", SIZE = "100" ]' in net
    vm = provision.render("vm-template.tmpl.j2", name="onedock-web", image_id=3, network_id=1)
    assert 'DISK    = [ IMAGE_ID = "3" ]' in vm and 'NIC     = [ NETWORK_ID = "1" ]' in vm
    report = provision.render("one-report.txt.j2", version="7.4.0", sunstone="x", user="oneadmin",
                              password_file="/root/oneadmin-password", image_ds="onedock-images",
                              template="onedock-web", registry="10.214.0.200:5000",
                              first_ip="10.215.0.100")
    assert "onetemplate instantiate onedock-web" in report
    assert "oneimage create -d onedock-images --name ubuntu --path docker://ubuntu:24.04" in report
