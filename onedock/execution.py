"""Records of `onevm exec` commands on a host, shared by the VMM `exec` action and the
`vm/execution` probe (OpenNebula 7.2+).

oned learns only that a command started; its result reaches oned later through the probe as an
EXEC_VM line. The two sides are separate processes on the host (both run as oneadmin), so they
meet in files under `<state_dir>/exec/<vmid>/`:

- `running.json`: written by `exec` when the command starts: {"pid": runner pid, "started": t}
- `result.json`: written atomically by the runner when the command ends:
  {"pid", "status" ("DONE" | "CANCELLED" | "ERROR"), "return_code", "stdout", "stderr"}
  (stdout/stderr base64, as oned stores them in QEMU_GA_EXEC)
- `reported`: the probe's mark that it sent result.json once; a new exec clears the directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

RUNNING, RESULT, REPORTED = "running.json", "result.json", "reported"
MAX_OUTPUT = 64 << 10  # bytes kept of stdout and of stderr: oned stores them in the VM template


@dataclass(frozen=True)
class ExecResult:
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


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def read_json(path: str) -> dict | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_result(state_dir: str, result: ExecResult) -> None:
    data = asdict(result)
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
