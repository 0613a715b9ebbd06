"""Each TM and VMM action declares oned's argv once; the table enforces it."""

from __future__ import annotations

import pytest

from onedock.drivers import tm, vmm
from onedock.drivers.actions import Actions
from onedock.errors import OneDockError


def table():
    actions = Actions()

    @actions("a b [c]")
    def opt(cfg, a, b, c=None):
        return f"{a}{b}{c}"

    @actions("files... host vmid", names=("ctx", "ctx2"))
    def ctx(cfg, *argv):
        return ",".join(argv)

    return actions


def test_counts_optional_and_variadic():
    actions = table()
    assert actions["opt"](None, ["1", "2"]) == "12None"
    assert actions["opt"](None, ["1", "2", "3"]) == "123"
    assert actions["ctx"](None, ["f", "g", "h", "7"]) == "f,g,h,7"
    assert actions["ctx2"] is actions["ctx"]


@pytest.mark.parametrize("name,argv,said", [
    ("opt", ["1"], "expected 2 to 3 arguments (a b [c]), got 1"),
    ("opt", ["1", "2", "3", "4"], "expected 2 to 3 arguments (a b [c]), got 4"),
    ("ctx", ["h", "7"], "expected 3 or more arguments (files... host vmid), got 2"),
])
def test_wrong_counts_are_one_line(name, argv, said):
    with pytest.raises(OneDockError) as err:
        table()[name](None, argv)
    assert str(err.value) == said


def test_oned_argv_counts_of_the_drivers():
    """Counts from the digest (§4.4, §5): a change here is a protocol change."""
    expect_tm = {"clone": 4, "ln": 4, "mkimage": 5, "mkswap": 4, "delete": 3, "mv": 4,
                 "mvds": 4, "cpds": 5, "premigrate": 5, "postmigrate": 5, "failmigrate": 5,
                 "snap_create": 4, "resize": 4, "prebackup": 6, "prebackup_live": 6,
                 "postbackup_live": 6, "restore": 5}
    expect_vmm = {"deploy": 4, "shutdown": 4, "cancel": 4, "save": 5, "restore": 5,
                  "migrate": 5, "attach_disk": 7, "detach_disk": 6, "attach_nic": 8,
                  "detach_nic": 4, "reconfigure": 5, "snapshot_create": 4, "resize": 3,
                  "resize_disk": 7, "exec_cancel": 2}
    for actions, expect in ((tm.ACTIONS, expect_tm), (vmm.ACTIONS, expect_vmm)):
        for name, count in expect.items():
            assert len(actions[name].usage.split()) == count, name
    assert vmm.ACTIONS["exec"].usage == "vmid host command [stdin]"
    assert tm.ACTIONS["ln"] is tm.ACTIONS["clone"]
