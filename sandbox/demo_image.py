"""The sandbox's first image, built offline: busybox serving the VM's id on ports 80 and 8080.

The sandbox may have no internet, so the image a newcomer boots first comes from Debian's
busybox-static (lab.images), with its command and ports in the image's own config, and is
pushed into the front-end's registry, from where `oneimage create --path docker://...` copies
it as it would copy one from Docker Hub. Usage: python -m sandbox.demo_image REGISTRY NAME
"""

from __future__ import annotations

import json
import sys

from lab.documents import SERVE
from lab.images import busybox_rootfs

TAG = "1"


def build(registry: str, name: str) -> str:
    import docker

    client = docker.from_env()
    ref = f"{registry}/{name}"
    try:
        client.api.import_image_from_data(
            busybox_rootfs(), repository=ref, tag=TAG,
            changes=[f"CMD {json.dumps(json.loads(SERVE))}", "EXPOSE 80", "EXPOSE 8080"])
        for line in client.images.push(ref, tag=TAG, stream=True, decode=True):
            if line.get("error"):
                raise RuntimeError(f"push {ref}:{TAG}: {line['error']}")
    finally:
        client.close()
    return f"{ref}:{TAG}"


if __name__ == "__main__":
    try:
        print(build(sys.argv[1], sys.argv[2]))
    except Exception as exc:  # noqa: BLE001 - one line for the provisioning's log
        sys.exit(f"demo image: {exc}")
