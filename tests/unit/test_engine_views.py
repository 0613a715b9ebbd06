"""The engine's two shapes of a container read through one view, and the one status table."""

from __future__ import annotations

import pytest

from onedock.engine.views import ContainerInfo, ExecInfo, ImageInfo, VolumeInfo
from onedock.errors import (
    Conflict,
    Denied,
    NoCpuQuota,
    NotFound,
    OneDockError,
    RateLimited,
    for_status,
)

INSPECT = {"Id": "c1", "Name": "/one-7", "Image": "sha256:img",
           "State": {"Status": "paused", "Running": True, "Pid": 4242},
           "Config": {"Labels": {"org.opennebula.onedock.vmid": "7"}, "Image": "one-7:disk.0"},
           "Mounts": [{"Name": "one-7-disk-2"}, {"Type": "bind"}]}
LISTED = {"Id": "c1", "Names": ["/one-7"], "Image": "one-7:disk.0", "ImageID": "sha256:img",
          "State": "paused", "Labels": {"org.opennebula.onedock.vmid": "7"}, "Created": 1700}


@pytest.mark.parametrize("raw", [INSPECT, LISTED], ids=["inspect", "list"])
def test_inspect_and_list_read_alike(raw):
    box = ContainerInfo(raw)
    assert (box.id, box.name, box.status, box.running) == ("c1", "one-7", "paused", True)
    assert box.labels == {"org.opennebula.onedock.vmid": "7"}
    assert box.image_id == "sha256:img"


def test_container_fields_only_inspect_has():
    assert ContainerInfo(INSPECT).pid == 4242
    assert ContainerInfo(INSPECT).mounted_volumes == {"one-7-disk-2"}
    assert ContainerInfo(LISTED).created == 1700 and ContainerInfo(INSPECT).created == 0


@pytest.mark.parametrize("state,running", [("running", True), ("restarting", True),
                                           ("exited", False), ("created", False), ("", False)])
def test_a_listed_container_runs_as_docker_says(state, running):
    assert ContainerInfo({"State": state}).running is running


def test_missing_fields_are_empty_not_errors():
    box = ContainerInfo({})
    assert (box.id, box.name, box.status, box.running, box.pid, box.labels) == (
        "", "", "", False, 0, {})
    image = ImageInfo({"Config": None})
    assert (image.tags, image.digests, image.labels, image.volumes, image.parent) == (
        [], [], {}, [], "")
    assert VolumeInfo({"Labels": None}).labels == {}
    assert ExecInfo({}).exit_code is None and ExecInfo({"ExitCode": 3}).exit_code == 3


def test_image_volumes_sorted():
    image = ImageInfo({"Config": {"Volumes": {"/var/lib/b": {}, "/data": {}}}})
    assert image.volumes == ["/data", "/var/lib/b"]


@pytest.mark.parametrize("status,kind", [(401, Denied), (403, Denied), (404, NotFound),
                                         (409, Conflict), (429, RateLimited), (500, OneDockError)])
def test_one_status_table(status, kind):
    error = for_status(status, "x answered")
    assert type(error) is kind and str(error) == "x answered"


def test_no_cfs_quota_is_recognised_whatever_the_status():
    text = "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler"
    assert type(for_status(400, text)) is NoCpuQuota
    assert type(for_status(500, text)) is NoCpuQuota
