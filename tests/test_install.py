"""`onedock install` / `uninstall` on scratch trees laid out like an OpenNebula installation."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import provision
from onedock.install import onedconf
from tests.conftest import PROTOCOL

FRONTEND = ["--registry", "fe.example:5000", "--registry-insecure", "--python", "/usr/bin/python3"]


def onedock(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "onedock", *args], capture_output=True,
                          text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


RELEASES = sorted(p.name for p in (PROTOCOL / "one-configs").glob("release-*"))
# Where OpenNebula's installer puts its monitoring agent: into each hypervisor's own .d
AGENT = ("monitord-client.rb", "monitord-client_control.sh")


def one_tree(root: Path, configs: Path = PROTOCOL) -> Path:
    """An OpenNebula layout under root: the configs given, and the agent in im/kvm.d."""
    etc = root / "etc" / "one"
    etc.mkdir(parents=True)
    shutil.copy(configs / "oned.conf", etc / "oned.conf")
    shutil.copy(configs / "monitord.conf", etc / "monitord.conf")
    kvm = root / "var" / "lib" / "one" / "remotes" / "im" / "kvm.d"
    kvm.mkdir(parents=True)
    for name in AGENT:
        (kvm / name).write_text(f"# stands for OpenNebula's {name}\n")
    return root


@pytest.fixture
def scratch(tmp_path):
    return one_tree(tmp_path)


def dangling_links(root: Path) -> list[str]:
    """What `rsync -L` (onehost sync) would fail on."""
    return [str(p) for p in root.rglob("*") if p.is_symlink() and not p.exists()]


def snapshot(root: Path) -> dict[str, bytes | str]:
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            rel = str(path.relative_to(root))
            out[rel] = (os.readlink(path) if path.is_symlink() else
                        path.read_bytes() if path.is_file() else "dir")
    return out


def test_every_template_renders():
    values = dict(role="front-end", registry="fe:5000", registry_insecure=True, registry_ca="",
                  registry_username="", registry_password_file="", registry_storage="/srv/r",
                  frontend="fe", nic_helper="", storage="/srv/r", listen=":5000", tls_cert="",
                  tls_key="", htpasswd="", user="oneadmin", registry_binary="/usr/bin/x",
                  config="/etc/onedock/registry.yml", helper="/usr/local/bin/onedock-nic",
                  insecure_registries=["fe:5000"], name="net", bridge="br0",
                  network="10.0.0.0", netmask="255.255.255.0", gateway="10.0.0.1",
                  first_ip="10.0.0.10", size=50, hostname="node01",
                  bridge_address="10.214.0.1/24", src="/root/src", venv="/opt/onedock",
                  registry_unit="[Unit]\n", registry_config="version: 0.1\n",
                  onedock_conf="registry = 'x'\n",
                  one_packages=False, one_repository="", archives=True, wheels="/root/wheels",
                  version="7.4.0", sunstone="http://fe:2616", password_file="/root/pw",
                  image_ds=100, template="onedock-web", image_id=0, network_id=0,
                  one_location="", one_bin="/usr/bin", one_runtime_packages="ruby",
                  one_version="", one_key_url="", one_keyring="", one_frontend_packages="",
                  one_host=False, one_host_packages="ruby")
    rendered = {name: provision.render(name, **values) for name in provision.names()}
    assert len(rendered) >= 13
    for name, text in rendered.items():
        assert text.strip(), name
    import json
    import tomllib

    assert json.loads(rendered["docker-daemon.json.j2"])["insecure-registries"] == ["fe:5000"]
    assert tomllib.loads(rendered["onedock.conf.j2"])["registry"] == "fe:5000"
    for conf in ("oned.conf.j2", "monitord.conf.j2"):
        assert onedconf.blocks(rendered[conf])


def test_missing_template_value_is_an_error():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        provision.render("sudoers.j2", user="oneadmin")


def test_frontend_install_twice_then_uninstall_is_byte_identical(scratch):
    before = snapshot(scratch)
    out = onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND).stdout
    assert "change(s) written" in out
    oned = (scratch / "etc/one/oned.conf").read_text()
    found = {(n, a.get("NAME", "").lower()) for n, _, _, a in onedconf.blocks(oned)}
    assert {("VM_MAD", "onedock"), ("TM_MAD_CONF", "onedock"), ("DS_MAD_CONF", "onedock"),
            ("VM_MAD", "kvm"), ("VM_MAD", "lxc")} <= found
    assert ",iscsi_libvirt,onedock\"" in oned  # TM_MAD -d list
    assert "restic,rsync,onedock -s shared" in oned  # DATASTORE_MAD -d list, -s untouched
    monitord = (scratch / "etc/one/monitord.conf").read_text()
    assert 'ARGUMENTS     = "-r 3 -t 15 -w 90 onedock"' in monitord
    remotes = scratch / "var/lib/one/remotes"
    assert os.access(remotes / "vmm/onedock/deploy", os.X_OK)
    assert (remotes / "im/onedock-probes.d/vm/snapshot").is_dir()
    conf = (remotes / "etc/onedock/onedock.conf").read_text()
    assert 'registry = "fe.example:5000"' in conf
    unit = (scratch / "etc/systemd/system/onedock-registry.service").read_text()
    assert "serve /etc/onedock/registry.yml" in unit  # the path on the real system
    assert (scratch / "etc/one/oned.conf.onedock-backup").read_bytes() == \
        before["etc/one/oned.conf"]
    second = onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND).stdout
    assert "nothing to change, already installed" in second
    kinds = {line.split()[0] for line in second.splitlines()[:-1]}
    assert kinds == {"unchanged"}
    onedock("uninstall", "frontend", "--prefix", str(scratch))
    assert snapshot(scratch) == before


@pytest.mark.parametrize("release", RELEASES)
def test_each_release_shipped_config(tmp_path, release):
    """Every supported release's shipped oned.conf and monitord.conf, unmodified."""
    root = one_tree(tmp_path, PROTOCOL / "one-configs" / release)
    before = snapshot(root)
    onedock("install", "frontend", "--prefix", str(root), *FRONTEND)
    oned = (root / "etc/one/oned.conf").read_text()
    found = {(n, a.get("NAME", "").lower()): a for n, _, _, a in onedconf.blocks(oned)}
    assert found[("VM_MAD", "onedock")]["LIVE_RESIZE"] == "yes"
    tm = found[("TM_MAD_CONF", "onedock")]
    assert (tm["DS_LIVE_MIGRATE"], tm["DS_MIGRATE_SNAP"]) == ("NO", "NO")
    remotes = root / "var/lib/one/remotes"
    probes = remotes / "im/onedock-probes.d"
    assert sorted(str(p.relative_to(probes)) for p in probes.glob("*/*")) == [
        "host/beacon", "host/monitor", "host/system", "vm/execution", "vm/monitor",
        "vm/snapshot", "vm/status"]
    for name in AGENT:
        link = remotes / "im/onedock.d" / name
        assert os.readlink(link) == f"../kvm.d/{name}" and link.resolve().is_file()
    assert dangling_links(root) == []
    for action in ("snap_create", "snap_revert", "snap_delete", "resize", "prebackup",
                   "postbackup", "restore"):
        assert os.access(remotes / "tm/onedock" / action, os.X_OK), action
    for action in ("exec", "exec_cancel"):
        assert os.access(remotes / "vmm/onedock" / action, os.X_OK), action
    second = onedock("install", "frontend", "--prefix", str(root), *FRONTEND).stdout
    assert "nothing to change, already installed" in second
    onedock("uninstall", "frontend", "--prefix", str(root))
    assert snapshot(root) == before


def test_edited_files_keep_owner_and_mode_new_ones_take_the_dirs_owner(scratch):
    """Debian's oned.conf is root:oneadmin 0640: a root-owned 0644 copy would be wrong."""
    if os.geteuid() != 0:
        pytest.skip("needs root to set owners")
    oned = scratch / "etc/one/oned.conf"
    remotes = scratch / "var/lib/one/remotes"
    os.chown(oned, 0, 65534)
    oned.chmod(0o640)
    os.chown(remotes, 65534, 65534)
    onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND)
    info = oned.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (0, 65534, 0o640)
    for made in ("vmm/onedock", "vmm/onedock/deploy", "etc/onedock/onedock.conf"):
        info = (remotes / made).stat()
        assert (info.st_uid, info.st_gid) == (65534, 65534), made  # the tree's owner
    assert (remotes / "vmm/onedock/deploy").stat().st_mode & 0o777 == 0o755
    onedock("uninstall", "frontend", "--prefix", str(scratch))
    info = oned.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (0, 65534, 0o640)


def test_agent_missing_is_refused_before_writing(tmp_path):
    root = one_tree(tmp_path)
    shutil.rmtree(root / "var/lib/one/remotes/im/kvm.d")
    before = snapshot(root)
    proc = onedock("install", "frontend", "--prefix", str(root), *FRONTEND, check=False)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "monitoring agent" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(root) == before


def test_agent_of_another_hypervisor_is_linked(tmp_path):
    """A front-end without kvm: the agent is taken from the .d that has it."""
    root = one_tree(tmp_path)
    im = root / "var/lib/one/remotes/im"
    (im / "kvm.d").rename(im / "lxc.d")
    onedock("install", "frontend", "--prefix", str(root), *FRONTEND)
    assert os.readlink(im / "onedock.d" / AGENT[0]) == f"../lxc.d/{AGENT[0]}"
    assert dangling_links(root) == []


def test_frontend_name_comes_from_oned_hostname(scratch):
    oned = scratch / "etc/one/oned.conf"
    oned.write_text(oned.read_text() + '\nHOSTNAME = "fe.lab.example"\n')
    onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND)
    conf = (scratch / "var/lib/one/remotes/etc/onedock/onedock.conf").read_text()
    assert 'frontend = "fe.lab.example"' in conf


def test_frontend_name_is_left_to_detection_without_hostname(scratch):
    onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND)
    conf = (scratch / "var/lib/one/remotes/etc/onedock/onedock.conf").read_text()
    assert "\nfrontend =" not in conf


def test_host_install_reports_prerequisites(tmp_path):
    """Each check names what is missing and how to fix it; the files are written either way."""
    args = ["--prefix", str(tmp_path), "--helper", "/nonexistent/onedock-nic",
            "--user", "nobody"]
    proc = onedock("install", "host", "--dry-run", *args)
    lines = [line for line in proc.stdout.splitlines()
             if line.split(" ", 1)[0] == "" and line.strip().startswith(("ok ", "missing "))]
    assert any("Docker engine" in line for line in lines), proc.stdout
    helper = [line for line in lines if "sudo" in line]
    assert helper and helper[0].strip().startswith("missing"), proc.stdout
    assert "/nonexistent/onedock-nic is missing" in helper[0]
    assert "prerequisite(s) missing" in proc.stderr
    assert not (tmp_path / "etc").exists()  # --dry-run


def test_dry_run_shows_a_diff_and_writes_nothing(scratch):
    before = snapshot(scratch)
    out = onedock("install", "frontend", "--prefix", str(scratch), "--dry-run", *FRONTEND).stdout
    assert "+# onedock: BEGIN managed block" in out
    assert "nothing written (--dry-run)" in out
    assert snapshot(scratch) == before


def test_user_edits_survive_uninstall(scratch):
    onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND)
    oned = scratch / "etc/one/oned.conf"
    oned.write_text(oned.read_text() + "\nDEFAULT_COST = [ CPU_COST = 0 ]\n")
    onedock("uninstall", "frontend", "--prefix", str(scratch))
    text = oned.read_text()
    assert "onedock" not in text and "DEFAULT_COST = [ CPU_COST = 0 ]" in text
    original = (PROTOCOL / "oned.conf").read_text()
    assert text.startswith(original.rstrip("\n"))


def test_existing_onedock_section_is_refused(scratch):
    oned = scratch / "etc/one/oned.conf"
    oned.write_text(oned.read_text() + '\nVM_MAD = [ NAME = "onedock", EXECUTABLE = '
                    '"one_vmm_exec", ARGUMENTS = "-t 15 -r 0 onedock", TYPE = "xml" ]\n')
    before = snapshot(scratch)
    proc = onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND, check=False)
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1
    assert "already defines onedock outside onedock's block: VM_MAD at line" in proc.stderr
    assert snapshot(scratch) == before


def test_unusual_formatting(scratch):
    oned = scratch / "etc/one/oned.conf"
    oned.write_text('# a comment with [brackets] and TM_MAD = [ in it\n'
                    'tm_mad=[executable="one_tm",arguments="-d ssh,shared -t 15"]\n'
                    'DATASTORE_MAD = [ EXECUTABLE = "one_datastore",\n'
                    '  ARGUMENTS = "-t 15 -s ssh -d fs"  # trailing comment ]\n]')
    onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND)
    text = oned.read_text()
    assert 'arguments="-d ssh,shared,onedock -t 15"' in text
    assert 'ARGUMENTS = "-t 15 -s ssh -d fs,onedock"' in text
    onedock("uninstall", "frontend", "--prefix", str(scratch))
    assert oned.read_text().startswith("# a comment with [brackets]")
    assert "onedock" not in oned.read_text()


def test_missing_opennebula(tmp_path):
    proc = onedock("install", "frontend", "--prefix", str(tmp_path), *FRONTEND, check=False)
    assert proc.returncode == 1
    assert "OpenNebula is not installed here" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_registry_needs_tls_or_an_explicit_opt_out(scratch):
    proc = onedock("install", "frontend", "--prefix", str(scratch), "--registry", "fe:5000",
                   check=False)
    assert proc.returncode == 1 and "the registry needs TLS" in proc.stderr


def test_read_only_location_writes_nothing(scratch):
    target = scratch / "etc" / "systemd"
    target.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only tmpfs")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)],
                   check=True)
    try:
        before = snapshot(scratch)
        proc = onedock("install", "frontend", "--prefix", str(scratch), *FRONTEND, check=False)
        assert proc.returncode == 1
        assert "is not writable" in proc.stderr and len(proc.stderr.splitlines()) == 1
        assert snapshot(scratch) == before
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_host_install_merges_docker_config(tmp_path):
    daemon = tmp_path / "etc/docker/daemon.json"
    daemon.parent.mkdir(parents=True)
    daemon.write_text('{"log-driver": "journald", "insecure-registries": ["other:5000"]}')
    before = snapshot(tmp_path)
    args = ["--prefix", str(tmp_path), "--registry", "fe:5000", "--registry-insecure",
            "--helper", "/usr/local/bin/onedock-nic"]
    onedock("install", "host", *args)
    import json

    merged = json.loads(daemon.read_text())
    assert merged == {"log-driver": "journald", "insecure-registries": ["other:5000", "fe:5000"]}
    sudoers = tmp_path / "etc/sudoers.d/onedock"
    assert "oneadmin ALL=(root) NOPASSWD: /usr/local/bin/onedock-nic" in sudoers.read_text()
    assert sudoers.stat().st_mode & 0o777 == 0o440
    assert "nothing to change" in onedock("install", "host", *args).stdout
    onedock("uninstall", "host", "--prefix", str(tmp_path))
    assert snapshot(tmp_path) == before


def _self_signed(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to make a test certificate")
    cert, key = folder / "reg.crt", folder / "reg.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_rendered_registry_serves_push_and_pull(tmp_path, docker_client, images):
    """The front-end's registry runs from the rendered config, with TLS, and Docker uses it."""
    from lab.registries import free_port
    from onedock.registry.client import Registry

    cert, key = _self_signed(tmp_path)
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(provision.render("registry.yml.j2", storage=str(tmp_path / "storage"),
                                       listen=f"127.0.0.1:{port}", tls_cert=str(cert),
                                       tls_key=str(key), htpasswd=""))
    proc = subprocess.Popen([shutil.which("docker-registry"), "serve", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = f"127.0.0.1:{port}"
    ref = f"{host}/smoke/busybox"
    try:
        registry = Registry(host, secure=True, ca=str(cert), timeout=5)
        import time

        for _ in range(100):
            try:
                registry.request("GET", "/v2/", scope="")
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        docker_client.images.get(images["busybox"]).tag(ref, "v1")
        for line in docker_client.images.push(ref, tag="v1", stream=True, decode=True):
            assert "error" not in line, line
        assert registry.head_manifest("smoke/busybox", "v1")  # verified against our CA
        docker_client.images.remove(f"{ref}:v1")
        docker_client.images.pull(ref, tag="v1")
        assert (tmp_path / "storage" / "docker").is_dir()
    finally:
        proc.terminate()
        proc.wait(10)
        with contextlib.suppress(Exception):
            docker_client.images.remove(f"{ref}:v1", force=True)
