"""From an OpenNebula VM to the Docker container that runs it.

The container is the VM: named `one-<vmid>`, created from its staged boot disk, with its other
disks as volumes, its context as environment and files, CPU and memory limits from the
template, no Docker networking (NICs are plumbed onto the VM's bridges afterwards), and safe
defaults: Docker's capability set minus NET_RAW and MKNOD, no-new-privileges, an init process.
Per-VM opt-ins (USER_TEMPLATE): DOCKER_COMMAND, DOCKER_ENTRYPOINT, DOCKER_CAP_ADD,
DOCKER_PRIVILEGED=YES, DOCKER_NO_NEW_PRIVILEGES=NO; a disk's MOUNTPOINT sets where it appears.
"""

from __future__ import annotations

import json
import math
import re
import shlex

from onedock import names
from onedock.errors import OneDockError
from onedock.helper.requests import NicSpec
from onedock.one import is_digits
from onedock.one.vm import VM, Disk, Nic

CONTEXT_MOUNT = "/run/one-context"
DROP_CAPS = ["NET_RAW", "MKNOD"]
_CAPS = re.compile(r"[A-Z_]{2,32}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
LABEL_SPEC = f"{names.LABEL}.spec"
LABEL_IPS = f"{names.LABEL}.ips"
MIB = 1 << 20


def boot_disk(vm: VM) -> Disk:
    """The disk the container's root filesystem comes from: OS/BOOT's first diskN, else disk 0."""
    wanted = None
    for token in vm.boot.split(","):
        token = token.strip()
        if token.startswith("disk"):
            if not is_digits(token[4:]):
                raise OneDockError(f"OS/BOOT names '{token[:20]}', not diskN")
            wanted = int(token[4:])
            break
    candidates = [d for d in vm.disks if d.disk_id != vm.context_disk]
    for disk in candidates:
        if wanted is None or disk.disk_id == wanted:
            return disk
    raise OneDockError(f"VM {vm.id} has no disk to boot from", hint="add an onedock image DISK")


def mountpoint(disk: Disk) -> str:
    point = disk.attrs.get("MOUNTPOINT") or f"/mnt/{disk.target or f'disk{disk.disk_id}'}"
    if not point.startswith("/") or ".." in point.split("/") or not re.fullmatch(
        r"[A-Za-z0-9_./-]{2,200}", point
    ):
        raise OneDockError(
            f"disk {disk.disk_id}: MOUNTPOINT '{point[:60]}' is not an absolute path"
        )
    return point


def _argv(value: str, what: str) -> list[str] | None:
    if not value:
        return None
    try:
        argv = json.loads(value) if value.lstrip().startswith("[") else shlex.split(value)
    except ValueError as exc:
        raise OneDockError(f"{what} is neither a JSON list nor a command line: {exc}") from exc
    if not argv or not all(isinstance(a, str) for a in argv):
        raise OneDockError(f"{what} must be a non-empty list of strings")
    return argv


def _yes(value: str, default: bool) -> bool:
    if not value:
        return default
    return value.strip().upper() in ("YES", "TRUE", "1")


def nic_specs(vm: VM, nics: list[Nic] | None = None) -> list[NicSpec]:
    import ipaddress  # deploy and attach_nic pay for it, not every VMM action

    specs = []
    for nic in vm.nics if nics is None else nics:
        mask = vm.nic_context(nic.nic_id, "MASK") or nic.attrs.get("MASK", "")
        try:
            prefix = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen if mask else 24
        except ValueError as exc:
            raise OneDockError(f"NIC {nic.nic_id}: bad mask '{mask}'") from exc
        mtu = vm.nic_context(nic.nic_id, "MTU") or nic.attrs.get("GUEST_MTU", "")
        specs.append(NicSpec(
            nic_id=nic.nic_id,
            bridge=nic.bridge,
            mac=nic.mac.lower(),
            ip=nic.ip,
            prefix=prefix,
            gateway=vm.nic_context(nic.nic_id, "GATEWAY") or nic.attrs.get("GATEWAY", ""),
            host_if=f"one-{vm.id}-{nic.nic_id}",  # never the template's TARGET: user-settable
            mtu=_mtu(mtu, nic.nic_id),
        ).check())
    return specs


def _policy(vm: VM, cfg) -> tuple[list[str], bool, bool]:
    """The VM's DOCKER_* opt-ins, checked against what the administrator allows."""
    user = vm.user_template
    caps = [c.strip().upper() for c in user.get("DOCKER_CAP_ADD", "").split(",") if c.strip()]
    for cap in caps:
        if not _CAPS.fullmatch(cap):
            raise OneDockError(f"DOCKER_CAP_ADD: '{cap}' is not a capability name")
        if cap not in cfg.allowed_capabilities:
            raise OneDockError(f"DOCKER_CAP_ADD: {cap} is not allowed on this host",
                               hint="an administrator can list it in allowed_capabilities")
    privileged = _yes(user.get("DOCKER_PRIVILEGED", ""), False)
    no_new_privs = _yes(user.get("DOCKER_NO_NEW_PRIVILEGES", ""), True)
    if (privileged or not no_new_privs) and not cfg.allow_privileged:
        raise OneDockError("DOCKER_PRIVILEGED / DOCKER_NO_NEW_PRIVILEGES=NO are not allowed",
                           hint="an administrator can set allow_privileged = true")
    return caps, privileged, no_new_privs


def _check_context(vm: VM) -> None:
    """Refuse what would only fail once the container runs (and need a rollback)."""
    encoded = vm.context.get("START_SCRIPT_BASE64", "")
    if encoded and not vm.context.get("START_SCRIPT"):
        import base64
        import binascii

        try:
            base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise OneDockError("CONTEXT/START_SCRIPT_BASE64 is not valid base64") from exc


def _mtu(value: str, nic_id: int) -> int:
    if not value:
        return 0
    if not is_digits(value, 5):
        raise OneDockError(f"NIC {nic_id}: MTU '{value[:20]}' is not a number")
    return int(value)


def spec(vm: VM, cfg) -> dict:
    """The Engine API create body for the VM's container (its hash is kept as a label)."""
    _check_context(vm)
    boot = boot_disk(vm)
    mounts = []
    for disk in vm.disks:
        if disk.disk_id == boot.disk_id:
            continue
        target = CONTEXT_MOUNT if disk.disk_id == vm.context_disk else mountpoint(disk)
        mounts.append({"Type": "volume", "Source": names.volume(vm.id, disk.disk_id),
                       "Target": target, "ReadOnly": disk.disk_id == vm.context_disk
                       or disk.attrs.get("READONLY", "NO").upper() == "YES"})
    if vm.context_disk >= 0 and all(d.disk_id != vm.context_disk for d in vm.disks):
        mounts.append({"Type": "volume", "Source": names.volume(vm.id, vm.context_disk),
                       "Target": CONTEXT_MOUNT, "ReadOnly": True})
    user = vm.user_template
    env = [f"{k}={v}" for k, v in sorted(vm.context.items()) if _ENV.fullmatch(k)]
    env.append(f"ONE_VMID={vm.id}")
    memory = vm.memory_mb * MIB if vm.memory_mb > 0 else 0
    cpus = vm.vcpu or max(1, math.ceil(vm.cpu))
    caps_add, privileged, no_new_privs = _policy(vm, cfg)
    import ipaddress  # deploy pays for it, not every VMM action

    dns = []
    for server in (vm.context.get("ETH0_DNS") or vm.context.get("DNS") or "").split():
        try:
            dns.append(str(ipaddress.ip_address(server)))
        except ValueError as exc:
            raise OneDockError(f"DNS server '{server[:40]}' is not an IP address") from exc
    hostname = vm.context.get("SET_HOSTNAME") or vm.context.get("HOSTNAME") or vm.name
    hostname = re.sub(r"[^A-Za-z0-9-]", "-", hostname)[:63].strip("-") or f"one-{vm.id}"
    ips = ",".join(n.ip for n in vm.nics if n.ip)
    host_config = {
        "NetworkMode": "none",
        "Mounts": mounts,
        "Memory": memory,
        "MemorySwap": memory,
        "NanoCpus": int(cpus * 1e9),
        "CpuShares": max(2, round(vm.cpu * 1024)),
        "PidsLimit": 4096,
        "Init": True,
        "CapDrop": [c for c in DROP_CAPS if c not in caps_add],
        "CapAdd": caps_add,
        "SecurityOpt": ["no-new-privileges"] if no_new_privs else [],
        "Privileged": privileged,
        "Dns": dns,
        "RestartPolicy": {"Name": "no"},
    }
    body = {
        "Image": f"{names.disk_repo(vm.id)}:{names.disk_tag(boot.disk_id)}",
        "Hostname": hostname,
        "Env": env,
        "Labels": {names.LABEL_VMID: str(vm.id), names.LABEL_DISK: str(boot.disk_id),
                   LABEL_IPS: ips,
                   names.LABEL_CONTEXT_ENV: ",".join(e.split("=", 1)[0] for e in env)},
        "NetworkDisabled": False,
        "HostConfig": host_config,
    }
    command = _argv(user.get("DOCKER_COMMAND", ""), "DOCKER_COMMAND")
    entrypoint = _argv(user.get("DOCKER_ENTRYPOINT", ""), "DOCKER_ENTRYPOINT")
    if command:
        body["Cmd"] = command
    if entrypoint:
        body["Entrypoint"] = entrypoint
    import hashlib  # only the actions that build a spec (deploy, resume) pay for OpenSSL

    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    body["Labels"][LABEL_SPEC] = digest
    return body
