"""The Vagrant sandbox, driven through python-vagrant, behind the same interface as LXD.

The Vagrantfile at the repository root is the single definition (a plain `vagrant up` works);
this backend adds what the LXD one does: a local base image for the box-less docker provider
(the same debootstrap rootfs as LXD's, plus a `vagrant` user), wheels built here, and the
provisioning script rendered from provision/ and run over `vagrant ssh`.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

from onedock.errors import OneDockError
from sandbox import image as base_image
from sandbox.backend import GUEST_VENV, ExecResult, Steps

ROOT = Path(__file__).resolve().parent.parent
MACHINE = "frontend"
IMAGE_REPO = "onedock-vagrant-base"
SETUP = """set -e
id vagrant >/dev/null 2>&1 || useradd -m -s /bin/bash vagrant
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/vagrant
chmod 0440 /etc/sudoers.d/vagrant
install -d -m 700 -o vagrant -g vagrant /home/vagrant/.ssh
cp /tmp/vagrant.pub /home/vagrant/.ssh/authorized_keys
chown vagrant:vagrant /home/vagrant/.ssh/authorized_keys
chmod 600 /home/vagrant/.ssh/authorized_keys
ssh-keygen -A >/dev/null
"""


def _insecure_key() -> bytes:
    found = sorted(Path("/usr/share/rubygems-integration/all/gems").glob("vagrant-*/keys/"
                                                                         "vagrant.pub"))
    found += sorted(Path("/opt/vagrant/embedded/gems").glob("**/keys/vagrant.pub"))
    if not found:
        raise OneDockError("Vagrant's insecure public key was not found",
                           hint="apt-get install vagrant")
    return found[-1].read_bytes()


def ensure_docker_image(progress) -> str:
    """onedock-vagrant-base:<revision> on the local engine, from the cached rootfs."""
    import docker

    client = docker.from_env(timeout=600)
    ref = f"{IMAGE_REPO}:{base_image.REVISION}"
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        tarball = base_image.build_rootfs(progress)
        progress(f"importing {tarball.name} into Docker as {ref}")
        client.api.import_image_from_data(_strip_rootfs(tarball), repository=IMAGE_REPO,
                                          tag="stage")
        box = client.containers.create(f"{IMAGE_REPO}:stage", ["sh", "-c", SETUP],
                                       network_disabled=True)
        try:
            box.put_archive("/tmp", _one_file("vagrant.pub", _insecure_key()))
            box.start()
            if box.wait(timeout=120)["StatusCode"] != 0:
                raise OneDockError(f"preparing {ref} failed: {box.logs().decode()[-300:]}")
            box.commit(repository=IMAGE_REPO, tag=base_image.REVISION)
        finally:
            box.remove(force=True)
            client.images.remove(f"{IMAGE_REPO}:stage", force=True)
    client.images.get(ref).tag(IMAGE_REPO, "latest")
    return ref


def _strip_rootfs(tarball: Path) -> bytes:
    """LXD's unified tarball (metadata.yaml + rootfs/) as a plain root filesystem tar."""
    out = io.BytesIO()
    with tarfile.open(tarball, "r:gz") as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src:
            if not member.name.startswith("rootfs/") and member.name != "rootfs":
                continue
            member.name = member.name[len("rootfs/"):] or "."
            if member.islnk() and member.linkname.startswith("rootfs/"):
                member.linkname = member.linkname[len("rootfs/"):]
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    return out.getvalue()


def _one_file(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class VagrantBackend:
    name = "vagrant"
    src = "/vagrant"  # the synced folder

    def __init__(self, provider: str = "docker", one_packages: str = "", out=sys.stdout):
        if subprocess.run(["which", "vagrant"], capture_output=True).returncode != 0:
            raise OneDockError("Vagrant is not installed", hint="apt-get install vagrant")
        try:
            import vagrant
        except ImportError as exc:
            raise OneDockError("python-vagrant is missing",
                               hint="pip install 'onedock[sandbox]'") from exc
        self.provider = provider
        self.one_packages = one_packages
        self.out = out
        env = dict(os.environ, ONEDOCK_PROVISION="external")
        self.vagrant = vagrant.Vagrant(root=str(ROOT), env=env, quiet_stdout=True,
                                       quiet_stderr=True)

    def up(self) -> None:
        steps = Steps(f"sandbox {MACHINE} (vagrant, {self.provider})", self.out)
        if self.provider == "docker":
            steps.run("base image", ensure_docker_image, self._progress)
        if self._state() != "running":
            steps.run("machine up", self.vagrant.up, MACHINE, False, self.provider)
        steps.run("onedock provisioned", self.provision,
                  retry="fix the cause, then `invoke sandbox.provision --backend vagrant`")
        steps.finish()

    def _progress(self, text: str) -> None:
        self.out.write(f"    {text}\n")
        self.out.flush()

    def _state(self) -> str:
        try:
            for status in self.vagrant.status(MACHINE):
                return status.state or ""
        except subprocess.CalledProcessError:
            return ""
        return ""

    def provision(self) -> None:
        """Render provisioning and wheels into .vagrant/onedock (the guest sees /vagrant)."""
        from sandbox.lxd import provision_script

        if self.one_packages:
            raise OneDockError("--one-packages is only supported by the LXD backend for now")
        staging = write_wheelhouse(self.out).parent
        script = provision_script(archives=False, src="/vagrant",
                                  wheels="/vagrant/.vagrant/onedock/wheels",
                                  hostname="onedock-frontend", one_packages=False)
        (staging / "provision.sh").write_text(script)
        result = self.exec(["bash", "/vagrant/.vagrant/onedock/provision.sh"], check=False,
                           shared_net=False)  # its bridge and registry stay in the guest
        self.out.write(result.stdout)
        if result.rc != 0:
            raise OneDockError(f"provisioning failed: {result.stderr.strip()[-300:]}")

    def exec(self, argv: list[str], *, cwd: str = "/root", check: bool = True,
             shared_net: bool = True) -> ExecResult:
        path = f"PATH={GUEST_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        run = 'cd "$0" && exec "$@"'
        if self.provider == "docker" and shared_net:
            # the guest shares this machine's engine, whose pulls and pushes happen in this
            # machine's network namespace: the guest's workload runs there too
            run = 'cd "$0" && exec nsenter --net="/proc/$(pgrep -xo dockerd)/ns/net" "$@"'
        command = shlex.join(["sudo", "env", path, "sh", "-c", run, cwd, *argv])
        proc = subprocess.run(["vagrant", "ssh", MACHINE, "-c", command], cwd=ROOT,
                              capture_output=True, text=True,
                              env=dict(os.environ, ONEDOCK_PROVISION="external"))
        result = ExecResult(proc.returncode, proc.stdout, proc.stderr)
        if check and result.rc != 0:
            raise OneDockError(f"`{' '.join(argv)}` failed in the sandbox: "
                               f"{(result.stderr or result.stdout).strip()[-300:]}")
        return result

    def status(self) -> dict:
        return {"backend": "vagrant", "provider": self.provider, "name": MACHINE,
                "state": self._state() or "absent"}

    def shell(self) -> None:
        os.execvp("vagrant", ["vagrant", "ssh", MACHINE])

    def down(self) -> None:
        self.vagrant.destroy(MACHINE)
        self.out.write(f"==> {MACHINE}: destroyed (base image {IMAGE_REPO} kept)\n")


def write_wheelhouse(out) -> Path:
    """Wheels of onedock and its dependencies into .vagrant/onedock/wheels, where a plain
    `vagrant up` (sandbox/vagrant-bootstrap.sh) finds them as /vagrant/.vagrant/onedock/wheels."""
    from sandbox.lxd import _wheelhouse

    wheels = ROOT / ".vagrant" / "onedock" / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(_wheelhouse(out))) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(wheels, filter="data")
        else:  # Debian 12's Python 3.11.2 predates extraction filters: wheel files only
            for member in tar.getmembers():
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    raise OSError(f"unexpected member {member.name!r} in the wheelhouse")
            tar.extractall(wheels)
    return wheels
