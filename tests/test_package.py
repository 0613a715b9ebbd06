"""The install the README writes: a wheel and sdist, and onedock_<version>_all.deb installed and
purged in a bare Debian container (debootstrap --variant=minbase of this machine's release,
cached under /var/cache/onedock-ci/, imported into the real Docker engine)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, _missing

sys.path.insert(0, str(ROOT / "packaging"))
import build_deb  # noqa: E402

CACHE = Path(os.environ.get("ONEDOCK_CI_CACHE", "/var/cache/onedock-ci"))
VERSION = build_deb.project_version()
READY = ".onedock-rootfs-complete"
# What a Debian image for containers carries so apt does not start services in a container.
POLICY_RC = "#!/bin/sh\n# onedock CI: no service starts inside the test container\nexit 101\n"
TIMEOUT = {"build": 300, "debootstrap": 600, "import": 300, "apt": 420, "step": 60}


def _run(argv: list[str], timeout: int, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    output = result.stderr[-2000:] or result.stdout[-2000:]
    assert result.returncode == 0, f"{result.args}: {output}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """wheel, sdist and .deb built as `invoke package` builds them, into a scratch dist/."""
    if _run([sys.executable, "-m", "build", "--version"], TIMEOUT["step"]).returncode != 0:
        _missing("needs the build module (pip install -e '.[dev]')")
    if shutil.which("dpkg-deb") is None:
        _missing("needs dpkg-deb (apt-get install dpkg-dev)")
    out = tmp_path_factory.mktemp("dist")
    started = time.monotonic()
    _ok(_run([sys.executable, "-m", "build", "-o", str(out), str(ROOT)], TIMEOUT["build"]))
    _ok(_run([sys.executable, str(ROOT / "packaging/build_deb.py"), "--dist", str(out)],
             TIMEOUT["build"]))
    print(f"package build: {time.monotonic() - started:.1f} s")
    return out


def _package_files() -> set[str]:
    data = {f"onedock/data/{p.name}" for p in (ROOT / "onedock/data").iterdir() if p.is_file()}
    return data | {f"provision/templates/{p.name}"
                   for p in (ROOT / "provision/templates").iterdir() if p.is_file()}


def test_wheel_and_sdist_carry_the_data_and_templates(dist):
    wanted = _package_files()
    wheel = set(zipfile.ZipFile(dist / f"onedock-{VERSION}-py3-none-any.whl").namelist())
    with tarfile.open(dist / f"onedock-{VERSION}.tar.gz") as sdist:
        prefix = f"onedock-{VERSION}/"
        in_sdist = {n.removeprefix(prefix) for n in sdist.getnames()}
    assert wanted - wheel == set()
    assert wanted - in_sdist == set()
    assert "pyproject.toml" in in_sdist and "README.md" in in_sdist


def test_wheel_in_a_fresh_venv_gives_working_commands(dist, tmp_path):
    venv = tmp_path / "venv"
    _ok(_run([sys.executable, "-m", "venv", str(venv)], TIMEOUT["step"]))
    _ok(_run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check",
              str(dist / f"onedock-{VERSION}-py3-none-any.whl")], TIMEOUT["build"]))
    version = _ok(_run([str(venv / "bin/onedock"), "version"], TIMEOUT["step"]))
    assert version.stdout == f"{VERSION}\n"
    _ok(_run([str(venv / "bin/onedock"), "remotes", "--dest", "tmp", "--no-agent"], TIMEOUT["step"],
             cwd=tmp_path))
    assert (tmp_path / "tmp/datastore/onedock/stat").is_file()
    assert (tmp_path / "tmp/etc/onedock/onedock.conf").is_file()
    assert (venv / "bin/onedock-nic").is_file()


def test_deb_is_architecture_independent_and_self_contained(dist):
    deb = dist / build_deb.deb_name(VERSION)
    fields = _ok(_run(["dpkg-deb", "--field", str(deb)], TIMEOUT["step"])).stdout
    assert "Architecture: all\n" in fields
    assert re.search(r"^Depends: python3 \(>= 3\.11\), docker\.io \| docker-ce, sudo, ruby, "
                     r"ruby-sqlite3$", fields,
                     re.M)
    listing = _ok(_run(["dpkg-deb", "--contents", str(deb)], TIMEOUT["step"])).stdout
    assert "./usr/lib/onedock/bin/python3 -> /usr/bin/python3" in listing
    assert "./usr/lib/onedock/lib/python3/dist-packages/onedock/data/onedock.conf" in listing
    names = [line.split()[5] for line in listing.splitlines()]
    assert not [n for n in names if n.endswith((".so", ".pyc"))]
    assert {"./usr/bin/onedock", "./usr/bin/onedock-nic"} <= set(names)
    print(f"package size: {deb.stat().st_size / 1024:.0f} KiB")


def _suite() -> str:
    release = Path("/etc/os-release").read_text()
    match = re.search(r"^VERSION_CODENAME=(\w+)$", release, re.M)
    if not match or not Path("/etc/debian_version").exists():
        _missing("the bare-container test bootstraps this machine's Debian release: not Debian")
    return match.group(1)


def _mirror() -> str:
    """The Debian mirror apt is configured with (deb822 or one-line sources)."""
    sources = Path("/etc/apt")
    for path in [sources / "sources.list", *sorted(sources.glob("sources.list.d/*"))]:
        if not path.is_file():
            continue
        for match in re.finditer(r"(?:^URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+/debian)/?\s",
                                 path.read_text(), re.M):
            return match.group(1)
    return "http://deb.debian.org/debian"


def _rootfs(suite: str) -> Path:
    """debootstrap once into the cache; a directory is used only when marked complete."""
    final = CACHE / f"{suite}-minbase"
    if (final / READY).exists():
        return final
    if shutil.which("debootstrap") is None:
        _missing("needs debootstrap (apt-get install debootstrap)")
    partial = CACHE / f"{suite}-minbase.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    _ok(_run(["debootstrap", "--variant=minbase", suite, str(partial), _mirror()],
             TIMEOUT["debootstrap"]))
    policy = partial / "usr/sbin/policy-rc.d"
    policy.write_text(POLICY_RC)
    policy.chmod(0o755)
    (partial / READY).write_text(f"debootstrap --variant=minbase {suite}\n")
    os.replace(partial, final)
    return final


@pytest.fixture(scope="module")
def base_image(docker_client):
    if shutil.which("docker") is None:
        _missing("needs the docker command line")
    suite = _suite()
    tag = f"onedock-ci/debian-{suite}-minbase:1"
    if docker_client.images.list(name=tag):
        return tag
    rootfs = _rootfs(suite)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "--exclude", READY,
                            "-c", "."], stdout=subprocess.PIPE)
    try:
        _ok(_run(["docker", "import", "-", tag], TIMEOUT["import"], stdin=tar.stdout))
    finally:
        tar.stdout.close()
        assert tar.wait(timeout=TIMEOUT["step"]) == 0
    return tag


@contextlib.contextmanager
def bare(base_image: str, what: str, source: Path, target: str):
    """A bare container of the base image, `source` mounted read-only at `target`, apt's
    downloads cached between runs; removed afterwards."""
    archives = CACHE / "apt-archives"
    archives.mkdir(parents=True, exist_ok=True)
    name = f"onedock-{what}-{os.getpid()}"
    _ok(_run(["docker", "run", "-d", "--name", name, "-v", f"{source}:{target}:ro",
              "-v", f"{archives}:/var/cache/apt/archives", base_image, "sleep", "900"],
             TIMEOUT["step"]))
    try:
        yield name
    finally:
        _run(["docker", "rm", "-f", name], TIMEOUT["step"])


@pytest.fixture(scope="module")
def container(base_image, dist):
    """The bare container the .deb is installed into, dist/ at /pkg."""
    with bare(base_image, "pkg", dist, "/pkg") as name:
        yield name


def _in(container: str, *argv: str, timeout: int = TIMEOUT["step"]):
    return _run(["docker", "exec", "-e", "DEBIAN_FRONTEND=noninteractive", container, *argv],
                timeout)


@pytest.fixture(scope="module")
def installed(container):
    """`apt install ./onedock_<version>_all.deb` as the README writes it."""
    started = time.monotonic()
    _ok(_in(container, "apt-get", "update", "-qq", timeout=TIMEOUT["apt"]))
    _ok(_in(container, "apt-get", "install", "-y", "-q", f"/pkg/{build_deb.deb_name(VERSION)}",
            timeout=TIMEOUT["apt"]))
    print(f"apt install in the bare container: {time.monotonic() - started:.1f} s")
    return container


def test_installed_commands_work(installed):
    assert _ok(_in(installed, "onedock", "version")).stdout == f"{VERSION}\n"
    _ok(_in(installed, "/usr/lib/onedock/bin/python3", "-I", "-c",
            "import onedock.helper.root, onedock.cli, jinja2, defusedxml, tqdm"))
    assert _ok(_in(installed, "test", "-x", "/usr/bin/onedock-nic")).returncode == 0


def test_generated_shim_finds_the_interpreter(installed):
    _ok(_in(installed, "onedock", "remotes", "--dest", "/tmp/r", "--no-agent"))
    result = _in(installed, "/tmp/r/datastore/onedock/stat")  # no request id: bad input
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""


def test_reinstall_over_itself_keeps_working(installed):
    """An upgrade runs the old prerm and the new postinst: byte code must not get in the way."""
    deb = f"/pkg/{build_deb.deb_name(VERSION)}"
    _ok(_in(installed, "dpkg", "-i", deb, timeout=TIMEOUT["apt"]))
    assert _ok(_in(installed, "onedock", "version")).stdout == f"{VERSION}\n"


def test_purge_leaves_nothing(installed):
    """Last in the module: the other tests use the installed package."""
    _ok(_in(installed, "apt-get", "remove", "--purge", "-y", "-q", "onedock",
            timeout=TIMEOUT["apt"]))
    for path in ("/usr/lib/onedock", "/usr/bin/onedock", "/usr/bin/onedock-nic",
                 "/usr/share/doc/onedock"):
        assert _in(installed, "test", "-e", path).returncode == 1, f"{path} left behind"
    assert _in(installed, "python3", "-c", "print(1)").stdout == "1\n"  # Debian's own untouched


def test_ci_packages_install_by_name_on_a_bare_debian(base_image):
    """The README's first command starts with .ci/setup: on a fresh Debian its packages must
    all come by name (no Recommends), e.g. LXD's bridge needs dnsmasq-base, which lxd only
    recommends. Run in a bare container, then every command the setup relies on is there."""
    with bare(base_image, "ci-packages", ROOT / ".ci", "/ci") as name:
        started = time.monotonic()
        _ok(_in(name, "bash", "/ci/packages", timeout=TIMEOUT["apt"] * 2))
        print(f".ci/packages in a bare container: {time.monotonic() - started:.1f} s")
        for command in ("dockerd", "docker", "docker-registry", "lxd", "lxc", "dnsmasq",
                        "debootstrap", "ip", "openssl", "git", "vagrant", "dpkg-deb", "ssh",
                        "/usr/sbin/sshd", "sudo", "shellcheck", "htpasswd"):
            assert _in(name, "sh", "-c", f"command -v {command}").returncode == 0, command
        assert _ok(_in(name, "busybox", "--list")).stdout.split().count("httpd") == 1
        _ok(_in(name, "python3", "-c", "import ensurepip, venv"))
        again = _ok(_in(name, "bash", "/ci/packages"))
        assert "installing" not in again.stdout  # a second run finds everything
