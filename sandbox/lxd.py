"""The LXD sandbox: one system container running Docker, the registry and onedock.

Driven through pylxd. The container runs privileged with nesting so Docker works inside it on
any host kernel and cgroup layout: it is a disposable test machine, not a production host.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
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
SEGMENT = "onedockvms"  # with --nodes: an LXD bridge without address joining the guests' onebr0
ONE_LOCATION_SHAPE = re.compile(r"^/[A-Za-z0-9._/-]{1,200}$")


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
                 one_version: str = "", one_location: str = "", nodes: int = 0):
        from sandbox import one_release

        if one_location:  # refused before anything is made
            one_location = one_location.rstrip("/")
            if not ONE_LOCATION_SHAPE.match(one_location) or ".." in one_location:
                raise OneDockError(f"--one-location '{one_location[:80]}' is not an absolute "
                                   "path of letters, digits, '.', '_', '-' and '/'")
            if not Path(one_location, "bin", "oned").is_file():
                raise OneDockError(f"--one-location {one_location}: no bin/oned there",
                                   hint="give the directory a self-contained OpenNebula "
                                        "install made (install.sh -d DIR)")
        elif one_version and not one_packages:
            one_release.repository_line(one_version, "debian12")
        if not 0 <= nodes <= 8:
            raise OneDockError(f"--nodes {nodes}: from 0 to 8 hosts beside the front-end")
        self.container_name = name
        self.one_packages = one_packages
        self.one_version = "" if one_location or one_packages else one_version
        self.one_location = one_location
        self.node_names = [f"{name}-node{i}" for i in range(1, nodes + 1)]
        self.out = out
        self.client = _client()

    # -- lifecycle ------------------------------------------------------------------------

    def _container(self, name: str = ""):
        try:
            return self.client.containers.get(name or self.container_name)
        except Exception:  # noqa: BLE001 - pylxd's NotFound
            return None

    @property
    def machines(self) -> list[str]:
        return [self.container_name, *self.node_names]

    def up(self) -> None:
        steps = Steps(f"sandbox {self.container_name} (lxd)", self.out)
        steps.run("LXD initialised", ensure_initialised, self.client)
        fingerprint = steps.run("base image", base_image.ensure, self.client, self._progress,
                                retry="the cached rootfs is kept; run `invoke sandbox.up` again")
        if self.node_names:
            steps.run(f"segment {SEGMENT} for the VMs' bridge on every machine", self._segment)
        for name in self.machines:
            box = self._container(name)
            if box is None:
                box = steps.run(f"container {name} created", self._create, name, fingerprint)
            if box.status != "Running":
                steps.run(f"container {name} started", self._start, box)
        steps.run("network up", self._network)
        steps.run("onedock provisioned", self.provision,
                  retry="fix the cause, then `invoke sandbox.provision`")
        steps.finish()

    def _progress(self, text: str) -> None:
        self.out.write(f"    {text}\n")
        self.out.flush()

    def _segment(self) -> None:
        try:
            self.client.networks.get(SEGMENT)
        except Exception:  # noqa: BLE001 - pylxd's NotFound
            self.client.networks.create(SEGMENT, type="bridge", config={
                "ipv4.address": "none", "ipv6.address": "none"})

    def _create(self, name: str, fingerprint: str):
        config = {"name": name, "source": {"type": "image", "fingerprint": fingerprint},
                  "config": {"security.nesting": "true", "security.privileged": "true",
                             "user.onedock.sandbox": "1"}}
        if self.node_names:
            config["devices"] = {"eth1": {"type": "nic", "network": SEGMENT, "name": "eth1"}}
        try:
            return self.client.containers.create(config, wait=True)
        except Exception as exc:  # noqa: BLE001
            raise OneDockError(f"cannot create {name}: {exc}") from exc

    def _start(self, box) -> None:
        box.start(wait=True)

    def addresses(self) -> dict[str, str]:
        """Each machine's fixed address on lxdbr0: .200 the front-end, .201 and on its nodes."""
        import ipaddress

        try:
            bridge = self.client.networks.get("lxdbr0").config.get("ipv4.address", "")
            gateway = ipaddress.ip_interface(bridge)
        except Exception as exc:  # noqa: BLE001
            raise OneDockError(f"lxdbr0 has no IPv4 address ({exc})",
                               hint="lxc network set lxdbr0 ipv4.address 10.214.0.1/24") from exc
        self._gateway = gateway
        return {name: str(gateway.network.network_address + 200 + index)
                for index, name in enumerate(self.machines)}

    def _network(self) -> None:
        """Fixed addresses set from outside (the minimal image runs no DHCP client), and each
        machine's name in every /etc/hosts, since oned reaches hosts by name over ssh."""
        addresses = self.addresses()
        names = "".join(f"{ip} {name}\n" for name, ip in addresses.items())
        prefix = self._gateway.network.prefixlen
        for name, ip in addresses.items():
            self.exec(["ip", "addr", "replace", f"{ip}/{prefix}", "dev", "eth0"], machine=name)
            self.exec(["ip", "link", "set", "eth0", "up"], machine=name)
            self.exec(["ip", "route", "replace", "default", "via", str(self._gateway.ip)],
                      machine=name)
            hosts = self.exec(["cat", "/etc/hosts"], machine=name).stdout
            kept = "".join(line + "\n" for line in hosts.splitlines()
                           if not line.endswith("# onedock-sandbox"))
            listed = "".join(f"{line} # onedock-sandbox\n" for line in names.splitlines())
            self._box(name).files.put("/etc/hosts", (kept + listed).encode())

    def _box(self, name: str = ""):
        box = self._container(name)
        if box is None:
            raise OneDockError(f"no sandbox container {name or self.container_name}",
                               hint="run `invoke sandbox.up` first")
        return box

    def provision(self) -> None:
        """Ship the source and wheels (and OpenNebula when asked), run the provisioning
        rendered from provision/ on every machine, then configure OpenNebula when present."""
        addresses = self.addresses()
        front = addresses[self.container_name]
        registry = f"{front}:5000"
        wheels = _wheelhouse(self.out)
        source = _source_tar()
        for name in self.machines:
            box = self._box(name)
            box.files.put("/root/onedock-src.tar", source)
            box.files.put("/root/wheels.tar", wheels)
        box = self._box()
        if self.one_packages:
            box.files.put("/root/one-packages.tar", _dir_tar(Path(self.one_packages)))
        if self.one_location:
            self.out.write(f"    shipping {self.one_location}\n")
            box.files.put("/root/one-location.tar", _dir_tar(Path(self.one_location)))
        for name in self.machines:
            role = "frontend" if name == self.container_name else "node"
            self.out.write(f"    {name} ({role}):\n")
            script = provision_script(
                archives=True, src=GUEST_SRC, wheels="/root/wheels", hostname=name,
                one_packages=bool(self.one_packages), one_version=self.one_version,
                one_location=self.one_location, role=role, registry=registry,
                one_host=bool(self.one_location or self.one_packages or self.one_version))
            self._box(name).files.put("/root/provision.sh", script.encode())
            self._script(name, ["bash", "/root/provision.sh"], "provisioning")
        if self.exec(["test", "-x", f"{self.one_location or '/usr'}/bin/oned"],
                     check=False).rc != 0:
            return
        self._share_key()
        argv = [f"{GUEST_VENV}/bin/python", "-m", "sandbox.one_setup", "--address", front,
                *(["--one-location", self.one_location] if self.one_location else []),
                *(arg for node in self.node_names for arg in ("--node", node))]
        self._script(self.container_name, argv, "OpenNebula's configuration", cwd=GUEST_SRC)

    def _script(self, name: str, argv: list[str], what: str, cwd: str = "/root") -> None:
        result = self.exec(argv, machine=name, cwd=cwd, check=False)
        self.out.write(result.stdout)
        if result.rc != 0:
            raise OneDockError(f"{what} of {name} failed: "
                               f"{(result.stderr.strip().splitlines() or ['?'])[-1]}")

    def _share_key(self) -> None:
        """oneadmin's public key from the front-end into every node's authorized_keys."""
        key = self.exec(["cat", "/var/lib/one/.ssh/id_ed25519.pub"]).stdout
        for node in self.node_names:
            self.exec(["install", "-d", "-m", "700", "-o", "oneadmin", "-g", "oneadmin",
                       "/var/lib/one/.ssh"], machine=node)
            self._box(node).files.put("/var/lib/one/.ssh/authorized_keys", key.encode())
            self.exec(["chown", "oneadmin:oneadmin", "/var/lib/one/.ssh/authorized_keys"],
                      machine=node)
            self.exec(["chmod", "600", "/var/lib/one/.ssh/authorized_keys"], machine=node)

    def exec(self, argv: list[str], *, cwd: str = "/root", check: bool = True,
             machine: str = "") -> ExecResult:
        box = self._box(machine)
        env = {"PATH": f"{GUEST_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                       "/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
        res = box.execute(argv, environment=env, cwd=cwd)
        result = ExecResult(res.exit_code, res.stdout or "", res.stderr or "")
        if check and result.rc != 0:
            raise OneDockError(f"`{' '.join(argv)}` failed in {machine or self.container_name}: "
                               f"{(result.stderr or result.stdout).strip()[-300:]}")
        return result

    def status(self) -> dict:
        machines = []
        for name in self.machines:
            box = self._container(name)
            if box is None:
                machines.append({"name": name, "state": "absent"})
                continue
            state = box.state()
            addresses = [a["address"] for nic in (state.network or {}).values()
                         for a in nic.get("addresses", []) if a.get("family") == "inet"]
            machines.append({"name": name, "state": box.status, "addresses": addresses})
        return {"backend": "lxd", **machines[0], "nodes": machines[1:]}

    def shell(self) -> None:
        os.execvp("lxc", ["lxc", "exec", self.container_name, "--", "bash", "-l"])

    def down(self) -> None:
        names = [self.container_name, *(
            box.name for box in self.client.containers.all()
            if box.name.startswith(f"{self.container_name}-node"))]
        for name in names:
            box = self._container(name)
            if box is None:
                self.out.write(f"==> {name}: nothing to remove\n")
                continue
            if box.status == "Running":
                box.stop(force=True, wait=True)
            box.delete(wait=True)
            self.out.write(f"==> {name}: removed\n")
        with contextlib.suppress(Exception):  # only when no container uses it any more
            self.client.networks.get(SEGMENT).delete()
        self.out.write(f"    (base image {base_image.ALIAS} kept for the next up)\n")


def provision_script(*, archives: bool, src: str, wheels: str, hostname: str,
                     one_packages: bool, one_version: str = "", distro: str = "debian12",
                     one_location: str = "", role: str = "frontend",
                     registry: str = "127.0.0.1:5000", one_host: bool = False) -> str:
    """A guest's provisioning, rendered from provision/ with production's registry files.

    one_version: OpenNebula from its package repository (refused here, before anything is
    installed, when it publishes no packages for that release and distribution).
    role: "frontend" (registry, OpenNebula) or "node" (a host: Docker, `onedock install host`).
    one_host: a node of a sandbox with OpenNebula (its host-side scripts need Ruby and sudo).
    """
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
        one_location=one_location, one_bin=f"{one_location or '/usr'}/bin",
        one_runtime_packages=" ".join(one_release.SOURCE_RUNTIME_PACKAGES),
        role=role, registry=registry, one_host=one_host,
        one_host_packages=" ".join(one_release.HOST_PACKAGES),
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
