"""A VM's directory on a host (`<datastores>/<dsid>/<vmid>`: vm.xml, ds.xml, a checkpoint),
removed like the ssh TM does when the VM leaves the host: nothing of onedock reads it, and a
host that runs VMs for months must not keep one per VM.
"""

from __future__ import annotations

import os

from onedock.config import Config
from onedock.errors import OneDockError
from onedock.transport import ssh_argv, ssh_options


def remove(cfg: Config, host: str, path: str) -> None:
    """`rm -rf -- path` on host: locally when its engine is on a local socket (this machine),
    else over ssh as its engine is reached. The caller validated the path's shape."""
    url = cfg.engine_url(host)
    if url.startswith("unix://"):
        remove_local(path)
        return
    import subprocess  # TM actions that remove nothing do not pay for it

    argv = ssh_argv(url, host, ["rm", "-rf", "--", path], ssh_options(cfg))
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=cfg.timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OneDockError(f"cannot remove {path} on {host}: {exc}") from exc
    if done.returncode != 0:
        why = (done.stderr.decode(errors="replace").strip().splitlines() or ["ssh failed"])
        raise OneDockError(f"cannot remove {path} on {host}: {why[-1][:200]}",
                           hint="may oneadmin ssh to the host without a password?")


def remove_local(path: str) -> None:
    """`rm -rf -- path` on this machine: a link goes, not what it points to."""
    try:
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            import shutil

            shutil.rmtree(path)
    except OSError as exc:
        raise OneDockError(f"cannot remove {path}: {exc.strerror}") from exc
