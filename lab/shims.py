"""One runner for the driver shims: each action and probe run as oned's MADs run them.

Tests, the protocol smoke and the benchmarks all go through `Shims`, so what they exercise is
the remotes tree `onedock remotes` writes, with oned's argv and stdin (digest §4): DS actions get
`<id>` and the base64 payload without a newline, TM actions their arguments and nothing on
stdin, VMM actions their arguments and the document oned writes first, probes
`<driver> <host id> <host name>` and monitord's configuration.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from onedock.install.remotes import PROBES

DRIVER = "onedock"
PROBE_CONFIG = (b"<MONITOR_CONFIGURATION><PROBES_PERIOD><SYNC_STATE_VM>{sync}</SYNC_STATE_VM>"
                b"</PROBES_PERIOD><DATASTORE_LOCATION>{ds}</DATASTORE_LOCATION>"
                b"</MONITOR_CONFIGURATION>")


@dataclass
class Run:
    """A finished shim: what oned would read from it."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    seconds: float  # spawn to exit

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def error_line(self) -> str:
        lines = self.stderr.splitlines()
        assert len(lines) == 1, f"expected one error line, got {self.stderr!r}"
        return lines[0]


def run(argv: list[str], stdin: bytes = b"", *, env: dict | None = None, timeout: float = 300,
        cwd: str | Path | None = "/") -> Run:
    """One child process from spawn to exit, its output as text."""
    started = time.perf_counter()
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=timeout,
                          cwd=cwd)
    return Run(list(argv), proc.returncode, proc.stdout.decode(errors="replace"),
               proc.stderr.decode(errors="replace"), time.perf_counter() - started)


def probe_config(sync: int = 180, datastores: str = "/nonexistent") -> bytes:
    """monitord's configuration as it writes it to every probe's stdin."""
    return PROBE_CONFIG.replace(b"{sync}", str(sync).encode()).replace(
        b"{ds}", datastores.encode())


class Shims:
    """The remotes tree of one lab and the environment its shims run in."""

    def __init__(self, remotes: Path, conf: Path | None = None, env: dict | None = None):
        self.remotes = remotes
        self.env = dict(env if env is not None else os.environ)
        if conf is not None:
            self.env["ONEDOCK_CONF"] = str(conf)

    @classmethod
    def write(cls, dest: Path, conf: Path | None = None, python: str = sys.executable) -> Shims:
        """Write the tree as `onedock remotes --dest` does for oned, then run from it."""
        subprocess.run([python, "-m", "onedock", "remotes", "--dest", str(dest), "--no-agent"],
                       check=True, capture_output=True, cwd=Path(__file__).resolve().parent.parent)
        return cls(dest, conf)

    # -- where each shim is -------------------------------------------------------------------

    def script(self, family: str, action: str) -> Path:
        """datastore, tm or vmm: <remotes>/<family>/onedock/<action>."""
        return self.remotes / family / DRIVER / action

    def probe_script(self, group: str, name: str) -> Path:
        """<remotes>/im/onedock-probes.d/<group>/<name>/<file>."""
        return self.remotes / "im" / f"{DRIVER}-probes.d" / group / name / PROBES[(group, name)]

    # -- running them -------------------------------------------------------------------------

    def run(self, argv: list[str], stdin: bytes = b"", *, env: dict | None = None,
            timeout: float = 300, cwd: str | Path | None = "/") -> Run:
        return run(argv, stdin, env=env or self.env, timeout=timeout, cwd=cwd)

    def ds(self, action: str, xml: str | bytes, req_id: int = 0, *, raw: bytes | None = None,
           **kw) -> Run:
        """6.8+: argv `<id>`, stdin the base64 payload without newline (`raw`: as given)."""
        data = xml.encode() if isinstance(xml, str) else xml
        payload = raw if raw is not None else base64.b64encode(data)
        return self.run([str(self.script("datastore", action)), str(req_id)], payload, **kw)

    def tm(self, action: str, *args: str, stdin: bytes = b"", **kw) -> Run:
        return self.run([str(self.script("tm", action)), *args], stdin, **kw)

    def vmm(self, action: str, *args: str, stdin: bytes = b"", **kw) -> Run:
        return self.run([str(self.script("vmm", action)), *args], stdin, **kw)

    def probe(self, group: str, name: str, *, host: str = "node01", host_id: int = 0,
              stdin: bytes | None = None, **kw) -> Run:
        config = probe_config() if stdin is None else stdin
        return self.run([str(self.probe_script(group, name)), DRIVER, str(host_id), host],
                        config, **kw)
