"""VM monitoring cost against the number of containers: onedock's probes versus `docker stats`.

For each count N of --counts (cumulative: containers are added, never restarted), N containers
`one-<vmid>` run `sleep 3600` from a busybox image imported offline (lab/), network
disabled, labelled `org.opennebula.onedock.vmid=<vmid>` like onedock's own. Then, --runs
repetitions after one discarded warm-up round, interleaved, in the same run:

  (P) one probe cycle as monitord's agent runs it: `im/onedock-probes.d/vm/monitor/onedock-vms`
      then `vm/status/onedock-state`, each a fresh process (`<probe> onedock 3 node01`, the
      monitord config XML on stdin); shown together and each alone;
  (I) the same work in-process: `vm_monitor(Probe(...))` and `vm_state(...)` called directly,
      timing only the calls (no interpreter start, no imports), and the Docker API list call
      (`Probe.containers()`) alone, the part of it that is not cgroup files;
  (B) baseline: `docker stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}}'`
      with the N container names as arguments (docker CLI);
  (S) `python -c pass`, the interpreter start that every probe process pays, and
      `python -c "import <the onedock modules a probe process loads>"`, start plus imports.

vm/status gets SYNC_STATE_VM=0 so every run is a full report (all VMs, the worst case).
`docker stats` is followed by a --settle pause (default 0.5 s) so the engine's clean-up of its
N stats streams does not land on the next measurement. Medians are the headline, the best run
is shown too (the machine may be shared). Target: 200 containers in < 0.1 s of probe time, and
growth close to flat: marginal cost <= 0.25 ms per container (200 add at most half the budget),
judged on the in-process slope: the processes do the same per-container work, but their slope
is that work under a ~200 ms start-up cost whose run-to-run jitter is as large as the work.

Everything created is removed at the end, also on failure: the containers (found by a label
unique to the run), the imported image and the temp dir (remotes tree, config, probe state).
Nothing else on the engine is touched; other onedock containers on the engine (e.g. from a
concurrent bench.deploy) are listed by the probes too and counted as "others". Usage:
    python -m bench.monitor [--counts 10,50,200] [--runs 5] [--stats-runs-200 3] [--settle 0.5]
                            [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import (
    Table,
    median,
    need,
    python_pass,
    run_and_report,
    temp_root,
    timed_run,
    verdict,
)
from lab import images as lab_images
from lab.shims import Shims, probe_config
from onedock.config import Config
from onedock.monitor import probes
from onedock.names import LABEL_VMID

TARGET_N = 200
TARGET_MS = 100.0
RATIO_TARGET = 2.0  # the two probe processes against the same work done in-process
FLAT_MS_PER_VM = 0.25
HOST_ID = 3
HOSTNAME = "node01"
VMID_RANGE = (7_000_000, 7_900_000)
REPO = "onedock-bench-monitor"
RUN_LABEL = "org.opennebula.onedock.bench.monitor"
THREADS = 8
CONFIG = probe_config(0)
# what a probe process loads (tests/unit/test_imports.py keeps it to this)
PROBE_IMPORTS = ("import onedock.cli, onedock.monitor.probes, onedock.monitor.dockerapi, "
                 "xml.parsers.expat")
VM_LINE = re.compile(r'VM = \[ ID="(\d+)", DEPLOY_ID="one-\d+", (\w+)="([^"]*)" \]')


def parse_vms(text: str) -> dict[int, tuple[str, str]]:
    return {int(m.group(1)): (m.group(2), m.group(3)) for m in VM_LINE.finditer(text)}


class Lab:
    """The image, containers, remotes tree and probe state of one run, and their cleanup."""

    def __init__(self, client, root: Path):
        self.client = client
        self.root = root
        self.token = f"{os.getpid()}-{random.randrange(1 << 30):08x}"
        self.image = f"{REPO}:{self.token}"
        self.remotes = root / "remotes"
        self.conf = root / "onedock.conf"
        self.cfg = Config(state_dir=str(root / "state"))
        self.shims = Shims(self.remotes)
        self.vmids: list[int] = []
        self.base = 0
        self.imported = False

    def start(self) -> None:
        self.conf.write_text(f'state_dir = "{self.cfg.state_dir}"\n')
        self.shims = Shims.write(self.remotes, self.conf)
        self.client.api.import_image_from_data(lab_images.busybox_rootfs(), repository=REPO,
                                               tag=self.token)
        self.imported = True
        self.client.images.get(self.image)  # fails early if the import did not take
        taken = {c.name for c in self.client.containers.list(all=True)}
        for _ in range(100):  # a block of free vmids, away from the other benches' ranges
            base = random.randrange(*VMID_RANGE)
            if not any(f"one-{base + i}" in taken for i in range(1000)):
                self.base = base
                return
        raise RuntimeError("no free block of 1000 vmids in the bench range")

    def _create(self, vmid: int) -> None:
        self.client.containers.run(
            self.image, ["sleep", "3600"], detach=True, name=f"one-{vmid}",
            labels={LABEL_VMID: str(vmid), RUN_LABEL: self.token}, network_disabled=True)

    def grow(self, count: int) -> float:
        """Start containers until `count` of ours run; returns the seconds it took."""
        new = [self.base + i for i in range(len(self.vmids), count)]
        if not new:
            return 0.0
        started = time.perf_counter()
        step = max(1, len(new) // 4)
        pool = ThreadPoolExecutor(THREADS)
        try:
            for done, (vmid, _) in enumerate(zip(new, pool.map(self._create, new),
                                                 strict=True), 1):
                self.vmids.append(vmid)
                if done % step == 0 or done == len(new):
                    print(f"    started {len(self.vmids)}/{count} containers "
                          f"({time.perf_counter() - started:.1f}s)", flush=True)
        finally:  # on failure or Ctrl-C, start no more; cleanup finds the rest by label
            pool.shutdown(wait=True, cancel_futures=True)
        running = self.client.containers.list(filters={"label": f"{RUN_LABEL}={self.token}",
                                                       "status": "running"})
        if len(running) != count:
            raise RuntimeError(f"{len(running)} of our containers run, expected {count}")
        return time.perf_counter() - started

    def close(self) -> list[str]:
        """Remove our containers (by run label), the image, the temp dir; returns problems."""
        problems = []
        try:
            ours = self.client.containers.list(all=True,
                                               filters={"label": f"{RUN_LABEL}={self.token}"})
            if ours:
                print(f"==> removing {len(ours)} containers", flush=True)

            def remove(box) -> str | None:
                try:
                    box.remove(force=True)
                except Exception as exc:  # keep going: remove what can be removed
                    return f"container {box.name}: {exc}"
                return None

            with ThreadPoolExecutor(THREADS) as pool:
                problems += [p for p in pool.map(remove, ours) if p]
            if self.imported:
                try:
                    self.client.images.remove(self.image)
                except Exception as exc:
                    problems.append(f"image {self.image}: {exc}")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
        return problems

    # -- the measured things ----------------------------------------------------------------

    def probe_process(self, which: str) -> tuple[float, str]:
        group, name = "vm", which
        proc = self.shims.probe(group, name, host=HOSTNAME, host_id=HOST_ID, stdin=CONFIG)
        took = proc.seconds
        if proc.rc != 0:
            raise RuntimeError(f"probe {group}/{name}: exit {proc.rc}: "
                               f"{proc.stderr.strip()[-400:]}")
        return took, proc.stdout

    def probe_inprocess(self, which: str) -> tuple[float, str]:
        func = probes.vm_monitor if which == "monitor" else probes.vm_state
        probe = probes.Probe(self.cfg, HOST_ID, HOSTNAME, CONFIG)
        started = time.perf_counter()
        out = func(probe)
        return time.perf_counter() - started, out

    def api_list(self) -> float:
        probe = probes.Probe(self.cfg, HOST_ID, HOSTNAME, CONFIG)
        started = time.perf_counter()
        probe.containers()
        return time.perf_counter() - started

    def docker_stats(self) -> float:
        names = [f"one-{vmid}" for vmid in self.vmids]
        took, proc = timed_run(["docker", "stats", "--no-stream", "--format",
                                "{{.Name}} {{.CPUPerc}} {{.MemUsage}}", *names])
        lines = proc.stdout.splitlines()
        if proc.rc != 0 or len(lines) != len(names):
            raise RuntimeError(f"docker stats: exit {proc.rc}, {len(lines)} lines for "
                               f"{len(names)} containers: {proc.stderr.strip()[-300:]}")
        return took

    def check(self, which: str, out: str) -> int:
        """Every one of our VMs is in the probe's output, right; returns how many others are."""
        found = parse_vms(out)
        ours = set(self.vmids)
        missing = ours - found.keys()
        if missing:
            raise RuntimeError(f"{which} probe left out {len(missing)} of our {len(ours)} VMs, "
                               f"e.g. {sorted(missing)[:3]}")
        if which == "monitor":
            for vmid in ours:
                key, value = found[vmid]
                text = base64.b64decode(value).decode()
                if key != "MONITOR" or not re.search(r'MEMORY="[1-9]\d*"', text):
                    raise RuntimeError(f"VM {vmid}: no memory figure in {text!r}")
        else:
            wrong = [v for v in ours if found[v] != ("STATE", "RUNNING")]
            if wrong or not out.startswith("SYNC_STATE=yes"):
                raise RuntimeError(f"status probe: not a full report of RUNNING VMs: {wrong[:3]}")
        return len(found.keys() - ours)


def measure(lab: Lab, count: int, runs: int, stats_runs: int, settle: float) -> dict:
    samples: dict[str, list[float]] = {k: [] for k in (
        "proc_monitor", "proc_status", "proc_cycle", "inproc_monitor", "inproc_status",
        "inproc_cycle", "api_list", "docker_stats", "python_pass", "python_imports")}
    others = set()
    for index in range(runs + 1):  # round 0 is the warm-up: page cache, first CPU sample
        round_: dict[str, float] = {}
        outputs = {}
        for which in ("monitor", "status"):
            round_[f"proc_{which}"], outputs[which] = lab.probe_process(which)
        round_["proc_cycle"] = round_["proc_monitor"] + round_["proc_status"]
        for which in ("monitor", "status"):
            took, out = lab.probe_inprocess(which)
            round_[f"inproc_{which}"] = took
            if index == 0:
                lab.check(which, out)
        round_["inproc_cycle"] = round_["inproc_monitor"] + round_["inproc_status"]
        round_["api_list"] = lab.api_list()
        round_["python_pass"] = python_pass()
        round_["python_imports"], proc = timed_run([sys.executable, "-c", PROBE_IMPORTS])
        if proc.rc != 0:
            raise RuntimeError(f"python -c '{PROBE_IMPORTS}': {proc.stderr[-300:]}")
        if index <= stats_runs:
            round_["docker_stats"] = lab.docker_stats()
            time.sleep(settle)
        for which, out in outputs.items():
            others.add(lab.check(which, out))
        if index:
            for key, value in round_.items():
                samples[key].append(value)
    res = {f"{key}_ms": median(values) * 1e3 for key, values in samples.items()}
    res.update({f"{key}_min_ms": min(values) * 1e3 for key, values in samples.items()})
    res.update(count=count, runs=runs, stats_runs=stats_runs, others=max(others),
               samples_ms={k: [v * 1e3 for v in vs] for k, vs in samples.items()})
    return res


def run(args: argparse.Namespace) -> dict:
    import docker as sdk

    client = sdk.from_env(timeout=120)
    client.ping()
    lab = Lab(client, temp_root("onedock-bench-monitor-"))
    rows, problems = [], []
    try:
        lab.start()
        print(f"==> image {lab.image} imported; vmids from {lab.base}", flush=True)
        for count in args.counts:
            print(f"==> N = {count}", flush=True)
            startup_s = lab.grow(count)
            stats_runs = min(args.runs, args.stats_runs_200) if count >= 200 else args.runs
            row = measure(lab, count, args.runs, stats_runs, args.settle)
            row["start_containers_s"] = startup_s
            rows.append(row)
            print(f"    probe cycle {row['proc_cycle_ms']:.0f} ms (processes), "
                  f"{row['inproc_cycle_ms']:.1f} ms in-process, docker stats "
                  f"{row['docker_stats_ms']:.0f} ms", flush=True)
    finally:
        problems = lab.close()
    if problems:
        raise RuntimeError("cleanup: " + "; ".join(problems))
    for prev, row in zip([None, *rows], rows, strict=False):
        for key in ("proc_cycle", "inproc_cycle", "docker_stats"):
            row[f"{key}_slope_ms_per_vm"] = (
                None if prev is None else
                (row[f"{key}_ms"] - prev[f"{key}_ms"]) / (row["count"] - prev["count"]))
        row["ratio_probe_over_stats"] = row["proc_cycle_ms"] / row["docker_stats_ms"]
    first, last = rows[0], rows[-1]
    span = last["count"] - first["count"]
    overall = {key: (last[f"{key}_ms"] - first[f"{key}_ms"]) / span if span else None
               for key in ("proc_cycle", "inproc_cycle", "docker_stats")}
    target_row = next((r for r in rows if r["count"] == TARGET_N), None)
    target = None
    if target_row is not None:
        target = {"count": TARGET_N, "target_ms": TARGET_MS,
                  "process_met": target_row["proc_cycle_ms"] < TARGET_MS,
                  "inprocess_met": target_row["inproc_cycle_ms"] < TARGET_MS,
                  "ratio_target": RATIO_TARGET,
                  "ratio_proc_over_inproc": target_row["proc_cycle_ms"]
                  / target_row["inproc_cycle_ms"]}
        target["ratio_met"] = target["ratio_proc_over_inproc"] <= RATIO_TARGET
    flat = {key: value is not None and value <= FLAT_MS_PER_VM for key, value in overall.items()}
    flat["verdict_basis"] = "inproc_cycle"
    return {"rows": rows, "overall_slope_ms_per_vm": overall, "target": target,
            "flat_limit_ms_per_vm": FLAT_MS_PER_VM, "flat": flat, "threads": THREADS,
            "python": sys.executable, "cpus": os.cpu_count()}


def report(res: dict) -> None:
    rows = res["rows"]

    def slope(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    print(f"\nVM monitoring per cycle: onedock probes (vm/monitor + vm/status) vs docker stats; "
          f"medians, {res['cpus']} CPUs")
    print(f"{'N':>5}{'probe cycle':>13}{'in-process':>12}{'docker stats':>14}{'probe/':>8}"
          f"{'marginal cost, ms per container':>36}")
    print(f"{'':5}{'ms (procs)':>13}{'ms':>12}{'ms (runs)':>14}{'stats':>8}"
          f"{'probe procs':>15}{'in-process':>11}{'stats':>10}")
    table = Table((5, 13, 12, 14, 8, 15, 9, 9), first=">", rule_width=88)
    table.rule()
    slopes = ("proc_cycle", "inproc_cycle", "docker_stats")
    for r in rows:
        table.row(str(r["count"]), f"{r['proc_cycle_ms']:.1f}", f"{r['inproc_cycle_ms']:.1f}",
                  f"{r['docker_stats_ms']:.0f} ({r['stats_runs']})",
                  f"{r['ratio_probe_over_stats']:.3f}",
                  *(slope(r[f"{key}_slope_ms_per_vm"]) for key in slopes))
    overall = res["overall_slope_ms_per_vm"]
    if len(rows) > 1:
        table.rule()
        label = f"{rows[0]['count']}->{rows[-1]['count']} overall"
        Table((58, 9, 9, 9)).row(f"{'':5}{label}", *(slope(overall[key]) for key in slopes))
    fewer = [r["count"] for r in rows if r["stats_runs"] < r["runs"]]
    print(f"medians of {rows[0]['runs']} runs after one warm-up; marginal cost = slope from the "
          f"previous N" + (f"; docker stats only {rows[-1]['stats_runs']} runs for "
                           f"N={','.join(map(str, fewer))} (seconds per run)" if fewer else ""))

    print("\nbreakdown, median ms (best run in brackets)")
    table = Table((5, 7, 16, 16, 14, 14, 14, 14, 16), first=">")
    table.row("N", "others", "monitor proc", "status proc", "monitor in", "status in", "API list",
              "python pass", "+ imports")
    table.rule()
    keys = ("proc_monitor", "proc_status", "inproc_monitor", "inproc_status", "api_list",
            "python_pass", "python_imports")
    for r in rows:
        table.row(str(r["count"]), str(r["others"]),
                  *(f"{r[f'{key}_ms']:.1f} [{r[f'{key}_min_ms']:.1f}]" for key in keys))
    table.rule()
    print("others: onedock containers on the engine that are not this run's (listed and probed "
          "too)\nAPI list: one Probe.containers() call (each probe makes one); python pass: "
          "`python -c pass`;\n+ imports: `python -c` importing what a probe process imports")
    last = rows[-1]
    start = last["python_pass_ms"]
    imports = last["python_imports_ms"] - start
    work = last["inproc_cycle_ms"]
    api = 2 * last["api_list_ms"]
    rest = last["proc_cycle_ms"] - 2 * (start + imports) - work
    print(f"\nwhere a cycle's time goes at N={last['count']} (medians of its runs; process "
          f"figures vary most):\n"
          f"  interpreter start, 2 x {start:.1f} ms{2 * start:>22.1f} ms\n"
          f"  onedock imports,   2 x {imports:.1f} ms{2 * imports:>22.1f} ms\n"
          f"  the probes' work in-process{work:>25.1f} ms  (API list calls {api:.1f} ms, cgroup "
          f"files + state + output {work - api:.1f} ms)\n"
          f"  rest (config, stdin, exit; noise){rest:>19.1f} ms\n"
          f"  = two probe processes{last['proc_cycle_ms']:>31.1f} ms")

    target = res["target"]
    if target is None:
        print(f"\ntarget: {TARGET_N} containers in < {TARGET_MS:.0f} ms of probe time: "
              f"not measured (N={TARGET_N} not in --counts)")
    else:
        row = next(r for r in rows if r["count"] == TARGET_N)
        print(f"\ntarget: {TARGET_N} containers in < {TARGET_MS:.0f} ms of probe time "
              f"(+ up to {row['others']} others)")
        print(f"  in-process, vm_monitor + vm_state calls:  median {row['inproc_cycle_ms']:6.1f} ms"
              f"  best {row['inproc_cycle_min_ms']:6.1f} ms  {verdict(target['inprocess_met'])}")
        print(f"  two probe processes, as monitord runs them: median {row['proc_cycle_ms']:6.1f} ms"
              f"  best {row['proc_cycle_min_ms']:6.1f} ms  {verdict(target['process_met'])}")
        print(f"target: the two probe processes at most {RATIO_TARGET:.0f}x their work in-process"
              f" (interpreter start, imports and exit are the difference): "
              f"{target['ratio_proc_over_inproc']:.2f}x  {verdict(target['ratio_met'])}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        added = last["inproc_cycle_ms"] - first["inproc_cycle_ms"]
        print(f"target: growth close to flat, <= {FLAT_MS_PER_VM} ms per container "
              f"({first['count']}->{last['count']}, in-process): {overall['inproc_cycle']:.3f} "
              f"ms  {verdict(res['flat']['inproc_cycle'])}\n"
              f"  {last['count'] - first['count']} more containers add {added:.1f} ms of probe "
              f"work; process cycle slope {overall['proc_cycle']:.3f} ms (the same work plus "
              f"start-up jitter);\n  docker stats {overall['docker_stats']:.3f} ms per container"
              + (f", {overall['docker_stats'] / overall['inproc_cycle']:.0f}x the probes' "
                 f"in-process slope" if overall["inproc_cycle"] > 0 else ""))


def counts_arg(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a comma-separated list of integers") from exc
    if not values or any(v < 1 for v in values) or values != sorted(set(values)):
        raise argparse.ArgumentTypeError("positive, strictly increasing counts, e.g. 10,50,200")
    if values[-1] > 1000:
        raise argparse.ArgumentTypeError("at most 1000 containers")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.monitor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=counts_arg, default=[10, 50, 200],
                        help="container counts, cumulative (default 10,50,200)")
    parser.add_argument("--runs", type=int, default=5, help="runs per count (default 5)")
    parser.add_argument("--stats-runs-200", type=int, default=3,
                        help="docker stats runs for N >= 200, where each is slow (default 3)")
    parser.add_argument("--settle", type=float, default=0.5,
                        help="seconds of pause after each docker stats run (default 0.5)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.stats_runs_200 < 1:
        parser.error("--runs and --stats-runs-200 must be at least 1")
    if not 0 <= args.settle <= 10:
        parser.error("--settle must be between 0 and 10 seconds")
    need(parser, "docker", "needs the docker CLI")

    run_and_report(run, report, args, "containers, image and temp dir")
    return 0


if __name__ == "__main__":
    sys.exit(main())
