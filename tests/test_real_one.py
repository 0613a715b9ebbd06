"""The whole user workflow under a real oned, when this machine has one (ONE_LOCATION or a
system install) with onedock installed and this machine reachable as its host over ssh."""

from __future__ import annotations

import os

import pytest

from sandbox import one_smoke


def test_user_workflow_under_a_real_oned(capsys):
    reason = one_smoke.why_not()
    if reason:
        pytest.skip(reason)
    host = os.environ.get("ONEDOCK_ONE_HOST", "localhost")
    rc = one_smoke.run(host)
    out = capsys.readouterr().out
    assert rc == 0, out[-3000:]
    assert "[FAIL]" not in out
