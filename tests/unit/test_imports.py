"""Start-up budget by imports: every action and probe is a fresh process, so what it imports is
what it pays before any work. Each entry point here must not load what it does not use (the
numbers are in bench/startup.py; this only keeps the shape). No engine, no root needed."""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

# http.client imports the email package; ssl is for TLS registries only (onedock.http1)
STDLIB_HTTP = {"http.client", "email", "ssl"}
# what only some actions need: each imports it where it is used
ONE_ACTION = {"tarfile", "concurrent.futures", "pathlib"}
# the config is parsed once per change of the file, not by every process (config._Cache)
ONE_ACTION |= {"tomllib", "hashlib", "ctypes"}
# engines and registries are reached through onedock.sockets and onedock.urls (each costs
# several ms of start-up); only a peer's own URLs (redirects, upload locations) load urllib
ONE_ACTION |= {"socket", "urllib.parse", "ipaddress", "threading", "subprocess"}

# entry point -> modules it must not load
BUDGET = {
    # the root helper runs under sudo: nothing but its own code and the error type
    "onedock.helper.root": {"onedock.config", "onedock.engine", "onedock.transport", "tomllib",
                            "http.client",
                    "onedock.one", "onedock.registry"},
    # probes run every few seconds on every host: no HTTP/TLS stack, no registry, no tar; the
    # engine's views (which import nothing) but not its client
    "onedock.monitor.probes": {"http.client", "ssl", "email", "tarfile", "onedock.engine.client",
                               "onedock.transport", "onedock.registry", "onedock.host.staging",
                               "jinja2", "tomllib", "dataclasses", "typing"},
    "onedock.host.execution": {"http.client", "ssl", "onedock.config", "onedock.registry"},
    # VMM actions on a host: no registry client, no staging, no templates, no docker SDK
    "onedock.drivers.vmm": {"onedock.registry.client", "onedock.host.staging", "jinja2",
                            "tqdm", "docker", "onedock.install", *STDLIB_HTTP, *ONE_ACTION},
    # TM and DS actions on the front-end: no root helper, no templates, no docker SDK
    "onedock.drivers.tm": {"onedock.helper", "jinja2", "docker", "onedock.install",
                           "onedock.host.vm_container", *STDLIB_HTTP, *ONE_ACTION},
    "onedock.drivers.datastore": {"onedock.helper", "onedock.host", "jinja2", "docker",
                                  "onedock.engine.client",
                                  "onedock.install", *STDLIB_HTTP, *ONE_ACTION},
    # what a launcher execs first: argparse and the drivers only when an action needs them
    "onedock.cli": {"argparse", "onedock.config", "onedock.drivers", "http.client", "runpy"},
}


ROOT = str(Path(__file__).resolve().parents[2])
# no site (-S): an editable install's finder would load pathlib and more into every process,
# which the installed package (/usr/bin/python3, dist-packages) does not
PATHS = [ROOT, *site.getsitepackages()]


def loaded(module: str = "sys") -> set[str]:
    code = (f"import sys, json; sys.path[:0] = {PATHS!r}; import {module}; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("module", sorted(BUDGET))
def test_entry_point_loads_nothing_it_does_not_use(module):
    found = loaded(module)
    over = sorted(name for name in found for banned in BUDGET[module]
                  if name == banned or name.startswith(banned + "."))
    assert over == [], f"{module} loads {over}"


# what a probe process may load while it runs, beyond its imports: the engine is reached over a
# bare socket and monitord's XML read with expat (probes run every few seconds on every host)
PROBE_RUN_BANS = {"typing", "xml.etree", "defusedxml", "urllib", "socket", "tomllib",
                  "onedock.one.xmldoc", "onedock.engine.client", "onedock.registry"}


@pytest.mark.parametrize("probe", ["status", "monitor"])
def test_a_probe_process_loads_only_what_it_uses(tmp_path, probe):
    conf = tmp_path / "onedock.conf"
    conf.write_text(f'local_docker = "unix://{tmp_path}/no-engine.sock"\n'
                    f'state_dir = "{tmp_path}/state"\n')
    script = tmp_path / "im" / "onedock-probes.d" / "vm" / probe / "p"
    code = (f"import sys, json; sys.path[:0] = {PATHS!r}; "
            "from onedock.cli import probe_main; "
            f"probe_main({str(script)!r}, 'vm', {probe!r}, ['onedock', '3', 'node01']); "
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    for _ in range(2):  # the second run finds the parsed config cached, as every later one
        done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                              text=True, timeout=60, input="<MONITOR_CONFIGURATION/>",
                              env={"ONEDOCK_CONF": str(conf), "PATH": "/usr/bin:/bin"})
    assert "unreachable" in done.stderr  # it ran as far as the engine, which is not there
    found = json.loads(done.stderr.strip().splitlines()[-1])
    over = sorted(name for name in found for banned in PROBE_RUN_BANS
                  if name == banned or name.startswith(banned + "."))
    assert over == [], f"vm/{probe} loads {over}"
