#!/bin/bash
# `vagrant up` without invoke: install what the box lacks, onedock from the wheelhouse
# `invoke sandbox.wheels` (or `invoke sandbox.up --backend vagrant`) left in the checkout, then
# let the package render provision/ and provision this machine the way the invoke task does.
# Only without a wheelhouse does it fall back to the package index, and says so.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
WHEELS=/vagrant/.vagrant/onedock/wheels
need=()
for pkg in docker.io docker-registry busybox-static python3-venv iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -x /opt/onedock/bin/python ] || python3 -m venv /opt/onedock
if compgen -G "$WHEELS/onedock-*.whl" >/dev/null; then
  echo "    onedock from the wheelhouse in $WHEELS (no package index needed)"
  /opt/onedock/bin/pip install --quiet --no-index --find-links "$WHEELS" "onedock[test]"
  /opt/onedock/bin/pip install --quiet --no-index --force-reinstall --no-deps "$WHEELS"/onedock-*.whl
else
  echo "    no wheelhouse in $WHEELS (run \`invoke sandbox.wheels\` on the host to work offline):" \
       "installing from the package index"
  /opt/onedock/bin/pip install --quiet "/vagrant[test]"
fi
cd /vagrant && ONEDOCK_WHEELS="$WHEELS" exec /opt/onedock/bin/python -m sandbox.guest
