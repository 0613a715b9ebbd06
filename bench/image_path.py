"""The image path, timed end to end on this machine: registration (DS cp) and staging (TM clone).

One run starts a Docker Hub stand-in and a private registry on loopback, builds a multi-layer
test image offline (lab/) and pushes it to the hub, then measures:

  DS copy, median of --reps repetitions, each into an emptied private registry:
    (A) baseline with the docker CLI: `docker pull hub/...multi:latest`, `docker tag`,
        `docker push private/...`, after removing every local copy so the pull is real;
    (B) `datastore/onedock/cp` of docker://hub/...multi:latest for a fresh image id each time
        (registry to registry, no engine); reported as the ratio B/A.
  TM clone on a warm host: one cold clone (the engine pulls from the private registry), then
    --warm clones of the same SOURCE for new vmids, against `python -c pass` measured in the same
    run. Target: warm clone minus process start < 100 ms.
  TM clone to a host reached over ssh (a private sshd on loopback, lab/sshd.py; the engine
    behind it is this one): --warm warm clones with ssh connection sharing (after one that
    opens the shared connection) and without, against a plain `ssh host true` in the same run.
    Target: a warm shared clone, end to end, at most 200 ms.

Everything created is removed at the end: registries, temp dirs, and the images and
`one-<vmid>:disk.0` tags this run made in the engine. Usage:
    python -m bench.image_path [--layers 4] [--layer-mb 8] [--reps 3] [--warm 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import (
    FRONTEND,
    HOSTILE_SOURCE,
    RegistryLab,
    Table,
    docker,
    median,
    need,
    p90,
    python_pass,
    run_and_report,
    verdict,
)
from lab import images as lab_images
from lab.shims import Shims
from lab.sshd import SshHost

WARM_TARGET_MS = 100.0
SSH_TARGET_MS = 200.0
SSH_NODE = "node-ssh"
MULTI = "onedock-test/multi"
ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.oci.image.manifest.v1+json")


def image_size(host: str, repo: str, tag: str) -> tuple[int, int]:
    """(layers, bytes of config + layers) of repo:tag, as stored (compressed) in the registry."""
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}",
                                 headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback lab registry
        manifest = json.load(resp)
    layers = manifest.get("layers", [])
    return len(layers), manifest["config"]["size"] + sum(layer["size"] for layer in layers)


class Lab(RegistryLab):
    """The registries, remotes tree and engine objects of one run, and their cleanup."""

    def __init__(self, prefix: str):
        super().__init__(prefix)
        self.vmids: list[int] = []

    def empty_private(self) -> None:
        """Restart the private registry on its port with empty storage: every copy is real."""
        self.private.stop()
        shutil.rmtree(self.private.storage, ignore_errors=True)
        self.private.start()

    def our_images(self) -> list[tuple[str, str]]:
        """(created, id) of engine images this run made: named after our registries or vmids."""
        prefixes = (f"{self.hub.host}/", f"{self.private.host}/",
                    *(f"one-{vmid}:" for vmid in self.vmids))
        ids = docker("image", "ls", "--all", "--no-trunc", "--format", "{{.ID}}").stdout.split()
        if not ids:
            return []
        # one inspect for all; an image removed meanwhile by someone else only fails the call
        proc = subprocess.run(["docker", "image", "inspect", *dict.fromkeys(ids)],
                              capture_output=True, text=True)
        found = {}
        for info in json.loads(proc.stdout or "[]"):
            refs = (info.get("RepoTags") or []) + (info.get("RepoDigests") or [])
            if any(ref.startswith(prefixes) for ref in refs):
                found[info["Id"]] = info.get("Created", "")
        return sorted(((c, i) for i, c in found.items()), reverse=True)

    def remove_images(self) -> None:
        """`docker rmi -f` by id, children before parents (a parent with children is refused)."""
        for _ in range(3):
            left = self.our_images()
            if not left:
                return
            for _, image_id in left:
                subprocess.run(["docker", "rmi", "--force", image_id], capture_output=True)
        left = self.our_images()
        if left:
            raise RuntimeError(f"could not remove images {[i for _, i in left]}")

    def remove_disk_tags(self) -> None:
        tags = [f"one-{vmid}:disk.0" for vmid in self.vmids]
        existing = [t for t in tags if subprocess.run(
            ["docker", "image", "inspect", t], capture_output=True).returncode == 0]
        if existing:
            docker("rmi", *existing)

    def close(self) -> None:
        try:
            self.remove_disk_tags()
            self.remove_images()
        finally:
            problems = self.stop()
            if problems:
                raise RuntimeError("; ".join(problems))

    # -- the two ways of copying an image into the private registry ------------------------

    def docker_copy(self) -> tuple[dict[str, float], int]:
        """Times of pull, tag, push and their total; and how many layers the pull reused."""
        src = f"{self.hub.host}/{MULTI}:latest"
        dst = f"{self.private.host}/{MULTI}:latest"
        times, reused = {}, 0
        started = time.perf_counter()
        for step, args in (("pull", ("pull", src)), ("tag", ("tag", src, dst)),
                           ("push", ("push", dst))):
            t0 = time.perf_counter()
            out = docker(*args).stdout
            times[step] = time.perf_counter() - t0
            if step == "pull":
                reused = sum(line.endswith("Already exists") for line in out.splitlines())
        times["total"] = time.perf_counter() - started
        return times, reused

    def onedock_cp(self, image_id: int) -> float:
        took, proc = self.ds_cp(image_id, f"docker://{self.hub.host}/{MULTI}:latest")
        expected = f"onedock/image-{image_id} docker"
        if proc.rc != 0 or proc.stdout.strip() != expected:
            raise RuntimeError(f"onedock cp {image_id}: exit {proc.rc}: "
                               f"{(proc.stderr or proc.stdout).strip()[-400:]}")
        return took

    def tm_clone(self, image_id: int, vmid: int) -> float:
        self.vmids.append(vmid)
        return self._clone(f"{FRONTEND}:onedock/image-{image_id}", vmid, 0)

    def tm_clone_refused(self, vmid: int) -> float:
        """The same action with a hostile SOURCE: start-up, imports, config, no I/O (exit 1)."""
        return self._clone(HOSTILE_SOURCE, vmid, 1)

    def _clone(self, src: str, vmid: int, expect_rc: int) -> float:
        took, proc = self.clone(src, vmid)
        if proc.rc != expect_rc:
            raise RuntimeError(f"tm clone {src} vmid {vmid}: exit {proc.rc}, expected "
                               f"{expect_rc}: {proc.stderr.strip()[-400:]}")
        return took


def ssh_clones(lab: Lab, source_id: int, first_vmid: int, runs: int) -> dict:
    """Warm clones to SSH_NODE with and without shared connections, and `ssh host true`."""
    root = Path(tempfile.mkdtemp(prefix="od-ssh-", dir="/tmp"))  # short: ssh's socket names
    host = SshHost(root).start()
    try:
        shims = {}
        for name, persist in (("shared", 60), ("unshared", 0)):
            conf = root / f"{name}.conf"
            conf.write_text(
                f'registry = "{lab.private.host}"\nregistry_insecure = true\n'
                f'frontend = "{FRONTEND}"\nstate_dir = "{root / name}"\n'
                f'ssh_config = "{host.config}"\nssh_persist = {persist}\n'
                f'[hosts]\n{SSH_NODE} = "ssh://{host.name}"\n')
            shims[name] = Shims(lab.remotes, conf)
        vmids = iter(range(first_vmid, first_vmid + 2 * runs + 1))

        def clone(kind: str) -> float:
            vmid = next(vmids)
            lab.vmids.append(vmid)
            done = shims[kind].tm("clone", f"{FRONTEND}:onedock/image-{source_id}",
                                  f"{SSH_NODE}:/var/lib/one//datastores/0/{vmid}/disk.0",
                                  str(vmid), "1")
            if not done.ok:
                raise RuntimeError(f"tm clone over ssh ({kind}): {done.error_line}")
            return done.seconds

        clone("shared")  # opens the shared connection: later clones are the warm ones
        plain, shared, unshared = [], [], []
        logins = host.logins()
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(host.ssh("true"), check=True, capture_output=True, timeout=30)
            plain.append(time.perf_counter() - t0)
            unshared.append(clone("unshared"))
            shared.append(clone("shared"))
        new_logins = host.logins() - logins  # plain and unshared connect; shared must not
    finally:
        host.stop()
        shutil.rmtree(root, ignore_errors=True)
    shared_ms = median(shared) * 1e3
    return {"runs": runs, "ssh_true_median_ms": median(plain) * 1e3,
            "unshared_median_ms": median(unshared) * 1e3, "shared_median_ms": shared_ms,
            "shared_p90_ms": p90(shared) * 1e3, "logins_during_runs": new_logins,
            "logins_expected": 2 * runs, "target_ms": SSH_TARGET_MS,
            "target_met": shared_ms <= SSH_TARGET_MS}


def run(args: argparse.Namespace) -> dict:
    import docker as sdk  # only to build the test image (lab.images); timed paths use CLI

    client = sdk.from_env(timeout=300)
    client.ping()
    lab = Lab("onedock-bench-image-")
    try:
        lab.start()
        print(f"==> registries: hub {lab.hub.host}, private {lab.private.host}")
        t0 = time.perf_counter()
        lab_images.build_images(client, lab.hub.host, layers=args.layers, layer_mb=args.layer_mb)
        layers, size = image_size(lab.hub.host, MULTI, "latest")
        print(f"==> built and pushed {lab.hub.host}/{MULTI}:latest: {layers} layers, "
              f"{size / 1e6:.1f} MB compressed ({time.perf_counter() - t0:.1f}s)")

        image_ids = random.sample(range(1000, 99999), args.reps)
        baseline, ours, reused = [], [], []
        for rep, image_id in enumerate(image_ids, 1):
            lab.remove_images()  # no local copy: the pull downloads every layer
            lab.empty_private()
            times, already = lab.docker_copy()
            baseline.append(times)
            reused.append(already)
            lab.empty_private()
            ours.append(lab.onedock_cp(image_id))
            print(f"    rep {rep}/{args.reps}: docker pull+tag+push "
                  f"{baseline[-1]['total']:.2f}s, onedock cp {ours[-1]:.2f}s")

        lab.remove_images()  # the host has nothing: the first clone pulls every layer
        source_id = image_ids[-1]
        first_vmid = random.randrange(800000, 900000)
        cold = lab.tm_clone(source_id, first_vmid)
        warm, base, refused = [], [], []
        for index in range(1, args.warm + 1):  # interleaved with the baselines: same conditions
            base.append(python_pass())
            refused.append(lab.tm_clone_refused(first_vmid + index))
            warm.append(lab.tm_clone(source_id, first_vmid + index))
        over_ssh = ssh_clones(lab, source_id, first_vmid + args.warm + 1, args.warm)
        missing = [v for v in lab.vmids if subprocess.run(
            ["docker", "image", "inspect", f"one-{v}:disk.0"], capture_output=True).returncode]
        if missing:
            raise RuntimeError(f"clone left no one-<vmid>:disk.0 tag for vmids {missing}")
    finally:
        lab.close()

    a = {step: median([b[step] for b in baseline]) for step in baseline[0]}
    b = median(ours)
    warm_ms, base_ms, refused_ms = (median(x) * 1e3 for x in (warm, base, refused))
    return {
        "image": {"ref": f"hub/{MULTI}:latest", "layers": layers, "compressed_bytes": size,
                  "layer_mb": args.layer_mb},
        "ds_copy": {
            "reps": args.reps,
            "docker_cli_s": a,
            "docker_cli_runs_s": [bl["total"] for bl in baseline],
            "docker_pull_layers_already_present": reused,
            "onedock_cp_s": b,
            "onedock_cp_runs_s": ours,
            "ratio_onedock_over_docker": b / a["total"],
        },
        "tm_clone": {
            "cold_s": cold,
            "warm_runs": args.warm,
            "warm_median_ms": warm_ms,
            "warm_p90_ms": p90(warm) * 1e3,
            "python_pass_median_ms": base_ms,
            "above_process_start_ms": warm_ms - base_ms,
            "refused_clone_median_ms": refused_ms,
            "startup_imports_ms": refused_ms - base_ms,
            "registry_and_engine_ms": warm_ms - refused_ms,
            "target_ms": WARM_TARGET_MS,
            "target_met": warm_ms - base_ms < WARM_TARGET_MS,
            "warm_runs_ms": [w * 1e3 for w in warm],
        },
        "tm_clone_ssh": over_ssh,
    }


def report(res: dict) -> None:
    img, ds, tm = res["image"], res["ds_copy"], res["tm_clone"]
    a = ds["docker_cli_s"]
    mb = img["compressed_bytes"] / 1e6

    def runs(values: list[float]) -> str:
        return " ".join(f"{v:.2f}" for v in values)

    print(f"\nimage: {img['layers']} layers, {mb:.1f} MB compressed "
          f"({img['layers'] - 1} x {img['layer_mb']} MB random + busybox)")
    print(f"\nDS copy hub -> private registry, median of {ds['reps']} repetitions")
    table = Table((40, 10, 8), indent=2, rule_width=72)
    pair = Table((40, 10), indent=2, rule_width=72)  # the same without the MB/s column
    table.row("method", "median s", "MB/s", tail="   runs s")
    table.rule()
    table.row("(A) docker pull + tag + push (CLI)", f"{a['total']:.2f}", f"{mb / a['total']:.1f}",
              tail=f"   {runs(ds['docker_cli_runs_s'])}")
    present = max(ds["docker_pull_layers_already_present"])
    notes = {"pull": f"layers already on the engine: {present} of {img['layers']}",
             "push": "re-compresses every layer"}
    for step in ("pull", "tag", "push"):
        print(table.line(f"    {step}", f"{a[step]:.2f}", "",
                         tail=f"   {notes.get(step, '')}").rstrip())
    b = ds["onedock_cp_s"]
    table.row("(B) onedock DS cp (registry-to-registry)", f"{b:.2f}", f"{mb / b:.1f}",
              tail=f"   {runs(ds['onedock_cp_runs_s'])}")
    table.rule()
    ratio = ds["ratio_onedock_over_docker"]
    pair.row("ratio B/A", f"{ratio:.2f}",
             tail=f"   ({'onedock faster' if ratio < 1 else 'onedock SLOWER'})")

    print(f"\nTM clone of the same SOURCE on node01 (local engine), {tm['warm_runs']} warm runs")
    pair.rule()
    pair.row("cold clone (engine pulls the image)", f"{tm['cold_s'] * 1e3:.0f}", tail=" ms")
    pair.row("python -c pass (same run, median)", f"{tm['python_pass_median_ms']:.1f}",
             tail=" ms")
    pair.row("warm clone (median)", f"{tm['warm_median_ms']:.1f}",
             tail=f" ms   p90 {tm['warm_p90_ms']:.1f} ms")
    pair.row("above process start", f"{tm['above_process_start_ms']:.1f}",
             tail=f" ms   target < {tm['target_ms']:.0f} ms: {verdict(tm['target_met'])}")
    pair.row("  of which imports + config", f"{tm['startup_imports_ms']:.1f}",
             tail=f" ms   (clone refusing a hostile SOURCE: "
                  f"{tm['refused_clone_median_ms']:.1f} ms)")
    pair.row("  of which registry HEAD + inspect + tag", f"{tm['registry_and_engine_ms']:.1f}",
             tail=" ms")

    ssh = res["tm_clone_ssh"]
    print(f"\nTM clone to {SSH_NODE}, reached over ssh (sshd on loopback), {ssh['runs']} warm runs")
    pair.rule()
    pair.row("ssh host true (a new connection)", f"{ssh['ssh_true_median_ms']:.1f}", tail=" ms")
    pair.row("warm clone, each action connects", f"{ssh['unshared_median_ms']:.1f}", tail=" ms")
    pair.row("warm clone, shared connection", f"{ssh['shared_median_ms']:.1f}",
             tail=f" ms   p90 {ssh['shared_p90_ms']:.1f} ms   target <= {ssh['target_ms']:.0f} "
                  f"ms: {verdict(ssh['target_met'])}")
    pair.row("sshd logins during the runs", str(ssh["logins_during_runs"]),
             tail=f"   (the plain ssh and unshared clones: {ssh['logins_expected']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.image_path", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=4, help="random-data layers (default 4)")
    parser.add_argument("--layer-mb", type=int, default=8, help="MB per layer (default 8)")
    parser.add_argument("--reps", type=int, default=3, help="DS copy repetitions (default 3)")
    parser.add_argument("--warm", type=int, default=10, help="warm TM clones (default 10)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    for name in ("layers", "layer_mb", "reps", "warm"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    need(parser, "docker", "needs the docker CLI")

    run_and_report(run, report, args, "registries, temp dirs and engine images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
