"""What `onedock install frontend|host` changes, as a list of planned file changes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass

from onedock.errors import OneDockError
from onedock.install import onedconf
from onedock.install import remotes as remotes_tree
from onedock.install.changes import Change, read
from onedock.install.layout import Layout


@dataclass
class FrontendOptions:
    registry: str = ""
    registry_insecure: bool = False
    registry_listen: str = ":5000"
    registry_storage: str = "/var/lib/onedock-registry"
    registry_user: str = "docker-registry"
    tls_cert: str = ""
    tls_key: str = ""
    htpasswd: str = ""
    registry_username: str = ""
    registry_password_file: str = ""
    python: str = ""


@dataclass
class HostOptions:
    registry: str = ""
    registry_insecure: bool = False
    registry_ca: str = ""
    user: str = "oneadmin"
    helper: str = ""


def _render(name: str, **values) -> bytes:
    import provision

    return provision.render(name, **values).encode()


def _remotes_changes(layout: Layout, python: str | None) -> list[Change]:
    """The tree is written to a scratch dir and diffed in; the agent links are checked against
    the real remotes tree they must resolve in (onehost sync copies with rsync -L)."""
    from pathlib import Path

    changes = []
    with tempfile.TemporaryDirectory() as tmp:
        remotes_tree.write(Path(tmp), python, agent_from=Path(layout.remotes))
        for folder, _dirs, files in os.walk(tmp):
            if not _dirs and not files:  # e.g. im/onedock-probes.d/vm/snapshot: must exist
                dst = os.path.join(layout.remotes, os.path.relpath(folder, tmp))
                changes.append(Change(dst, read(dst), b"", directory=True))
            for name in files + [d for d in _dirs if os.path.islink(os.path.join(folder, d))]:
                src = os.path.join(folder, name)
                rel = os.path.relpath(src, tmp)
                dst = os.path.join(layout.remotes, rel)
                if rel == os.path.join("etc", "onedock", "onedock.conf"):
                    continue  # rendered with the install's values below
                if os.path.islink(src):
                    changes.append(Change(dst, read(dst), None, link=os.readlink(src)))
                else:
                    with open(src, "rb") as handle:
                        data = handle.read()
                    changes.append(Change(dst, read(dst), data, mode=0o755))
    return changes


def frontend(layout: Layout, opts: FrontendOptions) -> list[Change]:
    oned_path = os.path.join(layout.etc_one, "oned.conf")
    monitord_path = os.path.join(layout.etc_one, "monitord.conf")
    oned = read(oned_path)
    if oned is None:
        raise OneDockError(f"OpenNebula is not installed here: {oned_path} is missing",
                           hint="install OpenNebula first, or pass --one-location/--prefix")
    monitord = read(monitord_path)
    text = oned.decode()
    foreign = onedconf.foreign_onedock(text)
    if foreign:
        raise OneDockError(
            f"{oned_path} already defines onedock outside onedock's block: {', '.join(foreign)}",
            hint="remove those sections (ONEDock's bash drivers?) and run install again",
        )
    new = onedconf.add_block(text, _render("oned.conf.j2").decode())
    new, _ = onedconf.add_driver(new, "TM_MAD")
    new, _ = onedconf.add_driver(new, "DATASTORE_MAD")
    _validate_oned(new, oned_path)
    changes = [Change(oned_path, oned, new.encode())]
    if monitord is not None:
        mtext = monitord.decode()
        changes.append(Change(monitord_path, monitord,
                              onedconf.add_block(mtext, _render("monitord.conf.j2").decode())
                              .encode()))
    from onedock.config import frontend_names

    registry = opts.registry or f"{frontend_names()[-1]}:5000"
    conf_path = os.path.join(layout.remotes, "etc", "onedock", "onedock.conf")
    existing_conf = read(conf_path)
    rendered_conf = _render(
        "onedock.conf.j2", role="front-end", registry=registry,
        registry_insecure=opts.registry_insecure, registry_ca="",
        registry_username=opts.registry_username,
        registry_password_file=opts.registry_password_file,
        registry_storage=opts.registry_storage, nic_helper="",
        # oned names itself HOSTNAME when set, else this machine's name or FQDN, which
        # Config.is_frontend recognises without a setting
        frontend=onedconf.value(text, "HOSTNAME"),
    )
    changes.append(Change(conf_path, existing_conf,
                          existing_conf if existing_conf is not None else rendered_conf,
                          note="kept as it is" if existing_conf not in (None, rendered_conf)
                          else ""))
    changes += _remotes_changes(layout, opts.python or None)
    if bool(opts.tls_cert) != bool(opts.tls_key):
        raise OneDockError("--tls-cert and --tls-key go together")
    if not opts.tls_cert and not opts.registry_insecure:
        raise OneDockError("the registry needs TLS: give --tls-cert/--tls-key, or "
                           "--registry-insecure for plain HTTP on a trusted network")
    reg_conf = os.path.join(layout.onedock_etc, "registry.yml")
    open_note = "" if opts.htpasswd else (
        "no --htpasswd: anyone who reaches the registry can read and overwrite images; "
        "bind --registry-listen to a management address or firewall it")
    changes.append(Change(reg_conf, read(reg_conf), note=open_note, after=_render(
        "registry.yml.j2", storage=opts.registry_storage, listen=opts.registry_listen,
        tls_cert=opts.tls_cert, tls_key=opts.tls_key, htpasswd=opts.htpasswd)))
    unit = layout.at("/etc/systemd/system/onedock-registry.service")
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    changes.append(Change(unit, read(unit), _render(
        "onedock-registry.service.j2", user=opts.registry_user, registry_binary=binary,
        config=reg_conf.removeprefix(layout.prefix.rstrip("/")) if layout.prefix else reg_conf,
        storage=opts.registry_storage)))
    return changes


def _validate_oned(text: str, path: str) -> None:
    found = onedconf.blocks(text)
    names = {(n, a.get("NAME", "").lower()) for n, _, _, a in found}
    for needed in (("VM_MAD", "onedock"), ("TM_MAD_CONF", "onedock"), ("DS_MAD_CONF", "onedock")):
        if needed not in names:
            raise OneDockError(f"{path}: the result would lack {needed[0]} onedock")


def helper_path(opts: HostOptions) -> str:
    """onedock-nic: the Debian package's, or the one on PATH (a pip install's)."""
    helper = opts.helper or shutil.which("onedock-nic") or "/usr/bin/onedock-nic"
    if not helper.startswith("/"):
        raise OneDockError("--helper must be an absolute path (sudoers needs one)")
    return helper


def host(layout: Layout, opts: HostOptions) -> list[Change]:
    helper = helper_path(opts)
    sudoers = layout.at("/etc/sudoers.d/onedock")
    changes = [Change(sudoers, read(sudoers), _render("sudoers.j2", user=opts.user,
                                                      helper=helper), mode=0o440)]
    if opts.registry and opts.registry_insecure:
        daemon = layout.at("/etc/docker/daemon.json")
        before = read(daemon)
        try:
            current = json.loads(before) if before else {}
        except ValueError as exc:
            raise OneDockError(f"{daemon} is not valid JSON: {exc}") from exc
        fragment = json.loads(_render("docker-daemon.json.j2",
                                      insecure_registries=[opts.registry]))
        merged = dict(current)
        listed = list(merged.get("insecure-registries", []))
        for item in fragment["insecure-registries"]:
            if item not in listed:
                listed.append(item)
        merged["insecure-registries"] = listed
        after = before if merged == current else (json.dumps(merged, indent=2) + "\n").encode()
        changes.append(Change(daemon, before, after,
                              note="" if after == before else "restart dockerd to apply"))
    if opts.registry and opts.registry_ca:
        ca = read(opts.registry_ca)
        if ca is None:
            raise OneDockError(f"--registry-ca {opts.registry_ca} does not exist")
        target = layout.at(f"/etc/docker/certs.d/{opts.registry}/ca.crt")
        changes.append(Change(target, read(target), ca))
    return changes
