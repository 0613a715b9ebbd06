"""What a VM is on a host: its container (vm_container, made by boot from spec), its disks
staged from the private registry (staging), disk snapshots, and `onevm exec` (execution).

The VMM actions and probes run this on the host itself; the TM actions run it on the front-end
against the host's engine (over ssh). Nothing here runs as root: the root helper is onedock.helper.
"""
