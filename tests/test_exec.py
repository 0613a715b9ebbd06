"""`onevm exec` (7.2+): VMM exec/exec_cancel with oned's argv, the result through the
vm/execution probe as an EXEC_VM line (digest §3.3, §4.4, §7.5), in a real container."""

from __future__ import annotations

import base64
import os
import re
import signal
import time

import pytest

from lab.documents import vm_xml
from tests.conftest import HOST
from tests.helpers import conf_with
from tests.test_vmm import deploy

LINE = re.compile(r'VM = \[ ID="(\d+)", PID="(\d+)", STATUS="(\w+)", RETURN_CODE="(-?\d+)", '
                  r'STDOUT="([A-Za-z0-9+/=]*)", STDERR="([A-Za-z0-9+/=]*)" \]')


@pytest.fixture
def env(shims, conf, tmp_path):
    """The actions and the probe share state_dir, as on a host: a private one per test."""
    path = tmp_path / "exec.conf"
    path.write_text(conf_with(conf.read_text(), state_dir=f"{tmp_path}/state"))
    return dict(shims.env, ONEDOCK_CONF=str(path))


@pytest.fixture
def running(shims, bridges, staged, image_source):
    res = deploy(shims, staged, vm_xml(staged, image_source, bridges[0], 60))
    assert res.rc == 0, res.stderr
    return staged


def exec_(shims, env, vmid, command, stdin: bytes | None = None):
    argv = [str(vmid), HOST, command] + ([base64.b64encode(stdin).decode()] if stdin else [])
    return shims.vmm("exec", *argv, stdin=b"<VM><ID>%d</ID></VM>" % vmid, env=env)


def cancel(shims, env, vmid):
    return shims.vmm("exec_cancel", str(vmid), HOST, env=env)


def probe(shims, env) -> str:
    res = shims.probe("vm", "execution", host=HOST, host_id=3, stdin=b"", env=env)
    assert (res.rc, res.stderr) == (0, ""), res.stderr
    return res.stdout


def result(shims, env, vmid, timeout: float = 20.0) -> dict:
    """Poll the probe as monitord does (every EXEC_VM seconds) until the VM's line comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in probe(shims, env).splitlines():
            match = LINE.fullmatch(line)
            assert match, line
            if int(match.group(1)) == vmid:
                _, pid, status, code, out, err = match.groups()
                return {"pid": int(pid), "status": status, "code": int(code),
                        "stdout": base64.b64decode(out), "stderr": base64.b64decode(err)}
        time.sleep(0.2)
    raise AssertionError(f"no EXEC_VM line for VM {vmid} in {timeout} s")


def test_exec_reports_status_output_and_return_code_once(shims, env, running):
    started = time.monotonic()
    res = exec_(shims, env, running, "echo hello from $HOSTNAME; echo oops >&2; sleep 1; exit 3")
    assert (res.rc, res.stdout, res.stderr) == (0, "", "")
    assert time.monotonic() - started < 3  # oned only learns "started": no waiting for the end
    got = result(shims, env, running)
    assert got["status"] == "DONE" and got["code"] == 3
    assert got["stdout"] == f"hello from vm{running}\n".encode()
    assert got["stderr"] == b"oops\n"
    assert str(running) not in probe(shims, env)  # sent once: monitord keeps it


def test_exec_feeds_stdin_and_runs_inside_the_container(shims, env, running, docker_client):
    marker = f"/tmp/onedock-exec-{running}"
    command = f"cat; touch {marker}; id -u"
    assert exec_(shims, env, running, command, b"line 1\nline 2\n").rc == 0
    got = result(shims, env, running)
    assert got["stdout"] == b"line 1\nline 2\n0\n" and got["code"] == 0
    assert not os.path.exists(marker)  # the host's shell never saw the command
    box = docker_client.containers.get(f"one-{running}")
    assert box.exec_run(["sh", "-c", f"test -e {marker}"]).exit_code == 0


def test_output_is_cut_to_fit_one_datagram(shims, env, running):
    from onedock.host.execution import MAX_OUTPUT

    assert exec_(shims, env, running, "yes | head -c 1000000").rc == 0
    got = result(shims, env, running)
    assert got["code"] == 0 and len(got["stdout"]) == MAX_OUTPUT


def test_one_command_at_a_time_and_cancel(shims, env, running):
    assert exec_(shims, env, running, "sleep 300").rc == 0
    second = exec_(shims, env, running, "echo again")
    assert second.rc == 1 and "already running" in second.error_line
    assert probe(shims, env) == ""  # still running: nothing to report
    started = time.monotonic()
    res = cancel(shims, env, running)
    assert (res.rc, res.stderr) == (0, "")
    got = result(shims, env, running)
    assert got["status"] == "CANCELLED" and got["code"] == 143  # SIGTERM
    assert time.monotonic() - started < 10
    assert cancel(shims, env, running).rc == 0  # a retried cancel: done already
    assert exec_(shims, env, running, "echo again").rc == 0  # the VM takes commands again
    assert result(shims, env, running)["stdout"] == b"again\n"


def test_a_runner_that_dies_reports_error(shims, env, running, tmp_path):
    from onedock.host.execution import read_json

    assert exec_(shims, env, running, "sleep 300").rc == 0
    record = read_json(str(tmp_path / "state" / "exec" / str(running) / "running.json"))
    os.kill(record["pid"], signal.SIGKILL)
    got = result(shims, env, running)
    assert got["status"] == "ERROR" and b"runner ended without a result" in got["stderr"]


def test_exec_of_a_stopped_vm_is_refused(shims, env, running, docker_client):
    docker_client.containers.get(f"one-{running}").stop(timeout=1)
    res = exec_(shims, env, running, "echo hi")
    assert res.rc == 1 and "is not running" in res.error_line
    assert probe(shims, env) == ""
