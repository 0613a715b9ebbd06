"""The LXD sandbox: one system container running Docker, the registry and onedock.

Driven through pylxd. The container runs privileged with nesting so Docker works inside it on
any host kernel and cgroup layout: it is a disposable test machine, not a production host.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from onedock.errors import OneDockError
from sandbox import image as base_image
from sandbox.backend import GUEST_SRC, GUEST_VENV, ExecResult, Steps

ROOT = Path(__file__).resolve().parent.parent
NAME = "onedock-sandbox"
BRIDGE_NET = "10.214.0.1/24"  # lxdbr0 when this machine's LXD has none yet


def _client():
    try:
        import pylxd
    except ImportError as exc:
        raise OneDockError("pylxd is missing", hint="pip install 'onedock[sandbox]'") from exc
    if not Path("/var/lib/lxd/unix.socket").exists() and not Path(
            "/var/snap/lxd/common/lxd/unix.socket").exists():
        raise OneDockError("LXD is not running here",
                           hint="apt-get install lxd, then start it (`lxd --group lxd &`)")
    try:
        return pylxd.Client()
    except Exception as exc:  # noqa: BLE001 - pylxd wraps socket errors in many types
        raise OneDockError(f"cannot talk to LXD: {exc}",
                           hint="are you root or in the lxd group?") from exc


def ensure_initialised(client) -> None:
    """`lxd init` when the daemon has no storage pool: a dir pool and a NAT bridge."""
    if client.storage_pools.all():
        return
    import provision

    preseed = provision.render("lxd-preseed.yaml.j2", bridge_address=BRIDGE_NET)
    proc = subprocess.run(["lxd", "init", "--preseed"], input=preseed, text=True,
                          capture_output=True)
    if proc.returncode != 0:
        raise OneDockError(f"lxd init failed: {proc.stderr.strip()}")


class LxdBackend:
    name = "lxd"
    src = GUEST_SRC  # where the guest has the checkout

    def __init__(self, name: str = NAME, one_packages: str = "", out=sys.stdout,
                 one_version: str = ""):
        from sandbox import one_release

        if one_version and not one_packages:
            one_release.repository_line(one_version, "debian12")  # refused before anything
        self.container_name = name
        self.one_packages = one_packages
        self.one_version = one_version
        self.out = out
        self.client = _client()

    # -- lifecycle ------------------------------------------------------------------------

    def _container(self):
        try:
            return self.client.containers.get(self.container_name)
        except Exception:  # noqa: BLE001 - pylxd's NotFound
            return None

    def up(self) -> None:
        steps = Steps(f"sandbox {self.container_name} (lxd)", self.out)
        steps.run("LXD initialised", ensure_initialised, self.client)
        fingerprint = steps.run("base image", base_image.ensure, self.client, self._progress,
                                retry="the cached rootfs is kept; run `invoke sandbox.up` again")
        box = self._container()
        if box is None:
            box = steps.run("container created", self._create, fingerprint)
        if box.status != "Running":
            steps.run("container started", self._start, box)
        steps.run("network up", self._network)
        steps.run("onedock provisioned", self.provision,
                  retry="fix the cause, then `invoke sandbox.provision`")
        steps.finish()

    def _progress(self, text: str) -> None:
        self.out.write(f"    {text}\n")
        self.out.flush()

    def _create(self, fingerprint: str):
        config = {"name": self.container_name, "source": {"type": "image",
                                                          "fingerprint": fingerprint},
                  "config": {"security.nesting": "true", "security.privileged": "true",
                             "user.onedock.sandbox": "1"}}
        try:
            return self.client.containers.create(config, wait=True)
        except Exception as exc:  # noqa: BLE001
            raise OneDockError(f"cannot create {self.container_name}: {exc}") from exc

    def _start(self, box) -> None:
        box.start(wait=True)

    def _network(self) -> None:
        """A fixed address on lxdbr0, set from outside: the minimal image runs no DHCP client."""
        import ipaddress

        try:
            bridge = self.client.networks.get("lxdbr0").config.get("ipv4.address", "")
            gateway = ipaddress.ip_interface(bridge)
        except Exception as exc:  # noqa: BLE001
            raise OneDockError(f"lxdbr0 has no IPv4 address ({exc})",
                               hint="lxc network set lxdbr0 ipv4.address 10.214.0.1/24") from exc
        address = f"{gateway.network.network_address + 200}/{gateway.network.prefixlen}"
        self.exec(["ip", "addr", "replace", address, "dev", "eth0"])
        self.exec(["ip", "link", "set", "eth0", "up"])
        self.exec(["ip", "route", "replace", "default", "via", str(gateway.ip)])

    def provision(self) -> None:
        """Ship the source and wheels, then run the provisioning script rendered from provision/."""
        box = self._container()
        if box is None:
            raise OneDockError("no sandbox container", hint="run `invoke sandbox.up` first")
        wheels = _wheelhouse(self.out)
        box.files.put("/root/onedock-src.tar", _source_tar())
        box.files.put("/root/wheels.tar", wheels)
        has_one = bool(self.one_packages)
        if has_one:
            box.files.put("/root/one-packages.tar", _dir_tar(Path(self.one_packages)))
        script = provision_script(archives=True, src=GUEST_SRC, wheels="/root/wheels",
                                  hostname=self.container_name, one_packages=has_one,
                                  one_version="" if has_one else self.one_version)
        box.files.put("/root/provision.sh", script.encode())
        result = self.exec(["bash", "/root/provision.sh"], check=False)
        self.out.write(result.stdout)
        if result.rc != 0:
            raise OneDockError(f"provisioning failed: {result.stderr.strip().splitlines()[-1:]}")

    def exec(self, argv: list[str], *, cwd: str = "/root", check: bool = True) -> ExecResult:
        box = self._container()
        if box is None:
            raise OneDockError("no sandbox container", hint="run `invoke sandbox.up` first")
        env = {"PATH": f"{GUEST_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                       "/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
        res = box.execute(argv, environment=env, cwd=cwd)
        result = ExecResult(res.exit_code, res.stdout or "", res.stderr or "")
        if check and result.rc != 0:
            raise OneDockError(f"`{' '.join(argv)}` failed in the sandbox: "
                               f"{(result.stderr or result.stdout).strip()[-300:]}")
        return result

    def status(self) -> dict:
        box = self._container()
        if box is None:
            return {"backend": "lxd", "name": self.container_name, "state": "absent"}
        state = box.state()
        addresses = [a["address"] for nic in (state.network or {}).values()
                     for a in nic.get("addresses", []) if a.get("family") == "inet"]
        return {"backend": "lxd", "name": self.container_name, "state": box.status,
                "addresses": addresses}

    def shell(self) -> None:
        os.execvp("lxc", ["lxc", "exec", self.container_name, "--", "bash", "-l"])

    def down(self) -> None:
        box = self._container()
        if box is None:
            self.out.write(f"==> {self.container_name}: nothing to remove\n")
            return
        if box.status == "Running":
            box.stop(force=True, wait=True)
        box.delete(wait=True)
        self.out.write(f"==> {self.container_name}: removed (base image {base_image.ALIAS} "
                       "kept for the next up)\n")


def provision_script(*, archives: bool, src: str, wheels: str, hostname: str,
                     one_packages: bool, one_version: str = "", distro: str = "debian12") -> str:
    """The guest's provisioning, rendered from provision/ with production's registry files.

    one_version: OpenNebula from its package repository (refused here, before anything is
    installed, when it publishes no packages for that release and distribution)."""
    import provision as templates
    from sandbox import one_release

    storage = "/var/lib/onedock-registry"
    repository = one_release.repository_line(one_version, distro) if one_version else ""
    return templates.render(
        "sandbox-provision.sh.j2", archives=archives, src=src, wheels=wheels, venv=GUEST_VENV,
        hostname=hostname, one_packages=one_packages, one_version=one_version,
        one_repository=repository, one_key_url=one_release.KEY_URL,
        one_keyring=one_release.KEYRING,
        one_frontend_packages=" ".join(one_release.FRONTEND_PACKAGES),
        registry_config=templates.render("registry.yml.j2", storage=storage,
                                         listen="127.0.0.1:5000", tls_cert="", tls_key="",
                                         htpasswd=""),
        registry_unit=templates.render("onedock-registry.service.j2", user="root",
                                       registry_binary="/usr/bin/docker-registry",
                                       config="/etc/onedock/registry.yml", storage=storage),
        onedock_conf=templates.render("onedock.conf.j2", role="sandbox", registry="127.0.0.1:5000",
                                      registry_insecure=True, registry_ca="",
                                      registry_username="", registry_password_file="",
                                      registry_storage=storage, frontend=hostname,
                                      nic_helper=""),
    )


def _source_tar() -> bytes:
    """This checkout as git tracks it (plus uncommitted changes), for the guest to install."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in filter(None, files.decode().split("\0")):
            path = ROOT / name
            if path.is_file() or path.is_symlink():
                tar.add(str(path), arcname=name)
    return buf.getvalue()


def _wheelhouse(out) -> bytes:
    """Wheels of onedock and its dependencies built here: the guest needs no package index."""
    cache = base_image.CACHE / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                           str(cache), f"{ROOT}[test]"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise OneDockError(f"pip wheel failed: {proc.stderr.strip()[-300:]}")
    return _dir_tar(cache)


def _dir_tar(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(str(path), arcname=path.name)
    return buf.getvalue()
