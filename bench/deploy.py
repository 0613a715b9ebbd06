"""Deploy to reachable: how long until a VM's service answers, onedock versus plain `docker run`.

One run starts a Docker Hub stand-in and the private registry on loopback, builds the busybox
test image offline (lab/), registers it with `datastore/onedock/cp`, and creates
two networks of its own: a Docker user-defined bridge network for the baseline and a Linux
bridge with the host's address for onedock's NICs. Then, --runs repetitions after one discarded
warm-up round, interleaved (A and B swap places every repetition):

  (A) `docker run -d --network <net> --ip <ip> <image> <DOCKER_COMMAND>` with the docker CLI,
      timed from process start until http://<ip>:80/ answers with the expected page;
  (B) `vmm/onedock/deploy` as oned runs it (VM XML on stdin), the boot disk already staged by
      a TM clone made before the timer, timed from process start until http://<NIC IP>:80/
      answers; the shim's own exit time in the same runs is recorded too;
  (C) the same deploy shim alone, timed until it exits (no polling while it runs);
  (D) `python -c pass` with the same interpreter.

Both commands serve the same busybox httpd (tests/test_vmm.py's SERVE) from the same image.
Reachability is polled every 5 ms, each attempt a fresh TCP connection with a short connect
timeout. The two bridges get a short ARP retransmit time (--arp-retrans-ms, default 5 ms, which
the kernel rounds up to ~10 ms; 0 keeps the kernel's 1 s): the IP is polled before it exists,
and with the kernel default a neighbour entry left INCOMPLETE by an early poll only resolves at
the next 1 s ARP retry, which would measure the ARP timer instead of the deploy.

Target: median B / median A <= 1.15. Everything created is removed at the end, also on
failure: containers, the docker network, the bridge, both registries, the temp dir, the
`one-<vmid>:*` tags and the images pulled from or pushed to the run's registries. Usage:
    python -m bench.deploy [--runs 10] [--arp-retrans-ms 5] [--no-importtime] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    FRONTEND,
    HOST,
    RegistryLab,
    Table,
    median,
    need,
    p90,
    python_pass,
    run_and_report,
    verdict,
)
from bench.common import docker as docker_cli
from lab import images as lab_images
from lab.documents import SERVE, Bridge, vm_xml  # the VM the engine tests deploy, and its command
from lab.images import purge_vm as purge
from onedock.install.remotes import SHIM_CODE

RATIO_TARGET = 1.15
POLL_S = 0.005
CONNECT_TIMEOUT_S = 0.05
READ_TIMEOUT_S = 2.0
REACH_DEADLINE_S = 30.0
DOCKER_NET = "odbench"
DOCKER_NET_BRIDGE = "odbbr1"  # the Linux bridge docker makes for DOCKER_NET
DOCKER_SUBNET = "10.213.60.0/24"
ONE_BRIDGE = "odbbr0"
ONE_SUBNET = "10.213.61.0/24"
MAX_RUNS = 60  # fresh IPs every repetition (no warm neighbour entry): A, B .10+n; C .130+n


def answers(ip: str, expect: str) -> bool:
    """One poll: a fresh connection (short connect timeout), GET /, the expected page."""
    try:
        sock = socket.create_connection((ip, 80), timeout=CONNECT_TIMEOUT_S)
    except OSError:
        return False
    conn = http.client.HTTPConnection(ip, 80, timeout=READ_TIMEOUT_S)
    sock.settimeout(READ_TIMEOUT_S)
    conn.sock = sock
    try:
        conn.request("GET", "/")
        body = conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    return body.decode(errors="replace").strip() == expect


def set_arp_retrans(bridge: str, ms: int) -> None:
    """A short ARP retransmit time on one of the bench's bridges (0: keep the kernel's 1 s), so
    a neighbour entry left INCOMPLETE by an early poll resolves quickly (see the docstring)."""
    if ms:
        Path(f"/proc/sys/net/ipv4/neigh/{bridge}/retrans_time_ms").write_text(f"{ms}\n")


class Timed:
    """A child process started now; its exit time is stamped by a thread (stdin fed, pipes
    drained), so the caller can poll the network meanwhile."""

    def __init__(self, argv: list[str], stdin: bytes = b"", env: dict | None = None):
        self.argv = argv
        self.stdin = stdin
        self.out = self.err = b""
        self.exited: float | None = None
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd="/")
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        self.out, self.err = self.proc.communicate(self.stdin)
        self.exited = time.perf_counter()

    def reachable(self, ip: str, expect: str) -> float:
        """Seconds from process start until http://ip:80/ serves `expect`."""
        deadline = self.started + REACH_DEADLINE_S
        while time.perf_counter() < deadline:
            if answers(ip, expect):
                return time.perf_counter() - self.started
            if self.exited is not None and self.proc.returncode != 0:
                break
            time.sleep(POLL_S)
        self.join()
        raise RuntimeError(f"{self.argv[0]}: http://{ip}:80/ never served {expect!r} "
                           f"(exit {self.proc.returncode}: {self.err.decode().strip()[-400:]})")

    def join(self, expect_out: str | None = None) -> float:
        """Wait for the exit; seconds from start to exit. Raises on failure."""
        self._waiter.join(120)
        if self.exited is None:
            self.proc.kill()
            raise RuntimeError(f"{self.argv[0]} did not exit within 120 s")
        if self.proc.returncode != 0 or (expect_out is not None
                                         and self.out.decode() != expect_out):
            raise RuntimeError(f"{' '.join(self.argv[:2])}: exit {self.proc.returncode}, "
                               f"stdout {self.out.decode()!r}: {self.err.decode().strip()[-400:]}")
        return self.exited - self.started


@dataclass
class Samples:
    a_reach: list[float] = field(default_factory=list)
    a_exit: list[float] = field(default_factory=list)
    b_reach: list[float] = field(default_factory=list)
    b_exit: list[float] = field(default_factory=list)
    c_exit: list[float] = field(default_factory=list)
    d_pass: list[float] = field(default_factory=list)


class Lab(RegistryLab):
    """Registries, remotes, networks and engine objects of one run, and their cleanup."""

    def __init__(self, prefix: str, client, arp_retrans_ms: int):
        super().__init__(prefix)
        self.client = client
        self.arp_retrans_ms = arp_retrans_ms
        self.bridge: Bridge | None = None
        self.network = False
        self.containers: list[str] = []
        self.children: list[subprocess.Popen] = []  # timed processes, killed if interrupted
        self.vmids: list[int] = []
        self.source = ""
        self.image = ""
        self._vmid = random.randrange(870000, 880000)

    # -- setup ------------------------------------------------------------------------------

    def start(self) -> None:
        super().start()  # registries, remotes tree, config
        print(f"==> registries: hub {self.hub.host}, private {self.private.host}")
        images = lab_images.build_images(self.client, self.hub.host, layers=0)
        self.image = images["busybox"]
        image_id = random.randrange(870000, 880000)
        _, proc = self.ds_cp(image_id, f"docker://{self.image}", cwd="/")
        if proc.rc != 0:
            raise RuntimeError(f"ds cp: {proc.stderr.strip()}")
        self.source = proc.stdout.split()[0]
        probe = self.new_vmid()
        self.stage(probe)  # the first clone pulls the image onto the engine: not timed
        staged = self.client.images.get(f"one-{probe}:disk.0").id
        purge(self.client, probe)
        if staged != self.client.images.get(self.image).id:
            raise RuntimeError(f"staged image {staged} differs from {self.image}")
        print(f"==> registered {self.image} as {self.source}; staged image {staged[:19]} "
              f"is the image (A) runs")
        for name in (ONE_BRIDGE, DOCKER_NET_BRIDGE):
            if Path(f"/sys/class/net/{name}").exists():
                raise RuntimeError(f"interface {name} already exists (another bench running?)")
        self.bridge = Bridge(ONE_BRIDGE, ONE_SUBNET)
        set_arp_retrans(ONE_BRIDGE, self.arp_retrans_ms)
        docker_cli("network", "create", "--driver", "bridge", "--subnet", DOCKER_SUBNET,
                   "-o", f"com.docker.network.bridge.name={DOCKER_NET_BRIDGE}", DOCKER_NET)
        self.network = True
        set_arp_retrans(DOCKER_NET_BRIDGE, self.arp_retrans_ms)
        print(f"==> networks: docker network {DOCKER_NET} {DOCKER_SUBNET} (bridge "
              f"{DOCKER_NET_BRIDGE}), Linux bridge {ONE_BRIDGE} {ONE_SUBNET}; ARP retransmit "
              f"{self.arp_retrans_ms or 'kernel default'} ms on both")

    def new_vmid(self) -> int:
        self._vmid += 1
        self.vmids.append(self._vmid)
        return self._vmid

    def stage(self, vmid: int) -> None:
        """TM clone of the registered image for vmid (before any timer starts)."""
        _, proc = self.clone(f"{FRONTEND}:{self.source}", vmid, cwd="/")
        if proc.rc != 0:
            raise RuntimeError(f"tm clone vmid {vmid}: {proc.stderr.strip()}")

    # -- the measured cases -----------------------------------------------------------------

    def case_a(self, n: int) -> tuple[float, float]:
        """docker run -d on the docker network: (until reachable, until the CLI exits)."""
        name, ip, marker = f"odbench-a-{n}", f"10.213.60.{10 + n}", f"a{n}"
        self.containers.append(name)
        argv = ["docker", "run", "-d", "--name", name, "--network", DOCKER_NET, "--ip", ip,
                "-e", f"ONE_VMID={marker}", self.image, *json.loads(SERVE)]
        run = Timed(argv)
        self.children.append(run.proc)
        reach = run.reachable(ip, marker)
        took = run.join()
        docker_cli("rm", "-f", name)
        return reach, took

    def _deploy(self, n: int) -> tuple[int, str, Timed]:
        vmid = self.new_vmid()
        self.stage(vmid)
        xml = vm_xml(vmid, self.source, self.bridge, n, context_disk=-1)
        shim = self.remotes / "vmm" / "onedock" / "deploy"
        argv = [str(shim), f"/var/lib/one//datastores/0/{vmid}/deployment.0", HOST, str(vmid),
                HOST]
        run = Timed(argv, xml.encode() + b"\n", self.env)
        self.children.append(run.proc)
        return vmid, self.bridge.ip(n), run

    def case_b(self, n: int) -> tuple[float, float]:
        """onedock deploy: (until reachable, until the shim exits), same run."""
        vmid, ip, run = self._deploy(10 + n)
        reach = run.reachable(ip, str(vmid))
        took = run.join(f"one-{vmid}\n")
        purge(self.client, vmid)
        return reach, took

    def case_c(self, n: int) -> float:
        """onedock deploy until the shim exits, nothing polled meanwhile."""
        vmid, ip, run = self._deploy(130 + n)
        took = run.join(f"one-{vmid}\n")
        if not _eventually(ip, str(vmid)):
            raise RuntimeError(f"C: VM {vmid} never answered at {ip}")
        purge(self.client, vmid)
        return took

    def importtime(self, n: int) -> tuple[list[dict], int]:
        """One deploy under `python -X importtime`: (top imports by cumulative us, total us)."""
        vmid = self.new_vmid()
        self.stage(vmid)
        xml = vm_xml(vmid, self.source, self.bridge, n, context_disk=-1)
        shim = self.remotes / "vmm" / "onedock" / "deploy"
        proc = subprocess.run(  # what the sh launcher execs, under -X importtime
            [sys.executable, "-X", "importtime", "-I", "-c", SHIM_CODE, "driver", str(shim),
             f"/var/lib/one//datastores/0/{vmid}/deployment.0", HOST, str(vmid), HOST],
            input=xml.encode() + b"\n", capture_output=True, env=self.env, cwd="/")
        purge(self.client, vmid)
        if proc.returncode != 0:
            raise RuntimeError(f"importtime deploy: {proc.stderr.decode()[-400:]}")
        rows: list[dict] = []
        waiting: dict[int, list[dict]] = {}  # rows whose importer comes later (post-order)
        for line in proc.stderr.decode().splitlines():
            if not line.startswith("import time:") or "[us]" in line:
                continue
            own, cumulative, name = line[len("import time:"):].split("|", 2)
            depth = (len(name) - len(name.lstrip())) // 2
            item = {"cumulative_us": int(cumulative), "self_us": int(own), "depth": depth,
                    "module": name.strip(), "imported_by": ""}
            for child in waiting.pop(depth + 1, []):
                child["imported_by"] = item["module"]
            waiting.setdefault(depth, []).append(item)
            rows.append(item)
        total = sum(r["cumulative_us"] for r in rows if r["depth"] == 0)
        rows.sort(key=lambda r: r["cumulative_us"], reverse=True)
        return rows, total

    # -- cleanup ----------------------------------------------------------------------------

    def close(self) -> list[str]:
        """Remove everything; a second Ctrl-C (or timeout's signal to the group) must not stop
        it halfway, so SIGINT is ignored meanwhile."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return self._close()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _close(self) -> list[str]:
        problems = []
        for proc in self.children:  # an interrupted deploy must not create after the purge
            if proc.poll() is None:
                proc.kill()
                proc.wait()

        def attempt(what: str, func, *args, **kwargs) -> None:
            try:
                func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - keep cleaning, report at the end
                problems.append(f"{what}: {exc}")

        for name in self.containers:
            attempt(f"rm {name}", docker_cli, "rm", "-f", name, check=False)
        for vmid in self.vmids:
            attempt(f"purge VM {vmid}", purge, self.client, vmid)
        if self.network:
            attempt("docker network rm", docker_cli, "network", "rm", DOCKER_NET)
        if self.bridge is not None:
            attempt("bridge", self.bridge.remove)
        if self.hub.port:
            attempt("images", lab_images.remove_images, self.client,
                    (self.hub.host, self.private.host))
        problems += self.stop()  # both registries, the temp dir
        return problems


def _eventually(ip: str, expect: str, timeout: float = REACH_DEADLINE_S) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if answers(ip, expect):
            return True
        time.sleep(POLL_S)
    return False


def rep(lab: Lab, n: int, into: Samples | None) -> None:
    """One repetition of every case; A and B swap order on odd repetitions."""
    first, second = ("a", "b") if n % 2 == 0 else ("b", "a")
    got: dict[str, tuple] = {}
    for case in (first, second):
        got[case] = lab.case_a(n) if case == "a" else lab.case_b(n)
    c = lab.case_c(n)
    d = python_pass()
    if into is not None:
        into.a_reach.append(got["a"][0])
        into.a_exit.append(got["a"][1])
        into.b_reach.append(got["b"][0])
        into.b_exit.append(got["b"][1])
        into.c_exit.append(c)
        into.d_pass.append(d)


def run(args: argparse.Namespace) -> dict:
    import docker as sdk  # setup and cleanup only; every timed path is a CLI or a shim

    client = sdk.from_env(timeout=120)
    client.ping()
    engine = client.version().get("Version", "?")
    lab = Lab("onedock-bench-deploy-", client, args.arp_retrans_ms)
    samples = Samples()
    imports: tuple[list, int] = ([], 0)
    try:
        lab.start()
        print(f"==> command of both: {SERVE}")
        rep(lab, 0, None)  # warm-up: page cache, __pycache__, first container on each network
        for n in range(1, args.runs + 1):
            rep(lab, n, samples)
            print(f"    rep {n}/{args.runs}: A {samples.a_reach[-1] * 1e3:.0f} ms, "
                  f"B {samples.b_reach[-1] * 1e3:.0f} ms, C {samples.c_exit[-1] * 1e3:.0f} ms, "
                  f"D {samples.d_pass[-1] * 1e3:.0f} ms")
        if args.importtime:
            imports = lab.importtime(args.runs + 2)
    finally:
        problems = lab.close()
        if problems:
            print("cleanup problems:\n  " + "\n  ".join(problems), file=sys.stderr)

    def stats(values: list[float]) -> dict:
        return {"median_ms": median(values) * 1e3, "p90_ms": p90(values) * 1e3,
                "runs_ms": [v * 1e3 for v in values]}

    s = samples
    after_exit = [r - e for r, e in zip(s.b_reach, s.b_exit, strict=True)]
    a_after = [r - e for r, e in zip(s.a_reach, s.a_exit, strict=True)]
    res = {
        "python": sys.executable, "engine": engine, "runs": args.runs,
        "arp_retrans_ms": args.arp_retrans_ms, "image": lab.image, "command": SERVE,
        "a_docker_run_reachable": stats(s.a_reach),
        "a_docker_run_exit": stats(s.a_exit),
        "a_reachable_after_cli_exit": stats(a_after),
        "b_onedock_reachable": stats(s.b_reach),
        "b_shim_exit_same_runs": stats(s.b_exit),
        "b_reachable_after_shim_exit": stats(after_exit),
        "c_shim_alone_exit": stats(s.c_exit),
        "d_python_pass": stats(s.d_pass),
    }
    med = {k: v["median_ms"] for k, v in res.items() if isinstance(v, dict)}
    res["ratio_b_over_a"] = med["b_onedock_reachable"] / med["a_docker_run_reachable"]
    res["ratio_target"] = RATIO_TARGET
    res["target_met"] = res["ratio_b_over_a"] <= RATIO_TARGET
    res["b_minus_c_ms"] = med["b_onedock_reachable"] - med["c_shim_alone_exit"]
    res["c_minus_d_ms"] = med["c_shim_alone_exit"] - med["d_python_pass"]
    rows, total = imports
    res["importtime"] = {"total_us": total, "top": rows[:8]}
    return res


def report(res: dict) -> None:
    table = Table((58, 9, 9), rule_width=79)

    def row(label: str, key: str, indent: int = 0) -> None:
        v = res[key]
        table.row(" " * indent + label, f"{v['median_ms']:.1f}", f"{v['p90_ms']:.1f}")

    print(f"\ndeploy until reachable: median and p90 of {res['runs']} interleaved repetitions "
          f"(one warm-up round discarded)")
    print(f"interpreter {res['python']}, Docker engine {res['engine']}, image {res['image']}")
    print()
    table.row("case", "median", "p90", tail="   (ms)")
    table.rule()
    row("(A) docker run -d, until http://<ip>:80/ answers", "a_docker_run_reachable")
    row("of which `docker run -d` until the CLI exits", "a_docker_run_exit", 4)
    row("of which CLI exit until reachable", "a_reachable_after_cli_exit", 4)
    row("(B) onedock deploy shim, until http://<NIC IP>:80/ answers", "b_onedock_reachable")
    row("of which the shim until it exits (same runs)", "b_shim_exit_same_runs", 4)
    row("of which shim exit until reachable (same runs)", "b_reachable_after_shim_exit", 4)
    row("(C) onedock deploy shim alone, until it exits", "c_shim_alone_exit")
    row("(D) python -c pass", "d_python_pass")
    table.rule()
    ratio = res["ratio_b_over_a"]
    print(f"ratio B/A (medians) {ratio:.2f}   target <= {res['ratio_target']:.2f}: "
          f"{verdict(res['target_met'])}")
    a_med = res["a_docker_run_reachable"]["median_ms"]
    b_med = res["b_onedock_reachable"]["median_ms"]
    print(f"B - A (medians) {b_med - a_med:+.1f} ms")
    print("\nbreakdown of B (differences of medians):")
    print(f"  B - C  after the shim exited until reachable {res['b_minus_c_ms']:>10.1f} ms")
    print(f"  C - D  driver cost above a bare interpreter  {res['c_minus_d_ms']:>10.1f} ms")
    print(f"  D      bare interpreter start                "
          f"{res['d_python_pass']['median_ms']:>10.1f} ms")
    imp = res["importtime"]
    if imp["top"]:
        print(f"\nimports of one deploy under python -X importtime (all top-level imports: "
              f"{imp['total_us'] / 1e3:.1f} ms; importtime inflates this), top 8 by cumulative:")
        print(f"  {'cumulative ms':>13}{'self ms':>9}  module (imported by)")
        for item in imp["top"]:
            by = f"  (by {item['imported_by']})" if item["imported_by"] else ""
            print(f"  {item['cumulative_us'] / 1e3:>13.1f}{item['self_us'] / 1e3:>9.1f}  "
                  f"{item['module']}{by}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="repetitions (default 10)")
    parser.add_argument("--arp-retrans-ms", type=int, default=5,
                        help="ARP retransmit time on the bench's two bridges (default 5; "
                             "0 = kernel default)")
    parser.add_argument("--no-importtime", dest="importtime", action="store_false",
                        help="skip the python -X importtime deploy")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs must be between 1 and {MAX_RUNS}")
    if not 0 <= args.arp_retrans_ms <= 10000:
        parser.error("--arp-retrans-ms must be between 0 and 10000")
    for tool in ("docker", "ip", "docker-registry"):
        need(parser, tool)
    if os.geteuid() != 0:
        parser.error("needs root: it creates a bridge and plumbs NICs in-process")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the cleanup runs
    run_and_report(run, report, args,
                   "containers, docker network, bridge, registries, temp dir and engine images")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
