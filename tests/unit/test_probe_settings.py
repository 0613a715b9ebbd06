"""What a probe reads from monitord's configuration on its stdin (onedock.monitor.probes):
plain or base64 XML, and nothing at all from a document that declares a DTD or entities."""

from __future__ import annotations

import base64

import pytest

from lab.shims import probe_config
from onedock.monitor.settings import settings as _settings

DEFAULTS = {"SYNC_STATE_VM": "180", "DATASTORE_LOCATION": "/var/lib/one//datastores"}


def test_elements_left_out_take_their_defaults():
    assert _settings(b"<MONITOR_CONFIGURATION/>") == DEFAULTS


@pytest.mark.parametrize("encode", [lambda b: b, base64.b64encode])
def test_monitord_configuration_as_it_writes_it(encode):
    stdin = encode(probe_config(sync=42, datastores="/srv/one/datastores"))
    assert _settings(stdin) == {"SYNC_STATE_VM": "42", "DATASTORE_LOCATION": "/srv/one/datastores"}


@pytest.mark.parametrize("stdin", [
    b"",
    b"not xml",
    b"<MONITOR_CONFIGURATION><PROBES_PERIOD>",
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "9999">]><MONITOR_CONFIGURATION>'
    b"<PROBES_PERIOD><SYNC_STATE_VM>&a;</SYNC_STATE_VM></PROBES_PERIOD></MONITOR_CONFIGURATION>",
    b'<!DOCTYPE m SYSTEM "file:///etc/passwd"><MONITOR_CONFIGURATION><DATASTORE_LOCATION>'
    b"/x</DATASTORE_LOCATION></MONITOR_CONFIGURATION>",
    b"<OTHER><PROBES_PERIOD><SYNC_STATE_VM>5</SYNC_STATE_VM></PROBES_PERIOD></OTHER>",
])
def test_what_is_not_a_plain_configuration_is_not_read(stdin):
    assert _settings(stdin) == {}
