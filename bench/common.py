"""What the benchmarks share: timing and statistics, the driver set-up in a temp dir (remotes
tree, config, the loopback registries), the docker CLI, plain-text tables and the end of a run
(report, wall time, `--json`).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab import registries
from lab.documents import PROTOCOL
from lab.shims import Run, Shims
from lab.shims import run as lab_run

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = "one-fe"
HOST = "node01"
HOSTILE_SOURCE = f"{FRONTEND}:onedock/x;reboot"

# -- timing --------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def timed_run(argv: list[str], *, env: dict | None = None, stdin: bytes = b"",
              cwd: Path | str | None = None) -> tuple[float, Run]:
    """Wall-clock seconds of one child process, from spawn to exit, and how it ended."""
    done = lab_run(argv, stdin, env=env, cwd=cwd, timeout=600)
    return done.seconds, done


def python_pass() -> float:
    """Seconds of `python -c pass` with this interpreter: the bare process start."""
    took, proc = timed_run([sys.executable, "-c", "pass"])
    if proc.rc != 0:
        raise RuntimeError("python -c pass failed")
    return took


# -- set-up: temp dir, remotes tree, config, registries ------------------------------------


def temp_root(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def write_conf(path: Path, registry: str, storage: str) -> Path:
    path.write_text(
        f'registry = "{registry}"\nregistry_insecure = true\n'
        f'registry_storage = "{storage}"\nfrontend = "{FRONTEND}"\n'
        f'state_dir = "{path.parent / "state"}"\n'  # the run's own, not /var/tmp/onedock
        f'[hosts]\n{HOST} = "unix:///var/run/docker.sock"\n'
    )
    return path


def ds_document(image_id: int, path: str) -> str:
    """oned's recorded `cp` message (lab/protocol) for image_id, of `path`, to onedock."""
    xml = (PROTOCOL / "ds_cp.xml").read_text()
    xml = xml.replace("<IMAGE><ID>7</ID>", f"<IMAGE><ID>{image_id}</ID>")
    xml = xml.replace("<PATH>/var/tmp/alpine-rootfs.raw</PATH>", f"<PATH>{path}</PATH>")
    return xml.replace("<DS_MAD>fs</DS_MAD><TM_MAD>ssh</TM_MAD>",
                       "<DS_MAD>onedock</DS_MAD><TM_MAD>onedock</TM_MAD>")


class RegistryLab:
    """A new temp dir with a Docker Hub stand-in and the private registry on loopback
    (lab/), the remotes tree and a config pointing at the private registry."""

    def __init__(self, prefix: str):
        self.root = root = temp_root(prefix)
        self.hub = registries.RegistryProcess(root / "hub")
        self.private = registries.RegistryProcess(root / "private")
        self.remotes = root / "remotes"
        self.shims = Shims(self.remotes)

    @property
    def env(self) -> dict:
        return self.shims.env

    def start(self) -> None:
        self.hub.start()
        self.private.start()
        conf = write_conf(self.root / "onedock.conf", self.private.host, str(self.private.storage))
        self.shims = Shims.write(self.remotes, conf)

    def ds_cp(self, image_id: int, path: str,
              cwd: str | None = None) -> tuple[float, Run]:
        """`datastore/onedock/cp` of `path` (docker://...) for image_id, oned's message on stdin:
        (seconds from spawn to exit, the finished shim); the caller checks it."""
        done = self.shims.ds("cp", ds_document(image_id, path), image_id, cwd=cwd)
        return done.seconds, done

    def clone(self, src: str, vmid: int,
              cwd: str | None = None) -> tuple[float, Run]:
        """`tm/onedock/clone` of src (<frontend>:<SOURCE>) to disk.0 of vmid on HOST:
        (seconds from spawn to exit, the finished shim); the caller checks it."""
        done = self.shims.tm("clone", src, f"{HOST}:/var/lib/one//datastores/0/{vmid}/disk.0",
                             str(vmid), "1", cwd=cwd)
        return done.seconds, done

    def stop(self) -> list[str]:
        """Stop both registries (each tried), remove the temp dir; returns the problems."""
        problems = []
        for reg in (self.hub, self.private):
            try:
                reg.stop()
            except Exception as exc:  # noqa: BLE001 - stop the other one too, report
                problems.append(f"registry: {exc}")
        shutil.rmtree(self.root, ignore_errors=True)
        return problems


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The docker CLI, list argv, no shell; with check, raises with docker's message."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {proc.stderr.strip()[-400:]}")
    return proc


def need(parser: argparse.ArgumentParser, tool: str, message: str = "") -> None:
    """Stop with a usage error unless `tool` is on PATH."""
    if shutil.which(tool) is None:
        parser.error(message or f"needs {tool} on PATH")


# -- output --------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


@dataclass(frozen=True)
class Table:
    """Fixed-width columns of a plain-text table after `indent` spaces: the first column aligned
    by `first` ("<" or ">"), the others right-aligned; cells are text, `tail` follows the last
    column. The rule under a header is `rule_width` dashes (default: all the columns)."""

    widths: tuple[int, ...]
    indent: int = 0
    first: str = "<"
    rule_width: int = 0

    def line(self, *cells: str, tail: str = "") -> str:
        aligns = [self.first] + [">"] * (len(cells) - 1)
        text = "".join(f"{cell:{align}{width}}"
                       for cell, align, width in zip(cells, aligns, self.widths, strict=True))
        return " " * self.indent + text + tail

    def row(self, *cells: str, tail: str = "") -> None:
        print(self.line(*cells, tail=tail))

    def rule(self) -> None:
        print(" " * self.indent + "-" * (self.rule_width or sum(self.widths)))


def write_json(path: str | Path, data: dict) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"numbers written to {out}")


def run_and_report(run: Callable[[argparse.Namespace], dict], report: Callable[[dict], None],
                   args: argparse.Namespace, removed: str) -> dict:
    """run(args) timed as wall_s, report() its result, say what was cleaned up, --json."""
    started = time.perf_counter()
    res = run(args)
    res["wall_s"] = time.perf_counter() - started
    report(res)
    print(f"\ntotal benchmark time {res['wall_s']:.0f}s; {removed} of this run removed")
    if args.json:
        write_json(args.json, res)
    return res
