"""cli.guarded: the one place errors become exit codes for actions, probes, install, remotes."""

from __future__ import annotations

import pytest

from onedock.cli import guarded
from onedock.errors import OneDockError


def _raise(exc):
    def work():
        raise exc
    return work


@pytest.mark.parametrize("exc, line", [
    (OneDockError("no such image"), "tm/clone: no such image\n"),
    (KeyboardInterrupt(), "tm/clone: interrupted\n"),
    (PermissionError(13, "Permission denied", "/etc/x"), "tm/clone: Permission denied /etc/x\n"),
    (ValueError("bad"), "tm/clone: internal error: ValueError: bad\n"),
])
def test_every_failure_is_one_line_and_exit_1(capsys, monkeypatch, exc, line):
    monkeypatch.delenv("ONEDOCK_DEBUG", raising=False)
    assert guarded("tm/clone", _raise(exc)) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", line)


def test_onedock_debug_adds_the_traceback_of_a_bug(capsys, monkeypatch):
    monkeypatch.setenv("ONEDOCK_DEBUG", "1")
    assert guarded("vmm/deploy", _raise(KeyError("x"))) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("vmm/deploy: internal error: KeyError: 'x'\n")


def test_output_and_own_exit_codes_pass_through(capsys):
    assert guarded("vmm/deploy", lambda: "one-42") == 0
    assert capsys.readouterr().out == "one-42\n"
    assert guarded("onedock install host", lambda: 3) == 3
    assert guarded("x", lambda: None) == 0 and capsys.readouterr().out == ""
