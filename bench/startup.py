"""Cold start of a driver process: what oned pays on every action before any work is done.

oned runs each DS/TM action as a fresh process, so interpreter start-up plus what an action
imports is paid on every VM operation. This measures, with the interpreter running this script:

  (a) `python -c pass`                       the interpreter alone (the baseline)
  (b) `python -c "import M"` for each entry point M an action or probe process starts from
      (the TM, DS and VMM drivers, the probes). Target: each at most 30 ms above (a).
  (c) `python -c "import docker"`            the Docker SDK, for comparison (onedock avoids it)
  (d) `remotes/tm/onedock/clone` with a hostile SOURCE: a whole driver action that needs no
      Docker and fails fast on bad input (exit 1 expected). Target: median <= 150 ms.

Runs are interleaved (a, b, c, d, a, b, ...) after one discarded warm-up round, so drift of the
machine hits every case alike. Usage: python -m bench.startup [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field

from bench.common import (
    HOST,
    HOSTILE_SOURCE,
    ROOT,
    Table,
    median,
    p90,
    temp_root,
    timed_run,
    verdict,
    write_conf,
    write_json,
)
from lab.shims import Shims

TARGET_MS = 150.0
IMPORT_BUDGET_MS = 30.0  # what an entry point's imports may add to the bare interpreter
ENTRY_POINTS = ("onedock.drivers.tm", "onedock.drivers.datastore", "onedock.drivers.vmm",
                "onedock.monitor.probes")


@dataclass
class Case:
    name: str
    argv: list[str]
    expect_rc: int = 0
    samples: list[float] = field(default_factory=list)

    def run(self, env: dict) -> float:
        took, proc = timed_run(self.argv, env=env, cwd=ROOT)
        if proc.rc != self.expect_rc:
            detail = (proc.stderr or proc.stdout).strip()[-300:]
            raise RuntimeError(f"{self.name}: exit {proc.rc}, expected {self.expect_rc}:"
                               f" {detail}")
        return took


def measure(cases: list[Case], runs: int, env: dict) -> None:
    for case in cases:  # warm-up: page cache, __pycache__; not counted
        case.run(env)
    for _ in range(runs):
        for case in cases:
            case.samples.append(case.run(env))


def run(args: argparse.Namespace) -> dict:
    py = sys.executable
    root = temp_root("onedock-bench-startup-")
    try:
        conf = write_conf(root / "onedock.conf", "127.0.0.1:5000", str(root / "storage"))
        shims = Shims.write(root / "remotes", conf, py)
        env = shims.env
        clone = str(shims.script("tm", "clone"))
        cases = [
            Case("(a) python -c pass", [py, "-c", "pass"]),
            *(Case(f"(b) import {module}", [py, "-c", f"import {module}"])
              for module in ENTRY_POINTS),
            Case("(c) import docker (SDK)", [py, "-c", "import docker"]),
            Case("(d) tm clone, hostile SOURCE",
                 [clone, HOSTILE_SOURCE, f"{HOST}:/var/lib/one//datastores/0/42/disk.0",
                  "42", "1"], expect_rc=1),
        ]
        measure(cases, args.runs, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    base = median(cases[0].samples)
    rows = [{"name": case.name, "argv": case.argv, "median_ms": median(case.samples) * 1e3,
             "p90_ms": p90(case.samples) * 1e3, "ratio": median(case.samples) / base,
             "samples_ms": [s * 1e3 for s in case.samples]} for case in cases]
    action_ms = rows[-1]["median_ms"]
    imports = {row["name"].split()[-1]: row["median_ms"] - rows[0]["median_ms"]
               for row in rows if row["name"].startswith("(b)")}
    return {"python": py, "version": sys.version.split()[0], "runs": args.runs,
            "cases": rows, "target_ms": TARGET_MS, "target_met": action_ms <= TARGET_MS,
            "imports_above_bare_ms": imports, "import_budget_ms": IMPORT_BUDGET_MS,
            "imports_met": max(imports.values()) <= IMPORT_BUDGET_MS}


def report(res: dict) -> None:
    rows = res["cases"]
    print(f"driver cold start: median of {res['runs']} interleaved runs per case")
    print(f"interpreter: {res['python']} (Python {res['version']})\n")
    table = Table((40, 11, 9, 12))
    table.row("case", "median ms", "p90 ms", "x baseline")
    table.rule()
    for row in rows:
        table.row(row["name"], f"{row['median_ms']:.1f}", f"{row['p90_ms']:.1f}",
                  f"{row['ratio']:.2f}")
    table.rule()
    print(f"(d) = cold start of a driver process that does not need Docker: "
          f"{rows[-1]['median_ms']:.1f} ms (target <= {res['target_ms']:.0f} ms): "
          f"{verdict(res['target_met'])}")
    worst = max(res["imports_above_bare_ms"].items(), key=lambda kv: kv[1])
    sdk = next(row for row in rows if row["name"].startswith("(c)"))
    print(f"(b) = an entry point's imports above the bare interpreter: at most {worst[1]:.1f} ms"
          f" ({worst[0]}; budget {res['import_budget_ms']:.0f} ms): "
          f"{verdict(res['imports_met'])}")
    print(f"    the Docker SDK alone would add {sdk['median_ms'] - rows[0]['median_ms']:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs per case (default 20)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    res = run(args)
    report(res)
    if args.json:
        write_json(args.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
