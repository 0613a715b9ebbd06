"""Time `invoke sandbox.up` from the cached base image and a repeated `up` (targets 3 min, 20 s).

Usage: python -m bench.sandbox [--rebuild] [--one-location DIR [--nodes N]] [--json PATH]
(--rebuild also times building the base image; --one-location also times an `up` that ships
that self-contained OpenNebula install and configures it, with N hosts, and its smoke)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, Table, verdict


def invoke(*tasks: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "invoke", *tasks], cwd=ROOT,
                          capture_output=True, text=True)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"invoke {' '.join(tasks)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="drop the cached base image")
    parser.add_argument("--one-location", metavar="DIR",
                        help="also time an up with this self-contained OpenNebula install")
    parser.add_argument("--nodes", type=int, default=1, help="hosts beside the front-end (with "
                        "--one-location; default 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    opts = parser.parse_args()
    rows = []
    invoke("sandbox.down")
    if opts.rebuild:
        from sandbox import image

        image.cached_tarball().unlink(missing_ok=True)
        subprocess.run(["lxc", "image", "delete", image.ALIAS], capture_output=True)
        rows.append(("up, building the base image (debootstrap)", invoke("sandbox.up"), None))
        invoke("sandbox.down")
    rows.append(("up from the cached base image", invoke("sandbox.up"), 180.0))
    rows.append(("repeated up (nothing to do)", invoke("sandbox.up"), 20.0))
    rows.append(("smoke inside the sandbox", invoke("sandbox.smoke"), None))
    rows.append(("down", invoke("sandbox.down"), None))
    if opts.one_location:
        with_one = ("sandbox.up", "--one-location", opts.one_location, "--nodes", str(opts.nodes))
        rows.append((f"up with OpenNebula, {opts.nodes} node(s), cached", invoke(*with_one), None))
        rows.append(("smoke through OpenNebula's CLI", invoke("sandbox.smoke"), None))
        rows.append(("down", invoke("sandbox.down"), None))
    table = Table((45, 9))  # a space, then seconds in 8
    table.row("step", "seconds", tail="  target")
    for name, took, target in rows:
        met = "" if target is None else f"< {target:.0f} s: {verdict(took < target)}"
        table.row(name, f"{took:.1f}", tail=f"  {met}")
    if opts.json:
        import json

        Path(opts.json).write_text(json.dumps(
            [{"step": n, "seconds": t, "target_s": g} for n, t, g in rows], indent=1))


if __name__ == "__main__":
    main()
