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
                               "jinja2"},
    "onedock.host.execution": {"http.client", "ssl", "onedock.config", "onedock.registry"},
    # VMM actions on a host: no registry client, no staging, no templates, no docker SDK
    "onedock.drivers.vmm": {"onedock.registry.client", "onedock.host.staging", "jinja2",
                            "tqdm", "docker", "onedock.install", *STDLIB_HTTP, *ONE_ACTION},
    # TM and DS actions on the front-end: no root helper, no templates, no docker SDK
    "onedock.drivers.tm": {"onedock.helper", "jinja2", "docker", "onedock.install",
                           "onedock.host.vm_container", *STDLIB_HTTP, *ONE_ACTION},
    "onedock.drivers.datastore": {"onedock.helper", "onedock.host", "jinja2", "docker",
                                  "onedock.install", *STDLIB_HTTP, *ONE_ACTION},
    # what a launcher execs first: argparse and the drivers only when an action needs them
    "onedock.shim": {"argparse", "onedock.config", "onedock.drivers", "http.client"},
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
