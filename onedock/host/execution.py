"""Records of `onevm exec` commands on a host, shared by the VMM `exec` action and the
`vm/execution` probe (OpenNebula 7.2+).

oned learns only that a command started; its result reaches oned later through the probe as an
EXEC_VM line. The two sides are separate processes on the host (both run as oneadmin), so they
meet in files under `<state_dir>/exec/<vmid>/`:

- `request.json`: the Docker exec id and the user's stdin, for the runner; it deletes it first
- `running.json`: written by `exec` when the command starts: {"pid": runner pid, "exec_id", ...}
- `cancelled`: exec_cancel's mark, so the runner reports CANCELLED rather than DONE
- `result.json`: written atomically by the runner when the command ends:
  {"pid", "status" ("DONE" | "CANCELLED" | "ERROR"), "return_code", "stdout", "stderr"}
  (stdout/stderr base64, as oned stores them in QEMU_GA_EXEC)
- `reported`: the probe's mark that it sent result.json once; a new exec clears the directory.

The runner is a detached process (`python -m onedock.host.execution <dir> <engine>`): the VMM action
must answer at once (oned only learns "started"), and plain ssh returns only when every process
holding its session's descriptors is gone, so the runner holds none of them.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
import time
from typing import NamedTuple

from onedock import names
from onedock.errors import OneDockError
from onedock.state import private_dir, read_json, write_json

REQUEST, RUNNING, RESULT, REPORTED = "request.json", "running.json", "result.json", "reported"
CANCELLED = "cancelled"
# Bytes kept of stdout and of stderr. The result travels to monitord as one UDP datagram
# (EXEC_VM, base64 of zlib of the line): 2 x 16 KiB, base64'd twice, stays under 64 KiB even
# for output that does not compress.
MAX_OUTPUT = 16 << 10
MAX_STDIN = 64 << 10  # decoded: base64 on ssh's argv, where one string may hold 128 KiB
MAX_COMMAND = 64 << 10
KEEP_REPORTED = 86400  # s a reported result stays before the probe removes its directory
SHELL = "/bin/sh"


class ExecResult(NamedTuple):
    vmid: int
    pid: int
    status: str
    return_code: int
    stdout: str  # base64
    stderr: str  # base64

    def line(self) -> str:
        """The EXEC_VM probe line oned merges into TEMPLATE/QEMU_GA_EXEC."""
        return (f'VM = [ ID="{self.vmid}", PID="{self.pid}", STATUS="{self.status}", '
                f'RETURN_CODE="{self.return_code}", STDOUT="{self.stdout}", '
                f'STDERR="{self.stderr}" ]')


def folder(state_dir: str, vmid: int) -> str:
    return os.path.join(state_dir, "exec", str(vmid))


def write_result(state_dir: str, result: ExecResult) -> None:
    data = result._asdict()
    data.pop("vmid")
    write_json(os.path.join(folder(state_dir, result.vmid), RESULT), data)


def unreported(state_dir: str) -> list[ExecResult]:
    """Finished commands the probe has not reported yet, by VM id."""
    root = os.path.join(state_dir, "exec")
    try:
        entries = sorted(os.listdir(root), key=lambda e: (len(e), e))
    except OSError:
        return []
    out = []
    for entry in entries:
        if not (entry.isascii() and entry.isdigit() and len(entry) < 10):
            continue
        base = os.path.join(root, entry)
        if os.path.exists(os.path.join(base, REPORTED)):
            continue
        data = read_json(os.path.join(base, RESULT))
        if data is None:
            continue
        try:
            out.append(ExecResult(int(entry), int(data["pid"]), str(data["status"]),
                                  int(data["return_code"]), str(data["stdout"]),
                                  str(data["stderr"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def mark_reported(state_dir: str, vmid: int) -> None:
    path = os.path.join(folder(state_dir, vmid), REPORTED)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))


def _alive(pid: int) -> bool:
    """Is pid a runner of ours? A reused pid after a reboot runs something else."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"onedock.host.execution" in handle.read()
    except OSError:
        return False


def _clear(base: str) -> None:
    for name in (REQUEST, RUNNING, RESULT, REPORTED, CANCELLED):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(base, name))


class Execution:
    """The `onevm exec` of one VM on this host: started by `exec`, ended by the command or by
    `exec_cancel`, reported once by the vm/execution probe. One at a time per VM, as oned
    allows (a VM whose QEMU_GA_EXEC is EXECUTING refuses the next exec)."""

    def __init__(self, state_dir: str, docker_url: str, vmid: int, timeout: float = 60.0):
        from onedock.engine.client import Engine

        self.state_dir = state_dir
        self.vmid = vmid
        self.dir = folder(state_dir, vmid)
        self.container = names.container(vmid)
        self.engine = Engine(docker_url, timeout, "this host")
        self.docker_url = docker_url

    def start(self, command: str, stdin_b64: str | None) -> None:
        if not command.strip():
            raise OneDockError("the command to run is empty")
        try:
            size = len(command.encode())
        except UnicodeEncodeError:
            raise OneDockError("the command is not valid UTF-8") from None
        if size > MAX_COMMAND:
            raise OneDockError(f"the command is longer than {MAX_COMMAND >> 10} KiB")
        stdin = _stdin(stdin_b64)
        self._running_container()
        running = read_json(os.path.join(self.dir, RUNNING))
        if running and read_json(os.path.join(self.dir, RESULT)) is None \
                and _alive(int(running.get("pid", 0))):
            raise OneDockError(f"a command is already running in VM {self.vmid}",
                               hint="wait for it to end or cancel it (onevm exec-cancel)")
        private_dir(os.path.dirname(self.dir))
        private_dir(self.dir)
        exec_id = self.engine.exec_create(self.container, [SHELL, "-c", command], bool(stdin))
        _clear(self.dir)
        write_json(os.path.join(self.dir, REQUEST),
                   {"exec_id": exec_id, "stdin": base64.b64encode(stdin).decode()})
        import subprocess

        runner = subprocess.Popen(
            [sys.executable, "-I", "-m", "onedock.host.execution", self.dir, self.docker_url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
        write_json(os.path.join(self.dir, RUNNING),
                   {"pid": runner.pid, "exec_id": exec_id, "started": int(time.time())})

    def cancel(self, grace: float = 5.0) -> None:
        """Signal the command in the container (TERM, then KILL); done already is success."""
        running = read_json(os.path.join(self.dir, RUNNING))
        if running is None:
            raise OneDockError(f"no command of onevm exec is running in VM {self.vmid}")
        if read_json(os.path.join(self.dir, RESULT)) is not None:
            return  # it ended, or a retried cancel: nothing left to stop
        info = self.engine.exec_inspect(str(running.get("exec_id", "")))
        if info is None or not info.running:
            self._await_result(grace)
            return
        write_json(os.path.join(self.dir, CANCELLED), {"at": int(time.time())})
        pid = _container_pid(info.pid)
        for signal in ("TERM", "KILL"):
            self._signal(pid, signal)
            if self._await_result(grace):
                return
        raise OneDockError(f"the command in VM {self.vmid} did not end on SIGKILL")

    def _signal(self, pid: int, signal: str) -> None:
        kill = self.engine.exec_create(
            self.container, [SHELL, "-c", 'kill -s "$1" "$2"', "kill", signal, str(pid)], False)
        self.engine.exec_attached(kill, b"", 4096)

    def _await_result(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if os.path.exists(os.path.join(self.dir, RESULT)):
                return True
            time.sleep(0.1)
        return False

    def _running_container(self) -> None:
        box = self.engine.container_inspect(self.container)
        if box is None:
            raise OneDockError(f"VM {self.vmid} has no container on this host")
        if not box.running:
            raise OneDockError(f"VM {self.vmid} is not running",
                               hint="onevm exec needs a RUNNING VM")


def _stdin(value: str | None) -> bytes:
    if not value:
        return b""
    if len(value) > (MAX_STDIN + 2) // 3 * 4:
        raise OneDockError(f"stdin is larger than {MAX_STDIN >> 10} KiB")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise OneDockError("stdin is not valid base64") from exc


def _container_pid(host_pid: int) -> int:
    """The exec's pid inside the container's pid namespace (NSpid's last field)."""
    try:
        with open(f"/proc/{host_pid}/status") as handle:
            for line in handle:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    raise OneDockError(f"cannot read /proc/{host_pid}/status of the running command",
                       hint="is /proc mounted with hidepid on this host?")


def reap(state_dir: str, now: float | None = None) -> None:
    """For the probe: a runner that died (host reboot, killed) reports ERROR, not EXECUTING
    forever; reported results older than KEEP_REPORTED go."""
    root = os.path.join(state_dir, "exec")
    now = time.time() if now is None else now
    try:
        entries = os.listdir(root)
    except OSError:
        return
    for entry in entries:
        if not (entry.isascii() and entry.isdigit() and len(entry) < 10):
            continue
        base = os.path.join(root, entry)
        try:
            if now - os.stat(os.path.join(base, REPORTED)).st_mtime > KEEP_REPORTED:
                _clear(base)
                os.rmdir(base)
            continue
        except FileNotFoundError:
            pass
        except OSError:
            continue
        running = read_json(os.path.join(base, RUNNING))
        if running is None or os.path.exists(os.path.join(base, RESULT)):
            continue
        try:
            pid = int(running.get("pid", 0))
        except (TypeError, ValueError):
            pid = 0
        if not _alive(pid):
            why = base64.b64encode(b"onedock: the command's runner ended without a result "
                                   b"(was the host rebooted?)\n").decode()
            write_result(state_dir, ExecResult(int(entry), pid, "ERROR", -1, "", why))


def _run(base: str, docker_url: str) -> None:
    """The runner: start the exec, wait for its end, write result.json."""
    from onedock.engine.client import Engine

    request = read_json(os.path.join(base, REQUEST)) or {}
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(base, REQUEST))  # the user's stdin is not kept on disk
    vmid, pid = int(os.path.basename(base)), os.getpid()
    state_dir = os.path.dirname(os.path.dirname(base))
    engine = Engine(docker_url, 60.0, "this host")
    try:
        exec_id = str(request["exec_id"])
        stdout, stderr = engine.exec_attached(exec_id, base64.b64decode(request["stdin"]),
                                              MAX_OUTPUT)
        info = engine.exec_inspect(exec_id)
        code = info.exit_code if info is not None else None
        status = "CANCELLED" if os.path.exists(os.path.join(base, CANCELLED)) else "DONE"
        result = ExecResult(vmid, pid, status, -1 if code is None else code,
                            base64.b64encode(stdout).decode(), base64.b64encode(stderr).decode())
    except (OneDockError, KeyError, ValueError, OSError) as exc:
        result = ExecResult(vmid, pid, "ERROR", -1, "",
                            base64.b64encode(f"onedock: {exc}\n".encode()).decode())
    write_result(state_dir, result)


if __name__ == "__main__":
    _run(sys.argv[1], sys.argv[2])
