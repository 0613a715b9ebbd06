"""Which OpenNebula a sandbox installs from OpenNebula's package repository, and from where.

The pairs are the releases and distributions OpenNebula publishes packages for (its
repository's `repo/<release>/<Distro>/<version>` layout, signed with repo2.key). A pair outside
this table is refused before anything is installed.
"""

from __future__ import annotations

from onedock.errors import OneDockError

REPOSITORY = "https://downloads.opennebula.io/repo"
KEY_URL = f"{REPOSITORY}/repo2.key"
KEYRING = "/etc/apt/keyrings/opennebula.asc"
DISTROS = {"debian12": "Debian/12", "ubuntu2204": "Ubuntu/22.04", "ubuntu2404": "Ubuntu/24.04"}
SUPPORTED = {
    "6.10": ("debian12", "ubuntu2204", "ubuntu2404"),
    "7.0": ("debian12", "ubuntu2204", "ubuntu2404"),
    "7.2": ("debian12", "ubuntu2404"),
    "7.4": ("debian12", "ubuntu2404"),
}
DEFAULT = "7.4"
# the front-end as OpenNebula's Debian/Ubuntu guide installs it
FRONTEND_PACKAGES = ("opennebula", "opennebula-fireedge", "opennebula-gate", "opennebula-flow")


def pairs() -> str:
    return ", ".join(f"{v} on {d}" for v, ds in SUPPORTED.items() for d in ds)


def repository_line(version: str, distro: str) -> str:
    """The apt source of `version` for `distro`, or a one-line refusal naming what exists."""
    if distro not in SUPPORTED.get(version, ()):
        raise OneDockError(f"OpenNebula {version[:20]} has no packages for {distro[:20]}",
                           hint=f"supported: {pairs()}")
    return f"deb [signed-by={KEYRING}] {REPOSITORY}/{version}/{DISTROS[distro]} stable opennebula"
# what a self-contained build of OpenNebula (install.sh -d DIR) needs at run time on Debian 12:
# oned's libraries, the Ruby of its CLI and drivers, and the tools its drivers call
SOURCE_RUNTIME_PACKAGES = (
    "ruby", "ruby-nokogiri", "ruby-sqlite3", "ruby-xmlrpc", "ruby-json", "ruby-rexml",
    "libxmlrpc-c++8v5", "libsqlite3-0", "libxml2", "libssl3", "libcurl4", "openssh-client",
    "openssh-server", "rsync", "sudo", "sqlite3", "bridge-utils", "iproute2", "curl",
)
# what a host needs for OpenNebula's host-side scripts (monitord's client, network drivers)
HOST_PACKAGES = ("ruby", "ruby-sqlite3", "rsync", "sudo", "iproute2", "openssh-server")
