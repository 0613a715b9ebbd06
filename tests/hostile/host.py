"""The host before and after a case: engines, interfaces, the private registry."""


from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import docker.errors

from tests.hostile.cases import Lab

# -- snapshots of the host ------------------------------------------------------------------

def _get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return {"status": err.code}


def _engine_state(client) -> tuple:
    api = client.api
    containers = frozenset((c["Names"][0], c["State"]) for c in api.containers(all=True))
    images = frozenset((i["Id"], tuple(sorted(i.get("RepoTags") or ()))) for i in api.images())
    volumes = frozenset(v["Name"] for v in api.volumes().get("Volumes") or ())
    return containers, images, volumes


def snapshot(lab: Lab) -> dict:
    catalog = _get_json(f"http://{lab.private.host}/v2/_catalog?n=100000").get(
        "repositories") or []
    return {
        "engine": _engine_state(lab.docker),
        "engine2": _engine_state(lab.engine2.client),
        "interfaces": frozenset(os.listdir("/sys/class/net")),
        "registry": {repo: tuple(sorted(_get_json(
            f"http://{lab.private.host}/v2/{repo}/tags/list").get("tags") or ()))
            for repo in catalog},
    }


def restore(lab: Lab, before: dict, after: dict) -> None:
    """Undo what a failing case left, so that one bug does not cascade into other cases."""
    for key, client in (("engine", lab.docker), ("engine2", lab.engine2.client)):
        (c0, i0, v0), (c1, i1, v1) = before[key], after[key]
        for name, _ in c1 - c0:
            if name not in {n for n, _ in c0}:
                with contextlib.suppress(docker.errors.APIError):
                    client.api.remove_container(name.lstrip("/"), force=True)
        old_tags = {t for _, tags in i0 for t in tags}
        old_ids = {i for i, _ in i0}
        for image_id, tags in i1 - i0:
            for tag in tags:
                if tag not in old_tags and tag != "<none>:<none>":
                    with contextlib.suppress(docker.errors.APIError):
                        client.api.remove_image(tag, noprune=False)
            if image_id not in old_ids:
                with contextlib.suppress(docker.errors.APIError):
                    client.api.remove_image(image_id, force=True)
        for name in v1 - v0:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_volume(name, force=True)
    for name in after["interfaces"] - before["interfaces"]:
        if name.startswith(("one-", "odp")):
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
    storage = Path(lab.private.storage) / "docker" / "registry" / "v2" / "repositories"
    for repo, tags in after["registry"].items():
        if repo not in before["registry"]:
            shutil.rmtree(storage / repo, ignore_errors=True)
            continue
        for tag in set(tags) - set(before["registry"][repo]):
            shutil.rmtree(storage / repo / "_manifests" / "tags" / tag, ignore_errors=True)


def _changes(before: dict, after: dict) -> dict:
    out = {}
    for key in before:
        if before[key] != after[key]:
            if isinstance(before[key], dict):
                out[key] = {k: (before[key].get(k), after[key].get(k))
                            for k in set(before[key]) | set(after[key])
                            if before[key].get(k) != after[key].get(k)}
            elif isinstance(before[key], tuple):
                out[key] = [(sorted(b - a), sorted(a - b))
                            for b, a in zip(before[key], after[key], strict=True) if b != a]
            else:
                out[key] = (sorted(before[key] - after[key]), sorted(after[key] - before[key]))
    return out


