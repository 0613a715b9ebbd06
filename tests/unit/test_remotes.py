"""The remotes tree: sh launchers that find onedock's interpreter by the documented rule on
whichever machine runs them (onehost sync copies the tree as it is to every host)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import onedock
from onedock.drivers import datastore, tm, vmm
from onedock.install import remotes

VENV_BIN = str(Path(sys.executable).parent)


def write(dest: Path, python: str | None = None) -> Path:
    remotes.write(dest, python, agent=False)
    return dest


def run(script: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60)


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDOCK_PYTHON", "PYTHONPATH")}
    return {**env, **extra}


def test_every_action_of_the_drivers_has_a_launcher_and_nothing_else(tmp_path):
    dest = write(tmp_path)
    for family, table in (("datastore", {**datastore.ACTIONS, **datastore.STEPS}),
                          ("tm", tm.ACTIONS), ("vmm", vmm.ACTIONS)):
        found = {p.name for p in (dest / family / "onedock").iterdir()}
        assert found == set(table), family
        for name in found:
            assert os.access(dest / family / "onedock" / name, os.X_OK)
    assert {"exec", "exec_cancel"} <= set(vmm.ACTIONS)
    assert {"snap_create", "snap_revert", "snap_delete", "resize", "prebackup", "postbackup",
            "prebackup_live", "postbackup_live", "restore"} <= set(tm.ACTIONS)


def test_rewrite_is_idempotent_and_prunes_only_its_own_files(tmp_path):
    dest = write(tmp_path)
    before = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    stale = dest / "tm" / "onedock" / "old_action"
    stale.write_text((dest / "tm" / "onedock" / "clone").read_text())
    mine = dest / "tm" / "onedock" / "site-hook"
    mine.write_text("#!/bin/sh\necho operator's own\n")
    write(tmp_path)
    assert not stale.exists() and mine.exists()
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file() and p != mine} == before


def test_the_interpreter_that_wrote_the_tree_runs_it(tmp_path):
    script = write(tmp_path) / "datastore" / "onedock" / "stat"
    res = run(script, clean_env(PATH="/usr/bin:/bin"))
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("datastore/stat: "), res.stderr  # onedock itself answered


def test_onedock_python_wins_and_a_wrong_one_is_one_line(tmp_path):
    script = write(tmp_path) / "vmm" / "onedock" / "deploy"
    res = run(script, clean_env(ONEDOCK_PYTHON=sys.executable), "a", "b")
    assert res.returncode == 1 and res.stderr.startswith("vmm/deploy: "), res.stderr
    res = run(script, clean_env(ONEDOCK_PYTHON="/nonexistent/python3"))
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "ONEDOCK_PYTHON=/nonexistent/python3" in res.stderr


def test_elsewhere_the_first_python3_on_path_with_onedock(tmp_path):
    """A host where the front-end's interpreter does not exist: PATH is searched."""
    script = write(tmp_path, python="/nonexistent/bin/python3") / "tm" / "onedock" / "delete"
    res = run(script, clean_env(PATH=f"/usr/bin:{VENV_BIN}:/bin"))
    assert res.returncode == 1 and res.stderr.startswith("tm/delete: "), res.stderr


def test_a_host_without_onedock_says_what_to_install(tmp_path):
    """Nothing of the rule matches: the front-end's interpreter, the package's (made absent
    here, whatever this machine has installed) and PATH all lack onedock."""
    if subprocess.run(["/usr/bin/python3", "-I", "-c", "import onedock"],
                      capture_output=True).returncode == 0:
        pytest.skip("this machine's /usr/bin/python3 has onedock installed")
    tree = write(tmp_path)
    script = tree / "im" / "onedock-probes.d" / "host" / "system" / "onedock-system"
    script.write_text(remotes.launcher("monitoring probe host/system", "probe host system",
                                       "/nonexistent/bin/python3",
                                       package="/nonexistent/onedock/bin/python3"))
    res = run(script, clean_env(PATH="/usr/bin:/bin"), "onedock", "3", "node01")
    assert res.returncode == 1  # never 42: oned would re-copy the remotes forever
    assert res.stdout == "" and res.stderr.count("\n") == 1
    assert "onedock is not installed on" in res.stderr and ".deb" in res.stderr


def test_the_package_interpreter_comes_before_path(tmp_path):
    """The Debian package's fixed place wins over PATH (here: a stand-in that logs its use)."""
    stand_in = tmp_path / "pkg" / "python3"
    stand_in.parent.mkdir()
    log = tmp_path / "used"
    stand_in.write_text(f"#!/bin/sh\necho \"$@\" > {log}\nexit 7\n")
    stand_in.chmod(0o755)
    script = tmp_path / "stat"
    script.write_text(remotes.launcher("datastore action 'stat'", "driver",
                                       "/nonexistent/bin/python3", package=str(stand_in)))
    script.chmod(0o755)
    res = run(script, clean_env(PATH=f"{VENV_BIN}:/usr/bin:/bin"), "42")
    assert res.returncode == 7
    # the package's own interpreter runs without site, its package directory given
    assert log.read_text() == " ".join(["-I", "-S", "-c", remotes.SITE_CODE, remotes.PACKAGE_SITE,
                                        "driver", str(script), "42"]) + "\n"


def test_hostile_python_paths_are_refused():
    for bad in ("relative/python3", "/usr/bin/python3\n; reboot"):
        with pytest.raises(remotes.OneDockError):
            remotes.launcher("x", "driver", bad)
    text = remotes.launcher("x", "driver", "/opt/my python/bin/python3")
    assert "'/opt/my python/bin/python3'" in text  # quoted for sh


def test_only_known_interpreters_run_without_site_and_the_caller_cannot_say_where(tmp_path):
    """The front-end's own interpreter runs with -S and its package directories; one found on
    PATH keeps site, and a SITE in the caller's environment is not taken as directories."""
    tree = write(tmp_path)
    shim = (tree / "tm" / "onedock" / "delete").read_text()
    assert "-I -S -c" in shim and f"SITE={remotes._site_dirs(str(Path(onedock.__file__).parent))}" \
        in shim.replace("'", "")
    stand_in = tmp_path / "bin" / "python3"
    stand_in.parent.mkdir()
    log = tmp_path / "used"
    stand_in.write_text(f"#!/bin/sh\n[ \"$1 $2\" = '-I -c' ] && [ \"$3\" = 'import onedock' ] "
                        f"&& exit 0\necho \"$@\" > {log}\nexit 7\n")
    stand_in.chmod(0o755)
    script = tmp_path / "stat"
    script.write_text(remotes.launcher("datastore action 'stat'", "driver",
                                       "/nonexistent/bin/python3",
                                       package="/nonexistent/onedock/bin/python3"))
    script.chmod(0o755)
    res = run(script, clean_env(PATH=f"{stand_in.parent}:/usr/bin:/bin", SITE="/tmp/evil"), "1")
    assert res.returncode == 7
    assert log.read_text().split(" ")[:3] == ["-I", "-c", remotes.SHIM_CODE.split(" ")[0]]
    assert "/tmp/evil" not in log.read_text()
