"""The privileged part of onedock: a VM's NICs and hot-plugged disks inside its container.

Containers run unprivileged, so whatever needs root on the host is here and only here, behind
one wall: `requests` (typed requests, shared by both sides), `root` (what runs as root, as
`sudo -n onedock-nic`, or in-process when the action already is root), `client` (how the
unprivileged side calls it). root imports nothing of onedock but requests and errors.
"""
