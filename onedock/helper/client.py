"""The unprivileged side's handle on the root helper: started early (see Helper), local or
on another host over ssh."""

from __future__ import annotations

import json
import os

from onedock.errors import OneDockError
from onedock.helper.requests import IFNAME, Request


def helper_argv(nic_helper: list[str], engine_url: str, host: str,
                ssh: tuple[str, ...] = ()) -> tuple[list[str], bool]:
    """(argv, local) of the helper for a container on `host`, reached as its engine is."""
    if not host or engine_url.startswith("unix://"):
        return list(nic_helper), True
    if engine_url.startswith("ssh://"):
        from onedock.transport import ssh_argv

        return ssh_argv(engine_url, host, nic_helper, ssh), False
    raise OneDockError(f"cannot plumb NICs on {host} through {engine_url}",
                       hint="reach hosts' engines with ssh:// (docker_url)")


def missing_bridge(bridge: str) -> OneDockError:
    return OneDockError(f"bridge '{bridge}' does not exist on this host",
                        hint="create it, or fix BRIDGE of the virtual network")


def check_bridges(bridges: list[str]) -> None:
    """Every bridge exists: sysfs answers without privileges or a netlink socket."""
    for bridge in bridges:
        if IFNAME.fullmatch(bridge) and (os.path.isdir(f"/sys/class/net/{bridge}/bridge")
                                          or _netlink_bridge(bridge)):
            continue
        raise missing_bridge(bridge)


def _netlink_bridge(name: str) -> bool:
    """sysfs shows the namespace it was mounted in; ask netlink when it says no."""
    from onedock.helper.netlink import Netlink

    with Netlink() as nl:
        link = nl.link(name)
    return link is not None and link.kind == "bridge"


class Helper:
    """The root helper, started early: sudo and an interpreter's start overlap the container's
    creation; a deploy hands it the request once there is a pid. An action that is root
    already calls the root side in-process.
    """

    def __init__(self, argv: list[str], local: bool = True):
        self._argv = argv
        self._proc = None
        self._in_process = local and os.geteuid() == 0
        if not self._in_process:
            import subprocess

            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE)

    def call(self, request: Request | None) -> dict:
        """One request (None: the helper was not needed after all)."""
        payload = request.payload() if request is not None else {}
        if self._in_process:
            from onedock.helper.root import run

            return run(payload)
        try:
            out, err = self._proc.communicate(json.dumps(payload).encode(), timeout=120)
        except Exception:
            self._proc.kill()
            self._proc.wait()
            raise
        if self._proc.returncode != 0:
            message = err.decode("utf-8", "replace").strip() or f"exit {self._proc.returncode}"
            raise OneDockError(f"{' '.join(self._argv)}: {message}",
                               hint="is the sudo rule for onedock-nic installed?")
        return json.loads(out or b"{}")

    def close(self) -> None:
        """Not needed after all (e.g. the deploy failed first): let the helper go."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.communicate(b"{}", timeout=30)
