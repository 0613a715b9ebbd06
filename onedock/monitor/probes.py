"""The probes, one function each, printing OpenNebula's monitoring payloads.

Output formats (6.x/7.0 push model; the monitord agent sends what a probe prints):
SYSTEM_HOST and MONITOR_HOST are KEY=value lines, MONITOR_VM is one
`VM = [ ID=.., DEPLOY_ID=.., MONITOR="<base64 of KEY=\"v\" lines>" ]` line per VM, STATE_VM is
`VM = [ ID=.., DEPLOY_ID=.., STATE=.. ]` lines, preceded by `SYNC_STATE=yes` on full reports,
EXEC_VM (7.2+) one `VM = [ ID=.., PID=.., STATUS=.., ... ]` line per finished `onevm exec`.

Every probe is a fresh process every few seconds: nothing here imports the registry client,
http.client (it pulls in ssl and email), tarfile or jinja2; the engine is reached through
monitor.dockerapi.
"""

from __future__ import annotations

import base64
import os
import time

from onedock import names
from onedock.config import Config
from onedock.engine.views import ContainerInfo
from onedock.errors import OneDockError
from onedock.monitor.cgroups import Cgroups, veth_counters
from onedock.monitor.settings import settings
from onedock.one import is_digits
from onedock.state import private_dir, read_json, write_json

STATES = {"running": "RUNNING", "restarting": "RUNNING", "paused": "SUSPENDED",
          "exited": "POWEROFF", "created": "POWEROFF", "dead": "FAILURE"}
# Containers that get MONITOR_VM records: a paused one is a SUSPENDED VM whose memory is still
# held, as libvirt lists (and the kvm probe monitors) paused domains; stopped ones hold nothing.
MONITORED = ("running", "paused")


class Probe:
    def __init__(self, cfg: Config, host_id: int, hostname: str, stdin: bytes):
        self.cfg = cfg
        self.host_id = host_id
        self.hostname = hostname
        self.settings = settings(stdin)

    # -- shared state between runs (CPU deltas, last reported VM states) ---------------------

    def _state_path(self, kind: str) -> str:
        return os.path.join(self.cfg.state_dir, f"{kind}-{self.host_id}.json")

    def load(self, kind: str) -> dict:
        return read_json(self._state_path(kind)) or {}

    def save(self, kind: str, data: dict) -> None:
        private_dir(self.cfg.state_dir)
        write_json(self._state_path(kind), data)

    # -- containers ------------------------------------------------------------------------

    def engine(self):
        from onedock.monitor.dockerapi import LocalEngine

        return LocalEngine(self.cfg.local_docker, self.cfg.probe_timeout)

    def containers(self) -> list[ContainerInfo]:
        """onedock's containers on this host: one API call, whatever their number."""
        out = []
        for box in self.engine().containers([names.LABEL_VMID]):
            vmid = box.labels.get(names.LABEL_VMID, "")
            if vmid.isascii() and vmid.isdigit() and len(vmid) < 10 \
                    and box.name == names.container(int(vmid)):
                out.append(box)
        return out


def _meminfo() -> dict[str, int]:
    out = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            value = rest.split()
            if value and value[0].isdigit():
                out[key] = int(value[0])
    return out


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]), idle


def _links() -> list[str]:
    try:
        return os.listdir("/sys/class/net")
    except OSError:
        return []


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- host ---------------------------------------------------------------------------------------


def host_system(probe: Probe) -> str:
    model, speed = "", 0
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key == "cpu MHz" and not speed:
                speed = int(float(value))
    cgroups = Cgroups()
    lines = [
        "HYPERVISOR=onedock",
        f"HOSTNAME={_quote(os.uname().nodename)}",
        f"ARCH={_quote(os.uname().machine)}",
        f"MODELNAME={_quote(model)}",
        f"CPUSPEED={speed}",
        f"TOTALCPU={(os.cpu_count() or 1) * 100}",
        f"TOTALMEMORY={_meminfo().get('MemTotal', 0)}",
        f"CGROUPS_VERSION={cgroups.version}",
    ]
    for version_file in ("/var/tmp/one/VERSION",):
        try:
            with open(version_file) as handle:
                lines.append(f"VERSION={_quote(handle.read().strip())}")
        except OSError:
            pass
    location = probe.settings.get("DATASTORE_LOCATION", "/var/lib/one//datastores")
    usage = _disk_usage(probe, location)
    if usage is not None:
        lines += [f"DS_LOCATION_USED_MB={usage.used_mb}", f"DS_LOCATION_TOTAL_MB={usage.total_mb}",
                  f"DS_LOCATION_FREE_MB={usage.free_mb}"]
        for entry in sorted(os.listdir(location)) if os.path.isdir(location) else []:
            if entry.isdigit() and os.path.exists(os.path.join(location, entry, ".monitor")):
                lines.append(f"DS=[ID={entry}, USED_MB={usage.used_mb}, "
                             f"TOTAL_MB={usage.total_mb}, FREE_MB={usage.free_mb}]")
    return "\n".join(lines)


def _disk_usage(probe: Probe, location: str):
    """What the system datastores really hold: Docker's data root and its volumes (each
    filesystem once). An engine that does not answer leaves DATASTORE_LOCATION's filesystem,
    which is what OpenNebula's own probes report, rather than no capacity at all."""
    from onedock.monitor import capacity

    try:
        root = str(probe.engine().get("/info").get("DockerRootDir") or "")
    except (OneDockError, AttributeError):
        root = ""
    paths = [root, os.path.join(root, "volumes")] if root.startswith("/") else []
    usage = capacity.combined(paths) if paths else None
    if usage is None and os.path.isdir(location):
        usage = capacity.statvfs_usage(location)
    return usage


def host_monitor(probe: Probe) -> str:
    mem = _meminfo()
    total = mem.get("MemTotal", 0)
    free = mem.get("MemAvailable", mem.get("MemFree", 0))
    now_total, now_idle = _cpu_times()
    last = probe.load("hostcpu")
    if not last:  # first run: a short sample instead of a lifetime average
        time.sleep(0.1)
        last = {"total": now_total, "idle": now_idle}
        now_total, now_idle = _cpu_times()
    probe.save("hostcpu", {"total": now_total, "idle": now_idle})
    span = max(1, now_total - last["total"])
    busy = 1 - (now_idle - last["idle"]) / span
    cpus = (os.cpu_count() or 1) * 100
    used_cpu = round(max(0.0, min(1.0, busy)) * cpus)
    rx = tx = 0
    for name in _links():
        if name == "lo" or name.startswith("one-"):
            continue  # VM traffic is reported per VM
        stats = f"/sys/class/net/{name}/statistics"
        if os.path.exists(f"/sys/class/net/{name}/device") or name.startswith(("eth", "en")):
            from onedock.monitor.cgroups import _int

            rx += _int(f"{stats}/rx_bytes")
            tx += _int(f"{stats}/tx_bytes")
    return "\n".join([
        "HYPERVISOR=onedock",
        f"USEDMEMORY={total - free}",
        f"FREEMEMORY={free}",
        f"USEDCPU={used_cpu}",
        f"FREECPU={cpus - used_cpu}",
        f"NETRX={rx}",
        f"NETTX={tx}",
    ])


def host_beacon(probe: Probe) -> str:
    return str(int(time.time()))


# -- VMs ----------------------------------------------------------------------------------------


def vm_monitor(probe: Probe) -> str:
    """MONITOR_VM of running and paused VMs; a stopped container holds no CPU or memory, and a
    zero-valued record would overwrite the last real figures oned shows."""
    from onedock.monitor import disksize

    cgroups = Cgroups()
    links = _links()
    now = time.time_ns()
    last = probe.load("vmcpu")
    boxes = [box for box in probe.containers() if box.status in MONITORED]
    sizes = probe.load("disksize")
    if disksize.due(sizes, [box.id for box in boxes], time.time()):
        sizes = disksize.measure(probe.engine(), sizes, time.time())
        probe.save("disksize", sizes)
    volumes = disksize.by_vm(sizes)
    seen: dict[str, list[int]] = {}
    lines = []
    for box in boxes:
        cid = box.id
        vmid = int(box.labels[names.LABEL_VMID])
        cpu_ns = cgroups.cpu_ns(cid)
        memory = cgroups.memory_bytes(cid) if cpu_ns is not None else None
        cpu = 0.0
        if cpu_ns is not None:
            seen[cid] = [cpu_ns, now]
            before = last.get(cid)
            if before and now > before[1] and cpu_ns >= before[0]:
                cpu = (cpu_ns - before[0]) / (now - before[1]) * 100
            else:  # first sight: the average since the container was created
                age = max(1, now - box.created * 1_000_000_000)
                cpu = cpu_ns / age * 100
        rx, tx = veth_counters(vmid, links)
        rb, wb, rio, wio = cgroups.io(cid) if cpu_ns is not None else (0, 0, 0, 0)
        values = (f'CPU="{cpu:.2f}"\nMEMORY="{(memory or 0) // 1024}"\nNETRX="{rx}"\n'
                  f'NETTX="{tx}"\nDISKRDBYTES="{rb}"\nDISKWRBYTES="{wb}"\n'
                  f'DISKRDIOPS="{rio}"\nDISKWRIOPS="{wio}"\n')
        boot = str(box.labels.get(names.LABEL_DISK, ""))
        for disk_id, size_mb in disksize.disk_sizes(sizes, volumes.get(vmid, {}), cid, boot):
            values += f"DISK_SIZE=[ID={disk_id},SIZE={size_mb}]\n"
        encoded = base64.b64encode(values.encode()).decode()
        lines.append(f'VM = [ ID="{vmid}", DEPLOY_ID="{names.container(vmid)}", '
                     f'MONITOR="{encoded}" ]')
    probe.save("vmcpu", seen)
    return "\n".join(lines)


def vm_state(probe: Probe) -> str:
    """Changes since the last run, and everything with SYNC_STATE=yes every SYNC_STATE_VM s;
    a move from RUNNING to stopped waits for vmstate's debounce (its docstring says why)."""
    from onedock.monitor import vmstate

    observed = {}
    for box in probe.containers():
        state = STATES.get(box.status)
        if state:
            observed[box.labels[names.LABEL_VMID]] = state
    last = probe.load("vmstate")
    setting = probe.settings.get("SYNC_STATE_VM", "180")
    period = int(setting) if setting.isascii() and setting.isdigit() and len(setting) < 10 \
        else 180  # monitord's default when its configuration says nonsense
    now = int(time.time())
    full = now - int(last.get("synced", 0)) >= period
    reported, memory = vmstate.step(observed, last, full)
    probe.save("vmstate", {**memory, "synced": now if full else last.get("synced", 0)})
    lines = ["SYNC_STATE=yes", f"MISSING_STATE={vmstate.MISSING_STATE}"] if full else []
    lines += [f'VM = [ ID="{vmid}", DEPLOY_ID="{names.container(int(vmid))}", '
              f'STATE="{state}" ]' for vmid, state in sorted(reported.items(),
                                                             key=lambda x: int(x[0]))]
    return "\n".join(lines)


def vm_execution(probe: Probe) -> str:
    """7.2+: one EXEC_VM line per finished `onevm exec`, each sent once (onedock.host.execution)."""
    from onedock.host import execution

    execution.reap(probe.cfg.state_dir)
    results = execution.unreported(probe.cfg.state_dir)
    for result in results:
        execution.mark_reported(probe.cfg.state_dir, result.vmid)
    return "\n".join(result.line() for result in results)


PROBES = {
    ("host", "system"): host_system,
    ("host", "monitor"): host_monitor,
    ("host", "beacon"): host_beacon,
    ("vm", "monitor"): vm_monitor,
    ("vm", "status"): vm_state,
    ("vm", "execution"): vm_execution,
}


def run(cfg: Config, kind: tuple[str, str], argv: list[str], stdin: bytes) -> str:
    if len(argv) < 3:
        raise OneDockError("expected <im_mad> <host_id> <hostname>")
    host_id = argv[1]
    if not is_digits(host_id.removeprefix("-")):
        raise OneDockError(f"host id '{host_id[:20]}' is not a number")
    return PROBES[kind](Probe(cfg, int(host_id), argv[2], stdin))
