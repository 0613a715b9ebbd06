"""One ssh command line for every remote call (engine, root helper, VM directory)."""

from __future__ import annotations

import pytest

from onedock.errors import OneDockError
from onedock.helper.client import helper_argv
from onedock.transport import SshConnection, ssh_argv


def test_user_host_and_port_come_from_the_engine_url():
    argv = ssh_argv("ssh://oneadmin@node02:2222", "node02", ["rm", "-rf", "--", "/a b"])
    assert argv == ["ssh", "-o", "BatchMode=yes", "-p", "2222", "--", "oneadmin@node02",
                    "rm -rf -- '/a b'"]


def test_a_non_ssh_engine_is_reached_by_host_name():
    assert ssh_argv("tcp://node03:2375", "node03", ["true"])[-2:] == ["node03", "true"]


@pytest.mark.parametrize("host", ["-oProxyCommand=id", "a b", "x;id", ""])
def test_hostile_targets_are_refused(host):
    with pytest.raises(OneDockError, match="not a valid ssh host"):
        ssh_argv("unix:///run/docker.sock", host, ["true"])


def test_the_remote_command_is_one_quoted_word():
    argv = ssh_argv("ssh://node02", "node02", ["echo", "$(id)", "a;b"])
    assert argv[-1] == "echo '$(id)' 'a;b'"


def test_engine_and_helper_share_it():
    assert SshConnection("ssh://u@h:22", 5)._argv == ssh_argv("ssh://u@h:22", "", [
        "docker", "system", "dial-stdio"])
    argv, local = helper_argv(["sudo", "-n", "/usr/bin/onedock-nic"], "ssh://u@h:2200", "h")
    assert not local and argv == ssh_argv("ssh://u@h:2200", "h", [
        "sudo", "-n", "/usr/bin/onedock-nic"])
    assert helper_argv(["onedock-nic"], "unix:///run/docker.sock", "h") == (["onedock-nic"], True)
