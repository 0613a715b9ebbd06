"""A live backup of a running VM with a 100 MB volume: onedock's TM prebackup_live against the
docker CLI doing the same capture, in the same run.

Setup (not timed), as bench.deploy's lab: registries on loopback, the busybox test image
registered and staged, a Linux bridge; then one VM deployed with a datablock (disk.2 at /data)
filled with --volume-mb of random data. Then --runs rounds (A and B alternate first) of:

  (A) `docker commit` of the VM's container, `docker export` of a container made from the
      commit into a file, and `tar` of the volume into a file (a `docker run --rm` of the VM's
      image with the volume mounted read-only): the same data, captured the way a user of the
      docker CLI would; the commit pauses the container (docker's default) for its length;
  (B) `tm/onedock/prebackup_live` with oned's argv and the VM document on stdin, until it exits
      (the layout the stock backup datastores collect: vm.xml, disk.0.0, disk.2.0), then an
      untimed postbackup_live. The VM's pause, as prebackup_live reports it, is recorded.

Printed: medians of A and B, B/A, the pause (median and max) and the backup's size.
Everything is removed at the end. Usage: python -m bench.backup [--runs 3] [--volume-mb 100]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import HOST, Table, docker, median, need, run_and_report
from bench.deploy import Lab
from lab.documents import vm_xml

SYSDIR = Path("/var/lib/one/datastores/0")


def _vm(lab: Lab, volume_mb: int) -> tuple[int, bytes]:
    vmid = lab.new_vmid()
    lab.stage(vmid)
    made = lab.shims.tm("mkimage", str(volume_mb + 16), "raw",
                        f"{HOST}:/var/lib/one//datastores/0/{vmid}/disk.2", str(vmid), "0")
    if not made.ok:
        raise RuntimeError(f"tm mkimage: {made.error_line}")
    xml = vm_xml(vmid, lab.source, lab.bridge, 200, context_disk=-1,
                 extra_disks=[(2, "vdb", {"MOUNTPOINT": "/data"})]).encode()
    done = lab.shims.vmm("deploy", f"/var/lib/one//datastores/0/{vmid}/deployment.0", HOST,
                         str(vmid), HOST, stdin=xml + b"\n")
    if not done.ok:
        raise RuntimeError(f"vmm deploy: {done.error_line}")
    docker("exec", f"one-{vmid}", "dd", "if=/dev/urandom", "of=/data/blob", "bs=1M",
           f"count={volume_mb}")
    return vmid, xml


def docker_capture(vmid: int, image: str, spool: Path) -> float:
    name, started = f"one-{vmid}", time.perf_counter()
    try:
        docker("commit", name, f"odbench-backup:{vmid}")
        docker("create", "--name", f"odbench-backup-{vmid}", f"odbench-backup:{vmid}", "none")
        docker("export", "-o", str(spool / "root.tar"), f"odbench-backup-{vmid}")
        with open(spool / "volume.tar", "wb") as out:
            subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint",
                            "/bin/busybox", "-v", f"one-{vmid}-disk.2:/volume:ro", image, "tar",
                            "cf", "-", "-C", "/", "volume"], stdout=out, check=True)
        return time.perf_counter() - started
    finally:
        docker("rm", "-f", f"odbench-backup-{vmid}", check=False)
        docker("rmi", f"odbench-backup:{vmid}", check=False)


def onedock_backup(lab: Lab, vmid: int, xml: bytes) -> tuple[float, float, int]:
    """(seconds, seconds paused, bytes in the backup directory)."""
    argv = [f"{HOST}:/var/lib/one//datastores/0/{vmid}", "0:2", f"one-{vmid}", "-", str(vmid), "0"]
    done = lab.shims.tm("prebackup_live", *argv, stdin=xml)
    if not done.ok:
        raise RuntimeError(f"prebackup_live: {done.error_line}")
    paused = float(done.stderr.split(" paused ")[1].split()[0])
    size = sum(p.stat().st_size for p in (SYSDIR / str(vmid) / "backup").iterdir())
    if not lab.shims.tm("postbackup_live", *argv, stdin=xml).ok:
        raise RuntimeError("postbackup_live failed")
    return done.seconds, paused, size


def run(args: argparse.Namespace) -> dict:
    import docker as sdk  # setup and cleanup only; every timed path is a CLI or a shim

    client = sdk.from_env(timeout=300)
    lab = Lab("onedock-bench-backup-", client, 0)
    spool = Path(tempfile.mkdtemp(prefix="onedock-bench-backup-spool-"))
    a, b, paused, size, vmid = [], [], [], 0, 0
    try:
        lab.start()
        vmid, xml = _vm(lab, args.volume_mb)
        print(f"==> VM {vmid} running with {args.volume_mb} MB of random data in disk.2")
        for n in range(args.runs):
            for case in ("a", "b") if n % 2 == 0 else ("b", "a"):
                if case == "a":
                    a.append(docker_capture(vmid, lab.image, spool))
                else:
                    took, stopped, size = onedock_backup(lab, vmid, xml)
                    b.append(took)
                    paused.append(stopped)
            print(f"    round {n + 1}/{args.runs}: docker {a[-1]:.2f} s, onedock {b[-1]:.2f} s "
                  f"(paused {paused[-1]:.3f} s)")
    finally:
        shutil.rmtree(spool, ignore_errors=True)
        if vmid:
            shutil.rmtree(SYSDIR / str(vmid), ignore_errors=True)
        problems = lab.close()
        if problems:
            print("cleanup problems:\n  " + "\n  ".join(problems), file=sys.stderr)
    return {"volume_mb": args.volume_mb, "runs": args.runs, "docker_s": median(a),
            "onedock_s": median(b), "ratio": median(b) / median(a),
            "paused_median_s": median(paused), "paused_max_s": max(paused),
            "backup_bytes": size, "docker_runs_s": a, "onedock_runs_s": b}


def report(res: dict) -> None:
    print(f"\nlive backup of a running VM with a {res['volume_mb']} MB volume, median of "
          f"{res['runs']} rounds")
    table = Table((52, 10))
    for label, value, tail in (
        ("(A) docker commit + export + tar of the volume", f"{res['docker_s']:.2f}", " s"),
        ("(B) onedock prebackup_live (the stock layout)", f"{res['onedock_s']:.2f}",
         f" s   B/A {res['ratio']:.2f}"),
        ("    of which the VM was paused", f"{res['paused_median_s']:.3f}",
         f" s   (max {res['paused_max_s']:.3f} s)"),
        ("    backup written for the datastore", f"{res['backup_bytes'] / 1e6:.0f}", " MB"),
    ):
        table.row(label, value, tail=tail)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=_positive, default=3, help="rounds (default 3)")
    parser.add_argument("--volume-mb", type=_positive, default=100,
                        help="MB in the volume (100)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    need(parser, "docker", "needs the docker CLI")
    run_and_report(run, report, args, "the VM, registries, bridge and temp dirs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
