"""Cold start of a driver process: what oned pays on every action before any work is done.

oned runs each DS/TM action as a fresh process, so interpreter start-up plus what an action
imports is paid on every VM operation. This measures, with the interpreter running this script:

  (a) `python -c pass`                       the interpreter alone (the baseline)
  (b) `python -c "import onedock.drivers.tm, onedock.drivers.datastore"`   what actions import
  (c) `python -c "import docker"`            the Docker SDK, for comparison (onedock avoids it)
  (d) `remotes/tm/onedock/clone` with a hostile SOURCE: a whole driver action that needs no
      Docker and fails fast on bad input (exit 1 expected). Target: median <= 150 ms.

Runs are interleaved (a, b, c, d, a, b, ...) after one discarded warm-up round, so drift of the
machine hits every case alike. Usage: python -m bench.startup [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 150.0
FRONTEND = "one-fe"
HOST = "node01"
HOSTILE_SOURCE = f"{FRONTEND}:onedock/x;reboot"


def median(values: list[float]) -> float:
    return statistics.median(values)


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def timed_run(argv: list[str], *, env: dict | None = None, stdin: bytes = b"",
              cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall-clock seconds of one child process, from spawn to exit."""
    started = time.perf_counter()
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env, cwd=cwd)
    return time.perf_counter() - started, proc


def write_remotes(dest: Path, python: str = sys.executable) -> Path:
    """The remotes tree of shims, as `onedock remotes --dest` writes it for oned."""
    subprocess.run([python, "-m", "onedock", "remotes", "--dest", str(dest)], check=True,
                   capture_output=True, cwd=ROOT)
    return dest


def write_conf(path: Path, registry: str, storage: str) -> Path:
    path.write_text(
        f'registry = "{registry}"\nregistry_insecure = true\n'
        f'registry_storage = "{storage}"\nfrontend = "{FRONTEND}"\n'
        f'[hosts]\n{HOST} = "unix:///var/run/docker.sock"\n'
    )
    return path


@dataclass
class Case:
    name: str
    argv: list[str]
    expect_rc: int = 0
    samples: list[float] = field(default_factory=list)

    def run(self, env: dict) -> float:
        took, proc = timed_run(self.argv, env=env, cwd=ROOT)
        if proc.returncode != self.expect_rc:
            detail = (proc.stderr or proc.stdout).decode(errors="replace").strip()[-300:]
            raise RuntimeError(f"{self.name}: exit {proc.returncode}, expected {self.expect_rc}:"
                               f" {detail}")
        return took


def measure(cases: list[Case], runs: int, env: dict) -> None:
    for case in cases:  # warm-up: page cache, __pycache__; not counted
        case.run(env)
    for _ in range(runs):
        for case in cases:
            case.samples.append(case.run(env))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs per case (default 20)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    py = sys.executable
    root = Path(tempfile.mkdtemp(prefix="onedock-bench-startup-"))
    try:
        remotes = write_remotes(root / "remotes", py)
        conf = write_conf(root / "onedock.conf", "127.0.0.1:5000", str(root / "storage"))
        env = dict(os.environ, ONEDOCK_CONF=str(conf))
        clone = str(remotes / "tm" / "onedock" / "clone")
        cases = [
            Case("(a) python -c pass", [py, "-c", "pass"]),
            Case("(b) import onedock drivers",
                 [py, "-c", "import onedock.drivers.tm, onedock.drivers.datastore"]),
            Case("(c) import docker (SDK)", [py, "-c", "import docker"]),
            Case("(d) tm clone, hostile SOURCE",
                 [clone, HOSTILE_SOURCE, f"{HOST}:/var/lib/one//datastores/0/42/disk.0",
                  "42", "1"], expect_rc=1),
        ]
        measure(cases, args.runs, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    base = median(cases[0].samples)
    print(f"driver cold start: median of {args.runs} interleaved runs per case")
    print(f"interpreter: {py} (Python {sys.version.split()[0]})\n")
    print(f"{'case':<34}{'median ms':>11}{'p90 ms':>9}{'x baseline':>12}")
    print("-" * 66)
    rows = []
    for case in cases:
        med, high = median(case.samples), p90(case.samples)
        rows.append({"name": case.name, "argv": case.argv, "median_ms": med * 1e3,
                     "p90_ms": high * 1e3, "ratio": med / base, "samples_ms":
                     [s * 1e3 for s in case.samples]})
        print(f"{case.name:<34}{med * 1e3:>11.1f}{high * 1e3:>9.1f}{med / base:>12.2f}")
    action_ms = rows[-1]["median_ms"]
    met = action_ms <= TARGET_MS
    print("-" * 66)
    print(f"(d) = cold start of a driver process that does not need Docker: {action_ms:.1f} ms "
          f"(target <= {TARGET_MS:.0f} ms): {'MET' if met else 'MISSED'}")
    print(f"    onedock's own imports add {rows[1]['median_ms'] - rows[0]['median_ms']:.1f} ms "
          f"over the bare interpreter; the Docker SDK alone would add "
          f"{rows[2]['median_ms'] - rows[0]['median_ms']:.1f} ms")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "python": py, "version": sys.version.split()[0], "runs": args.runs,
            "cases": rows, "target_ms": TARGET_MS, "target_met": met,
        }, indent=2) + "\n")
        print(f"numbers written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
