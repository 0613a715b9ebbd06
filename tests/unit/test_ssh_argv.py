"""One ssh command line for every remote call (engine, root helper, VM directory)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from onedock.config import Config
from onedock.errors import OneDockError
from onedock.helper.client import helper_argv
from onedock.transport import SshConnection, ssh_argv, ssh_options


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


@pytest.fixture
def short_tmp():
    """A state_dir short enough for ssh's socket names (pytest's tmp_path often is not)."""
    path = tempfile.mkdtemp(prefix="od-ssh-")
    yield Path(path)
    shutil.rmtree(path)


def test_connection_sharing_uses_a_private_directory_of_this_user(short_tmp):
    tmp_path = short_tmp
    cfg = Config(state_dir=str(tmp_path), ssh_config="/etc/onedock/ssh_config", ssh_persist=45)
    options = ssh_options(cfg)
    control = tmp_path / f"ssh-{os.getuid()}"
    assert options == ("-F", "/etc/onedock/ssh_config", "-o", "ControlMaster=auto",
                       "-o", f"ControlPath={control}/%C", "-o", "ControlPersist=45")
    assert stat.S_IMODE(control.stat().st_mode) == 0o700
    argv = ssh_argv("ssh://node02", "node02", ["true"], options)
    assert argv[:len(options) + 1] == ["ssh", *options]


def test_no_sharing_when_off_or_when_the_directory_is_not_safe(short_tmp):
    tmp_path = short_tmp
    assert ssh_options(Config(state_dir=str(tmp_path), ssh_persist=0)) == ()
    control = tmp_path / f"ssh-{os.getuid()}"
    control.mkdir(mode=0o700)
    control.chmod(0o770)  # others could reach the master's socket
    assert ssh_options(Config(state_dir=str(tmp_path))) == ()
    control.chmod(0o700)
    assert ssh_options(Config(state_dir=str(tmp_path))) != ()  # the same directory, now safe
    control.rmdir()
    control.symlink_to(tmp_path)
    assert ssh_options(Config(state_dir=str(tmp_path))) == ()
    long_dir = tmp_path / ("d" * 40)
    assert ssh_options(Config(state_dir=str(long_dir))) == ()  # a socket path must fit sun_path
    assert not long_dir.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to hand the directory to another user")
def test_no_sharing_in_a_directory_someone_else_owns(short_tmp):
    tmp_path = short_tmp
    control = tmp_path / f"ssh-{os.getuid()}"
    control.mkdir(mode=0o700)
    os.chown(control, 65534, 65534)
    assert ssh_options(Config(state_dir=str(tmp_path))) == ()
