#!/bin/bash
# `vagrant up` without invoke: install what the box lacks, onedock from /vagrant, then let
# the package render provision/ and provision this machine the way the invoke task does.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in docker.io docker-registry busybox-static python3-venv iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -x /opt/onedock/bin/python ] || python3 -m venv /opt/onedock
/opt/onedock/bin/pip install --quiet "/vagrant[test]"
cd /vagrant && exec /opt/onedock/bin/python -m sandbox.guest
