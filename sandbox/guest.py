"""Provisioning run inside a guest that has the checkout (Vagrant's /vagrant)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    from sandbox.lxd import provision_script

    src = Path(__file__).resolve().parent.parent
    wheels = os.environ.get("ONEDOCK_WHEELS", "")
    if not wheels or not list(Path(wheels).glob("onedock-*.whl")):
        wheels = "/root/wheels"  # built here, from the index the bootstrap just used
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", wheels,
                        f"{src}[test]"], check=True)
    script = provision_script(archives=False, src=str(src), wheels=wheels,
                              hostname=socket.gethostname(), one_packages=False)
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as out:
        out.write(script)
    return subprocess.run(["bash", out.name]).returncode


if __name__ == "__main__":
    sys.exit(main())
