"""A hostile-input corpus replayed against every driver action, each case its own test.

Every action named in onedock.install.remotes.FAMILIES (datastore, tm, vmm) and every probe in
onedock.install.remotes.PROBES runs from its remotes shim, as oned's MADs run it, with one hostile
thing in it: a malformed, exploding or oversized document on stdin, an injection attempt in one
string that reaches Docker or a registry (deploy ids, host names, host:path arguments, vmids,
SOURCEs and PATHs, MACs, bridge names, snapshot ids), wrong values in a VM document (NIC IP,
MAC, BRIDGE, gateway, mask, DNS, mount point, capability), the wrong number of arguments, or an
action name onedock does not have. Each case must:

* exit non-zero, and never 42 (oned reads 42 as "remotes missing" and re-copies them);
* print nothing on stdout (oned would take it for a deploy id, a SOURCE, a size...);
* print exactly one line on stderr, with no Python traceback and no "internal error" (that is
  the catch-all for exceptions onedock did not anticipate, i.e. a bug);
* leave the host exactly as it was: containers (name, state) and images (id, tags) on both
  engines, volumes, network interfaces, and the private registry's catalog and tags.

The cases target a staged VM (a boot disk tag, no container) and a running VM (a container with
a NIC on a test bridge), so a validation that came after the Docker call would show up as a
changed host rather than as a harmless "not found". Slots share their validators, so each slot
of each action gets two of the six payloads in turn, and the most exposed slots (clone's SOURCE
and destination host, cp's PATH, rm's SOURCE, delete's host, shutdown's deploy id, the MAC of
detach_nic, snapshot_create's id) get all six; likewise one wrong argument count per action
(too few or too many in turn), both for clone and deploy. The snapshot the previous case took
after it ran is this case's "before" (one snapshot per case); a case that changed the host is
undone (`restore`) so that one bug does not spill into the cases after it.

Not cases, on purpose: strings an action never passes on (the dsid of TM actions, the trailing
`<vmid> <host>` of VMM actions but deploy, prereconfigure's deploy id: it does nothing) and
stdin of VMM actions that do not read it (shutdown, cancel, detach_nic, snapshot_create/delete).
Probes ignore an unreadable monitord configuration and fall back to defaults: that is checked
by test_probes_tolerate_hostile_configuration (exit 0, no stderr, nothing expanded).

Bugs found are strict xfails, listed in BUGS with the failing input.
"""
