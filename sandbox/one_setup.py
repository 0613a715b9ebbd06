"""OpenNebula in the sandbox, configured the way a production front-end is.

Runs inside the front-end guest as root, after OpenNebula's files are there (its packages or a
self-contained tree): onedock's own installer for the front-end and this host, oneadmin's ssh
key for every host, the services started, then the objects a newcomer needs (the onedock
datastores, each host, a bridged network, an image and a ready template) and a report like
OpenNebula's installer prints. Every step is repeatable: objects are found by name first.

Usage: python -m sandbox.one_setup [--one-location DIR] [--node NAME]... [--address IP]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import provision
from sandbox.backend import GUEST_VENV, Steps

ONEADMIN = "oneadmin"
PASSWORD_FILE = "/root/oneadmin-password"
BRIDGE, FIRST_IP = "onebr0", "10.215.0.100"  # the provisioning's bridge, 10.215.0.1/24
DEMO_IMAGE = "onedock-web"  # built offline into the local registry: the sandbox's first image
MARKETS_OFFLINE = "-t 15 -m http,s3"


class Front:
    """Where OpenNebula is in this guest: packaged (/usr, /etc/one) or self-contained."""

    def __init__(self, location: str = ""):
        self.location = location.rstrip("/")
        self.etc = f"{self.location}/etc" if self.location else "/etc/one"
        self.remotes = (f"{self.location}/var/remotes" if self.location
                        else "/var/lib/one/remotes")
        self.home = pwd.getpwnam(ONEADMIN).pw_dir

    def bin(self, name: str) -> str:
        return f"{self.location}/bin/{name}" if self.location else f"/usr/bin/{name}"

    def env(self) -> dict[str, str]:
        env = {"PATH": f"{self.location + '/bin:' if self.location else ''}{GUEST_VENV}/bin:"
                       "/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": self.home, "USER": ONEADMIN, "LANG": "C.UTF-8",
               "ONE_AUTH": f"{self.home}/.one/one_auth",
               "ONE_XMLRPC": "http://127.0.0.1:2633/RPC2"}
        if self.location:
            env["ONE_LOCATION"] = self.location
            ruby_lib = f"{self.location}/lib/ruby"
            env["RUBYLIB"] = ruby_lib
        return env

    def version(self) -> str:
        text = Path(self.remotes, "VERSION").read_text().strip()
        return text.split()[0] if text else "?"


def as_oneadmin(front: Front, argv: list[str], check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """argv as oneadmin (runuser: no password, no tty), with the CLI's environment."""
    proc = subprocess.run(["runuser", "-u", ONEADMIN, "--", "env", *[
        f"{k}={v}" for k, v in front.env().items()], *argv],
        capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} {' '.join(argv[1:])[:120]}: "
                           f"{' '.join((proc.stderr or proc.stdout).split())[:300]}")
    return proc


def sandbox_oned_conf(text: str) -> str:
    """oned.conf as the sandbox runs it: without the public marketplaces, which resolve
    internet names when oned starts and on every monitoring interval (the sandbox is about
    containers, and may have no internet)."""
    return re.sub(r'(MARKET_MAD\s*=\s*\[[^\]]*?ARGUMENTS\s*=\s*)"[^"]*"',
                  lambda m: f'{m.group(1)}"{MARKETS_OFFLINE}"', text, count=1, flags=re.S)


def keep_empty_bridge(text: str) -> str:
    """OpenNebula deletes a bridge, with the address on it, when its last VM leaves: the
    sandbox's bridge carries the gateway of its network, so it stays."""
    if re.search(r"^:keep_empty_bridge:", text, flags=re.M):
        return re.sub(r"^:keep_empty_bridge:.*$", ":keep_empty_bridge: true", text,
                      flags=re.M)
    return text.rstrip("\n") + "\n:keep_empty_bridge: true\n"


class Setup:
    def __init__(self, front: Front, nodes: list[str], address: str, out=sys.stdout):
        self.front = front
        self.nodes = nodes
        self.address = address  # the front-end's address the nodes reach (registry, oned)
        self.out = out
        self.registry = f"{address}:5000"

    def cli(self, command: str, *args: str, check: bool = True) -> str:
        return as_oneadmin(self.front, [self.front.bin(command), *args], check=check).stdout

    # -- the steps ---------------------------------------------------------------------------

    def run(self) -> None:
        steps = Steps("OpenNebula in the sandbox", self.out)
        if self.front.location:
            steps.run("the self-contained install's Ruby libraries on the host side",
                      self.ruby_paths)
        steps.run("login shells get the CLI, logged in as oneadmin", self.profile)
        steps.run("onedock install frontend (production's installer)", self.install_frontend)
        steps.run("onedock install host (this machine runs VMs too)", self.install_host)
        steps.run("oneadmin's ssh key reaches every host", self.ssh_keys)
        steps.run("oned, scheduler and monitord started", self.start)
        steps.run("datastores onedock-images and onedock-system", self.datastores)
        steps.run("hosts registered and MONITORED", self.hosts)
        steps.run(f"virtual network on {BRIDGE}", self.network)
        steps.run(f"image {DEMO_IMAGE} READY and template {DEMO_IMAGE}", self.template)
        steps.finish()
        self.report()

    def ruby_paths(self) -> None:
        """A source install is found through ONE_LOCATION, which ssh does not carry to the
        host side: Ruby gets a small load_opennebula_paths there (site_ruby, after RUBYLIB,
        so the front-end's CLI keeps the install's own)."""
        lib = f"{self.front.location}/lib/ruby"
        site = Path(subprocess.run(["ruby", "-e", "print RbConfig::CONFIG['sitelibdir']"],
                                   capture_output=True, text=True, check=True).stdout)
        site.mkdir(parents=True, exist_ok=True)
        (site / "load_opennebula_paths.rb").write_text(
            "# onedock sandbox: where a self-contained OpenNebula keeps its Ruby libraries\n"
            f"$LOAD_PATH << {json.dumps(lib)} unless $LOAD_PATH.include?({json.dumps(lib)})\n")

    def profile(self) -> None:
        env = {k: v for k, v in self.front.env().items() if k not in ("HOME", "USER", "LANG")}
        Path("/etc/profile.d/opennebula.sh").write_text(
            "# onedock sandbox: the OpenNebula CLI, logged in as oneadmin\n" + "".join(
                f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))

    def install_frontend(self) -> None:
        oned = Path(self.front.etc, "oned.conf")
        oned.write_text(sandbox_oned_conf(oned.read_text()))
        vnm = Path(self.front.remotes, "etc", "vnm", "OpenNebulaNetwork.conf")
        if vnm.exists():
            vnm.write_text(keep_empty_bridge(vnm.read_text()))
        argv = [f"{GUEST_VENV}/bin/onedock", "install", "frontend", "--registry", self.registry,
                "--registry-insecure", "--registry-listen", "0.0.0.0:5000",
                "--python", f"{GUEST_VENV}/bin/python"]
        if self.front.location:
            argv += ["--one-location", self.front.location]
        _run(argv)
        if self.front.location:  # a source install leaves its tree to root
            _run(["chown", "-R", f"{ONEADMIN}:{ONEADMIN}", self.front.location])
        # the installer writes the registry's unit; the sandbox's own registry gives way to it
        _run(["pkill", "-f", "docker-registry serve /etc/onedock/registry.yml"], check=False)
        _run(["systemctl", "daemon-reload"])
        _run(["systemctl", "enable", "--now", "onedock-registry"])
        _run(["systemctl", "restart", "onedock-registry"])

    def install_host(self) -> None:
        _run([f"{GUEST_VENV}/bin/onedock", "install", "host", "--registry", self.registry,
              "--registry-insecure", "--helper", f"{GUEST_VENV}/bin/onedock-nic"])
        _run(["usermod", "-aG", "docker", ONEADMIN])
        _run(["systemctl", "restart", "docker"])  # the registry it may now reach over HTTP
        _wait("the Docker engine", lambda: _run(["docker", "version"], check=False) == 0, 60)

    def ssh_keys(self) -> None:
        ssh = Path(self.front.home, ".ssh")
        key = ssh / "id_ed25519"
        if not key.exists():
            as_oneadmin(self.front, ["mkdir", "-p", "-m", "700", str(ssh)])
            as_oneadmin(self.front, ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                                     str(key)])
        public = (ssh / "id_ed25519.pub").read_text()
        authorized = ssh / "authorized_keys"
        if public not in (authorized.read_text() if authorized.exists() else ""):
            with authorized.open("a") as handle:
                handle.write(public)
        shutil.chown(authorized, ONEADMIN, ONEADMIN)
        authorized.chmod(0o600)
        _run(["systemctl", "enable", "--now", "ssh"])
        hosts = ["localhost", *self.nodes]
        scan = subprocess.run(["ssh-keyscan", "-T", "5", *hosts], capture_output=True,
                              text=True, timeout=60)
        (ssh / "known_hosts").write_text(scan.stdout)
        shutil.chown(ssh / "known_hosts", ONEADMIN, ONEADMIN)
        for host in hosts:
            as_oneadmin(self.front, ["ssh", "-o", "BatchMode=yes", host, "true"])

    def start(self) -> None:
        auth = Path(self.front.home, ".one", "one_auth")
        if not auth.exists():  # a source install has no password yet: the first start sets it
            auth.parent.mkdir(mode=0o700, exist_ok=True)
            password = os.urandom(12).hex()
            auth.write_text(f"{ONEADMIN}:{password}\n")
            shutil.chown(auth.parent, ONEADMIN, ONEADMIN)
            shutil.chown(auth, ONEADMIN, ONEADMIN)
            auth.chmod(0o600)
        if self._answers():
            self._restart()
        elif self.front.location:
            as_oneadmin(self.front, [self.front.bin("one"), "start"])
        else:
            _run(["systemctl", "enable", "--now", "opennebula", "opennebula-fireedge"],
                 check=False)
            _run(["systemctl", "enable", "--now", "opennebula"])
        _wait("oned", self._answers, 120)
        for market in self._names("onemarket"):
            self.cli("onemarket", "disable", market, check=False)

    def _restart(self) -> None:
        """oned reads oned.conf only when it starts: a second provisioning restarts it."""
        if self.front.location:
            as_oneadmin(self.front, [self.front.bin("one"), "stop"], check=False)
            _wait("oned to stop", lambda: not self._answers(), 60)
            as_oneadmin(self.front, [self.front.bin("one"), "start"])
        else:
            _run(["systemctl", "restart", "opennebula"])

    def _answers(self) -> bool:
        try:
            return as_oneadmin(self.front, [self.front.bin("onehost"), "list"], check=False,
                               timeout=20).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _names(self, command: str) -> dict[str, int]:
        listing = json.loads(self.cli(command, "list", "-j") or "{}")
        pool = next(iter(listing.values()), {}) if listing else {}
        items = next(iter(pool.values()), []) if isinstance(pool, dict) else []
        items = [items] if isinstance(items, dict) else items
        return {item["NAME"]: int(item["ID"]) for item in items}

    def _create(self, command: str, name: str, template: str, *args: str) -> int:
        found = self._names(command).get(name)
        if found is not None:
            return found
        with tempfile.NamedTemporaryFile("w", suffix=".tmpl", delete=False) as handle:
            handle.write(template)
        os.chmod(handle.name, 0o644)
        try:
            out = self.cli(command, "create", handle.name, *args)
        finally:
            os.unlink(handle.name)
        return int(out.strip().split()[-1])

    def datastores(self) -> None:
        self.image_ds = self._create("onedatastore", "onedock-images",
                                     provision.render("datastore-image.tmpl.j2"))
        self.system_ds = self._create("onedatastore", "onedock-system",
                                      provision.render("datastore-system.tmpl.j2"))

    def hosts(self) -> None:
        known = self._names("onehost")
        for host in ["localhost", *self.nodes]:
            if host not in known:
                self.cli("onehost", "create", host, "-i", "onedock", "-v", "onedock")
        for host in ["localhost", *self.nodes]:
            _wait(f"host {host} MONITORED", lambda host=host: self._host_state(host), 180)

    def _host_state(self, host: str) -> bool:
        doc = json.loads(self.cli("onehost", "show", host, "-j"))["HOST"]
        if doc["STATE"] == "3":
            error = doc.get("TEMPLATE", {}).get("ERROR", "")
            raise RuntimeError(f"host {host} in ERROR: {' '.join(str(error).split())[:300]}")
        return doc["STATE"] == "2"

    def network(self) -> None:
        self.net_id = self._create("onevnet", "onedock-net", provision.render(
            "vnet.tmpl.j2", name="onedock-net", bridge=BRIDGE, network="10.215.0.0",
            netmask="255.255.255.0", gateway="10.215.0.1", first_ip=FIRST_IP, size=100))

    def template(self) -> None:
        _run([f"{GUEST_VENV}/bin/python", "-m", "sandbox.demo_image", self.registry,
              DEMO_IMAGE])
        image = self._names("oneimage").get(DEMO_IMAGE)
        if image is None:
            image = self._create("oneimage", DEMO_IMAGE, (
                f'NAME = "{DEMO_IMAGE}"\nPATH = "docker://{self.registry}/{DEMO_IMAGE}:1"\n'),
                "-d", str(self.image_ds))
        _wait(f"image {DEMO_IMAGE} READY", lambda: self._image_ready(image), 180)
        self._create("onetemplate", DEMO_IMAGE, provision.render(
            "vm-template.tmpl.j2", name=DEMO_IMAGE, image_id=image, network_id=self.net_id))

    def _image_ready(self, image: int) -> bool:
        doc = json.loads(self.cli("oneimage", "show", str(image), "-j"))["IMAGE"]
        if doc["STATE"] == "5":
            raise RuntimeError(f"image {DEMO_IMAGE} in ERROR: "
                               f"{doc.get('TEMPLATE', {}).get('ERROR', '')}"[:300])
        return doc["STATE"] == "1"

    def report(self) -> None:
        user, _, password = Path(self.front.home, ".one", "one_auth").read_text().strip() \
            .partition(":")
        Path(PASSWORD_FILE).write_text(f"{password}\n")
        os.chmod(PASSWORD_FILE, 0o600)
        fireedge = Path(self.front.location or "/usr/lib/one", "fireedge").exists() or \
            shutil.which("opennebula-fireedge") is not None
        sunstone = (f"http://{self.address}:2616" if fireedge else
                    "not installed (this OpenNebula has no FireEdge; use the CLI)")
        self.out.write(provision.render(
            "one-report.txt.j2", version=self.front.version(), sunstone=sunstone, user=user,
            password_file=PASSWORD_FILE, image_ds="onedock-images", template=DEMO_IMAGE,
            registry=self.registry, first_ip=FIRST_IP))


def _run(argv: list[str], check: bool = True) -> int:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)[:120]}: "
                           f"{' '.join((proc.stderr or proc.stdout).split())[-300:]}")
    return proc.returncode


def _wait(what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(1)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.one_setup")
    parser.add_argument("--one-location", default="")
    parser.add_argument("--node", action="append", default=[])
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        Setup(Front(args.one_location), args.node, args.address).run()
    except Exception as exc:  # noqa: BLE001 - one line, then the provisioning stops
        print(f"onedock sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
