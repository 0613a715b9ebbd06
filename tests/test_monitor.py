"""IM_MAD=onedock probes: figures checked against the kernel for real containers."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import subprocess
import time
from pathlib import Path

import docker.errors
import pytest

from lab.shims import probe_config
from onedock.monitor.cgroups import Cgroups
from tests.helpers import conf_with

LABEL = "org.opennebula.onedock.vmid"


@pytest.fixture
def probe_env(shims, tmp_path, conf):
    state = tmp_path / "state"
    path = tmp_path / "probe.conf"
    path.write_text(conf_with(conf.read_text().split("[hosts]")[0], state_dir=str(state)))
    return dict(shims.env, ONEDOCK_CONF=str(path))


def probe(shims, env, group, name, *, sync=180, ds="/nonexistent", host_id=3):
    return shims.probe(group, name, host_id=host_id, stdin=probe_config(sync, str(ds)), env=env,
                       timeout=60)


def keyvals(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip().strip('"')
    return out


def vm_lines(text: str) -> dict[int, dict[str, str]]:
    out = {}
    for line in text.splitlines():
        match = re.fullmatch(r'VM = \[ ID="(\d+)", DEPLOY_ID="(one-\d+)", (\w+)="([^"]*)" \]',
                             line)
        if match:
            vmid, deploy_id, key, value = match.groups()
            assert deploy_id == f"one-{vmid}"
            if key == "MONITOR":
                out[int(vmid)] = keyvals(base64.b64decode(value).decode())
            else:
                out[int(vmid)] = {key: value}
    return out


@pytest.fixture
def boxes(docker_client, images, new_id):
    made = []

    def make(command, **kw):
        vmid = new_id()
        labels = {LABEL: str(vmid), **kw.pop("labels", {})}
        box = docker_client.containers.run(images["busybox"], ["sh", "-c", command], detach=True,
                                           name=f"one-{vmid}", labels=labels,
                                           network_disabled=True, **kw)
        made.append(box)
        return vmid, box

    yield make
    for box in made:
        with contextlib.suppress(docker.errors.NotFound):
            box.remove(force=True)


def test_probe_tree_has_all_seven_directories(remotes):
    """7.2+'s agent dies on a missing group (digest §7.3); older ones skip vm/execution."""
    base = remotes / "im" / "onedock-probes.d"
    assert sorted(str(p.relative_to(base)) for p in base.glob("*/*")) == [
        "host/beacon", "host/monitor", "host/system", "vm/execution", "vm/monitor",
        "vm/snapshot", "vm/status"]
    assert os.access(base / "vm/execution/onedock-exec", os.X_OK)
    assert list((base / "vm/snapshot").iterdir()) == []


def docker_capacity_mb(docker_client) -> int:
    """Total MB of the distinct filesystems of Docker's data root and its volumes root."""
    root = docker_client.info()["DockerRootDir"]
    seen, total = set(), 0
    for path in (root, os.path.join(root, "volumes")):
        info = os.stat(path)
        if info.st_dev not in seen:
            seen.add(info.st_dev)
            fs = os.statvfs(path)
            total += fs.f_blocks * fs.f_frsize >> 20
    return total


@pytest.fixture
def small_ds(tmp_path):
    """DATASTORE_LOCATION on a 16 MiB tmpfs of its own: not where the VM disks are."""
    ds = tmp_path / "ds"
    (ds).mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "onedock-test", str(ds)],
                      capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tmpfs")
    (ds / "0").mkdir()
    (ds / "0" / ".monitor").write_text("onedock")
    yield ds
    subprocess.run(["umount", str(ds)], check=True)


def test_host_system_matches_the_kernel(shims, probe_env, small_ds, docker_client):
    proc = probe(shims, probe_env, "host", "system", ds=small_ds)
    assert proc.rc == 0, proc.stderr
    values = keyvals(proc.stdout)
    assert values["HYPERVISOR"] == "onedock"
    assert int(values["TOTALCPU"]) == os.cpu_count() * 100
    meminfo = Path("/proc/meminfo").read_text()
    assert int(values["TOTALMEMORY"]) == int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    assert int(values["CGROUPS_VERSION"]) == Cgroups().version
    ds = re.search(r"DS=\[ID=0, USED_MB=(\d+), TOTAL_MB=(\d+), FREE_MB=(\d+)\]",
                   proc.stdout)
    assert ds, proc.stdout
    # the disks live in Docker's data root and volumes, not on DATASTORE_LOCATION's 16 MiB
    assert int(ds.group(2)) == docker_capacity_mb(docker_client) > 16
    assert int(values["DS_LOCATION_TOTAL_MB"]) == int(ds.group(2))


def test_capacity_falls_back_to_the_location_when_dockerd_is_down(shims, probe_env, small_ds,
                                                                   tmp_path):
    conf = tmp_path / "down.conf"
    conf.write_text(Path(probe_env["ONEDOCK_CONF"]).read_text() +
                    'local_docker = "unix:///nonexistent/docker.sock"\nprobe_timeout = 2\n')
    proc = probe(shims, dict(probe_env, ONEDOCK_CONF=str(conf)), "host", "system", ds=small_ds)
    assert proc.rc == 0, proc.stderr
    assert re.search(r"DS=\[ID=0, USED_MB=\d, TOTAL_MB=16, FREE_MB=1\d\]", proc.stdout)


def test_capacity_through_mountinfo_when_the_root_is_unreadable(tmp_path):
    """Probes run as oneadmin; Docker's root is 0710 root's: found through /proc's mounts."""
    from onedock.monitor import capacity

    table = capacity.mounts()
    hidden = "/nonexistent-onedock/docker"  # not stat-able; under / in the mount table
    dev, usage = capacity.filesystem(hidden, table)
    fs = os.statvfs("/")
    assert dev == os.stat("/").st_dev and usage.total_mb == fs.f_blocks * fs.f_frsize >> 20
    assert capacity.combined(["/", "/"]).total_mb == usage.total_mb  # one filesystem, once


def test_host_monitor_adds_up(shims, probe_env):
    proc = probe(shims, probe_env, "host", "monitor")
    assert proc.rc == 0, proc.stderr
    values = {k: int(v) for k, v in keyvals(proc.stdout).items() if v.isdigit()}
    meminfo = Path("/proc/meminfo").read_text()
    total = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    assert values["USEDMEMORY"] + values["FREEMEMORY"] == total
    assert values["USEDCPU"] + values["FREECPU"] == os.cpu_count() * 100


def test_vm_memory_matches_the_cgroup(shims, probe_env, boxes):
    vmid, box = boxes("dd if=/dev/zero of=/dev/shm/fill bs=1M count=64 2>/dev/null; sleep 600",
                      mem_limit="256m", shm_size="128m")
    time.sleep(1.0)
    proc = probe(shims, probe_env, "vm", "monitor")
    assert proc.rc == 0, proc.stderr
    reported = int(vm_lines(proc.stdout)[vmid]["MEMORY"])
    kernel = Cgroups().memory_bytes(box.id) // 1024
    assert reported >= 64 * 1024
    assert abs(reported - kernel) <= 2048  # KB; the two reads are moments apart


def test_vm_cpu_follows_the_load(shims, probe_env, boxes):
    busy, _ = boxes("while :; do :; done", nano_cpus=500_000_000)
    idle, _ = boxes("sleep 600")
    probe(shims, probe_env, "vm", "monitor")  # first sample
    time.sleep(2.0)
    proc = probe(shims, probe_env, "vm", "monitor")
    found = vm_lines(proc.stdout)
    assert 35.0 <= float(found[busy]["CPU"]) <= 60.0  # capped at half a CPU
    assert float(found[idle]["CPU"]) < 5.0


def test_vm_network_counters_come_from_its_veth(shims, remotes, probe_env, docker_client,
                                                bridges, staged, image_source):
    from tests.test_vmm import deploy, get, vm_xml

    vmid, br = staged, bridges[0]
    assert deploy(shims, vmid, vm_xml(vmid, image_source, br, 40)).rc == 0
    for _ in range(5):
        get(br.ip(40), 80)
    proc = probe(shims, probe_env, "vm", "monitor")
    values = vm_lines(proc.stdout)[vmid]
    stats = "/sys/class/net/one-{}-0/statistics/{}"
    rx = int(Path(stats.format(vmid, "tx_bytes")).read_text())
    tx = int(Path(stats.format(vmid, "rx_bytes")).read_text())
    assert 0 < int(values["NETRX"]) <= rx and 0 < int(values["NETTX"]) <= tx
    assert int(values["NETTX"]) > 5 * 10  # five HTTP answers went out


def test_states_running_paused_stopped_and_sync(shims, probe_env, boxes, docker_client):
    running, _ = boxes("sleep 600")
    paused, pbox = boxes("sleep 600")
    stopped, sbox = boxes("sleep 600")
    pbox.pause()
    sbox.stop(timeout=0)
    proc = probe(shims, probe_env, "vm", "status")
    assert proc.rc == 0, proc.stderr
    text = proc.stdout
    assert text.splitlines()[:2] == ["SYNC_STATE=yes", "MISSING_STATE=POWEROFF"]
    states = vm_lines(text)
    assert states[running] == {"STATE": "RUNNING"}
    assert states[paused] == {"STATE": "SUSPENDED"}
    assert states[stopped] == {"STATE": "POWEROFF"}
    # within SYNC_STATE_VM only changes are reported
    mine = {running, paused, stopped}
    again = probe(shims, probe_env, "vm", "status").stdout
    assert not again.startswith("SYNC_STATE") and not mine & set(vm_lines(again))
    pbox.unpause()
    changed = vm_lines(probe(shims, probe_env, "vm", "status").stdout)
    assert {k: v for k, v in changed.items() if k in mine} == {paused: {"STATE": "RUNNING"}}
    # SYNC_STATE_VM=0: every run is a full report
    full = probe(shims, probe_env, "vm", "status", sync=0).stdout
    assert full.startswith("SYNC_STATE=yes") and len(vm_lines(full)) >= 3


def test_only_running_and_paused_vms_get_records(shims, probe_env, boxes):
    running, _ = boxes("sleep 600")
    paused, pbox = boxes("sleep 600")
    stopped, sbox = boxes("sleep 600")
    pbox.pause()
    sbox.stop(timeout=0)
    found = vm_lines(probe(shims, probe_env, "vm", "monitor").stdout)
    assert running in found and paused in found
    assert stopped not in found  # zeros would overwrite the figures oned shows


def test_disk_size_of_the_layer_and_of_volumes(shims, probe_env, boxes, docker_client):
    from tests.helpers import VOL_LABEL

    vmid, _ = boxes("head -c 9000000 /dev/zero > /big; sleep 600",
                    labels={"org.opennebula.onedock.disk": "0"})
    volume = docker_client.volumes.create(f"one-{vmid}-disk.2", labels={VOL_LABEL: str(vmid)})
    try:
        docker_client.containers.run(
            docker_client.containers.get(f"one-{vmid}").image.id,
            ["sh", "-c", "head -c 3000000 /dev/zero > /v/data"], remove=True,
            volumes={volume.name: {"bind": "/v"}}, network_disabled=True)
        time.sleep(1.0)
        text = probe(shims, probe_env, "vm", "monitor").stdout
        monitor = base64.b64decode(re.search(
            rf'ID="{vmid}", DEPLOY_ID="one-{vmid}", MONITOR="([^"]+)"', text).group(1)).decode()
        sizes = dict(re.findall(r"DISK_SIZE=\[ID=(\d+),SIZE=(\d+)\]", monitor))
        assert 9 <= int(sizes["0"]) <= 12, monitor  # MB, rounded up: the 9 MB file
        assert 3 <= int(sizes["2"]) <= 4, monitor
    finally:
        docker_client.containers.get(f"one-{vmid}").remove(force=True)
        volume.remove(force=True)


def test_running_to_poweroff_waits_for_three_observations(shims, probe_env, boxes):
    """The shutdown action has not replied yet when the container stops (vmstate's why)."""
    vmid, box = boxes("sleep 600")
    first = vm_lines(probe(shims, probe_env, "vm", "status").stdout)
    assert first[vmid] == {"STATE": "RUNNING"}
    box.stop(timeout=0)
    seen = [vm_lines(probe(shims, probe_env, "vm", "status", sync=0).stdout).get(vmid)
            for _ in range(3)]
    assert seen == [{"STATE": "RUNNING"}, {"STATE": "RUNNING"}, {"STATE": "POWEROFF"}]
    box.start()
    back = vm_lines(probe(shims, probe_env, "vm", "status").stdout)
    assert back[vmid] == {"STATE": "RUNNING"}  # at once


def test_foreign_containers_are_ignored(shims, probe_env, docker_client, images, new_id):
    vmid = new_id()
    impostor = docker_client.containers.run(images["busybox"], ["sleep", "600"], detach=True,
                                            name=f"not-one-{vmid}", labels={LABEL: str(vmid)},
                                            network_disabled=True)
    plain = docker_client.containers.run(images["busybox"], ["sleep", "600"], detach=True,
                                         network_disabled=True)
    try:
        for name in ("monitor", "status"):
            proc = probe(shims, probe_env, "vm", name, sync=0)
            assert vmid not in vm_lines(proc.stdout)
            assert plain.name not in proc.stdout
    finally:
        impostor.remove(force=True)
        plain.remove(force=True)


def test_dockerd_down_fails_fast_in_one_line(shims, probe_env, tmp_path):
    conf = tmp_path / "down.conf"
    conf.write_text(Path(probe_env["ONEDOCK_CONF"]).read_text() +
                    'local_docker = "unix:///nonexistent/docker.sock"\nprobe_timeout = 2\n')
    env = dict(probe_env, ONEDOCK_CONF=str(conf))
    for name in ("monitor", "status"):
        proc = probe(shims, env, "vm", name)
        assert proc.rc == 1
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "unreachable" in lines[0]
        assert proc.seconds < 3
    assert probe(shims, env, "host", "monitor").rc == 0  # the host itself is fine


def test_container_gone_mid_probe(docker_client, images, tmp_path, conf, new_id):
    """The listing still names a container whose cgroup has vanished: zeros, no crash."""
    from onedock import config
    from onedock.monitor import probes

    vmid = new_id()
    box = docker_client.containers.run(images["busybox"], ["sleep", "600"], detach=True,
                                       name=f"one-{vmid}", labels={LABEL: str(vmid)},
                                       network_disabled=True)
    cfg = config.Config(state_dir=str(tmp_path))
    probe_obj = probes.Probe(cfg, 3, "node01", b"")
    listing = [c for c in probe_obj.containers() if c.id == box.id]
    box.remove(force=True)
    probe_obj.containers = lambda: listing
    values = vm_lines(probes.vm_monitor(probe_obj))[vmid]
    assert values["MEMORY"] == "0" and values["CPU"] == "0.00"


def test_cgroup_v2_layout(tmp_path):
    """No cgroup v2 host here: the v2 file formats are checked on a tree laid out like one."""
    cid = "a" * 64
    root = tmp_path / "cg"
    (root / "system.slice" / f"docker-{cid}.scope").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory io\n")
    box = root / "system.slice" / f"docker-{cid}.scope"
    (box / "memory.current").write_text("104857600\n")
    (box / "memory.stat").write_text("anon 80000000\ninactive_file 4857600\nfile 9000000\n")
    (box / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    (box / "io.stat").write_text("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
                                 "8:16 rbytes=1 wbytes=1 rios=1 wios=1\n")
    cg = Cgroups(str(root))
    assert cg.version == 2
    assert cg.memory_bytes(cid) == 100_000_000
    assert cg.cpu_ns(cid) == 2_500_000_000
    assert cg.io(cid) == (4097, 8193, 2, 3)
    assert cg.memory_bytes("b" * 64) is None  # gone


def test_probe_refuses_bad_arguments(shims, probe_env):
    path = shims.probe_script("vm", "status")
    proc = shims.run([str(path), "onedock", "3;reboot", "node01"], env=probe_env)
    assert proc.rc == 1 and "is not a number" in proc.stderr
