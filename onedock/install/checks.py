"""What a host needs besides onedock's files, checked by `onedock install host`.

The host's side of OpenNebula is not onedock's to install, but a host that lacks it fails far
from here: the monitoring agent (OpenNebula's monitord-client.rb, which onedock links) dies
when Ruby or a gem is missing and the host goes to ERROR with a message about rsync or a
timeout. So install says what is missing and how to get it, before anyone runs onehost create.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass

from onedock.errors import OneDockError

# What OpenNebula's agent and probe libraries require on a host (6.10 - 7.4):
# monitord-client.rb (socket, zlib, yaml, open3, rexml) and the probe DB (sqlite3).
AGENT_LIBRARIES = ("socket", "zlib", "yaml", "open3", "rexml/document", "sqlite3")
DEBIAN_PACKAGES = {"sqlite3": "ruby-sqlite3"}  # rexml, zlib, yaml come with Debian's ruby


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    fix: str = ""

    def line(self) -> str:
        return f"{'ok' if self.ok else 'missing':>9}  {self.what}" + (
            "" if self.ok else f": {self.fix}")


def host(user: str, helper: str, registry: str, insecure: bool = False,
         docker_url: str = "unix:///var/run/docker.sock", timeout: float = 5.0) -> list[Check]:
    out = [_docker(user, docker_url, timeout)]
    out += _ruby()
    out.append(_sudo(helper))
    if registry:
        out.append(_registry(registry, insecure, docker_url, timeout))
    return out


def _docker(user: str, url: str, timeout: float) -> Check:
    from onedock.monitor.dockerapi import LocalEngine

    what = f"Docker engine at {url}, usable by {user}"
    try:
        LocalEngine(url, timeout).get("/version")
    except OneDockError as exc:
        return Check(what, False, f"{exc}; install docker.io and start dockerd")
    if not url.startswith("unix://"):
        return Check(what, True)
    sock = url.removeprefix("unix://")
    try:
        info, entry = os.stat(sock), pwd.getpwnam(user)
    except (OSError, KeyError) as exc:
        return Check(what, False, f"{exc}; create the user {user} (OpenNebula's node package "
                                  "does) or pass --user")
    groups = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem} | {entry.pw_gid}
    if info.st_uid == entry.pw_uid or (info.st_gid in groups and info.st_mode & 0o060 == 0o060):
        return Check(what, True)
    group = _group_name(info.st_gid)
    return Check(what, False, f"{user} may not use {sock}: usermod -aG {group} {user}")


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _ruby() -> list[Check]:
    ruby = shutil.which("ruby")
    if ruby is None:
        return [Check("Ruby (OpenNebula's monitoring agent runs on it)", False,
                      "apt install ruby " + " ".join(sorted(set(DEBIAN_PACKAGES.values()))))]
    out = []
    for lib in AGENT_LIBRARIES:
        ok = _ruby_requires(ruby, lib)
        fix = f"apt install {DEBIAN_PACKAGES[lib]}" if lib in DEBIAN_PACKAGES else \
            "reinstall ruby"
        out.append(Check(f"Ruby library '{lib}' for the monitoring agent", ok, fix))
    out.append(Check(
        "Ruby library 'load_opennebula_paths' (OpenNebula 7.0+ host scripts require it)",
        _ruby_requires(ruby, "load_opennebula_paths"),
        "install OpenNebula's host package (opennebula-common) or put a "
        "load_opennebula_paths.rb on RUBYLIB; 6.10 hosts do without"))
    return out


def _ruby_requires(ruby: str, lib: str) -> bool:
    try:
        done = subprocess.run([ruby, "-e", "require ARGV[0]", lib], capture_output=True,
                              timeout=20, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _sudo(helper: str) -> Check:
    what = f"sudo, for the rule that lets the driver run {helper}"
    if shutil.which("sudo") is None:
        return Check(what, False, "apt install sudo (OpenNebula's network drivers need it too)")
    if not os.access(helper, os.X_OK):
        return Check(what, False, f"{helper} is missing: install the onedock package, or pass "
                                  "--helper with the path of onedock-nic")
    return Check(what, True)


def _registry(registry: str, declared_insecure: bool, url: str, timeout: float) -> Check:
    """Reachable from here, and trusted by dockerd (TLS it verifies, or plain HTTP it allows:
    listed in insecure-registries, or on loopback, which Docker allows by default)."""
    import ipaddress

    from onedock.monitor.dockerapi import LocalEngine

    what = f"private registry {registry}, reachable and trusted by dockerd"
    try:
        config = LocalEngine(url, timeout).get("/info").get("RegistryConfig") or {}
    except (OneDockError, AttributeError):
        config = {}
    host, _, port = registry.rpartition(":")
    if not host or not port.isdigit():
        return Check(what, False, f"'{registry}' is not host:port")
    index = (config.get("IndexConfigs") or {}).get(registry) or {}
    insecure = index.get("Secure") is False
    try:
        address = ipaddress.ip_address(host.strip("[]"))
        insecure = insecure or any(address in ipaddress.ip_network(cidr) for cidr in
                                   config.get("InsecureRegistryCIDRs") or [])
    except ValueError:
        pass
    if declared_insecure and not insecure:
        return Check(what, False, "dockerd does not allow plain HTTP to it yet: restart dockerd "
                                  "(insecure-registries in /etc/docker/daemon.json)")
    import http.client
    import ssl

    try:
        if insecure:
            conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        else:
            context = ssl.create_default_context()
            ca = f"/etc/docker/certs.d/{registry}/ca.crt"
            if os.path.exists(ca):
                context.load_verify_locations(ca)
            conn = http.client.HTTPSConnection(host, int(port), timeout=timeout,
                                               context=context)
        conn.request("GET", "/v2/")
        status = conn.getresponse().status
        conn.close()
    except ssl.SSLError as exc:
        return Check(what, False, f"TLS not trusted ({exc.reason}): pass --registry-ca, or "
                                  "--registry-insecure for a plain-HTTP registry")
    except OSError as exc:
        hint = "" if insecure else " (plain HTTP? then --registry-insecure, and restart dockerd)"
        return Check(what, False, f"cannot reach it: {exc.strerror or exc}{hint}")
    if status not in (200, 401):
        return Check(what, False, f"GET /v2/ answered {status}: is it a registry v2?")
    return Check(what, True)
