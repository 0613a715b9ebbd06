"""What the STATE_VM probe reports, debounced the way OpenNebula's own status probe is.

A VM's container stops before the VMM shutdown action replies; a probe that reports POWEROFF
at once races oned, which is still in SHUTDOWN_POWEROFF (6.10: `[LCM][E]:
shutdown_success_action, VM in a wrong state`; 7.0.1+: `Ignoring VM state update` within 30 s
of the RUNNING end). The stock probe (lib/probe_db.rb) reports a VM missing from the hypervisor
only once it was missing 3 times. Here every move from RUNNING to a stopped or missing state
waits DEBOUNCE_RUNS consecutive runs (5 s apart by default: 10 s at least, longer than a
shutdown action takes to reply once the container has stopped); until then a full
(SYNC_STATE=yes) report repeats the last reported state, so MISSING_STATE cannot fire early.
RUNNING and SUSPENDED are reported at once, and a container back to RUNNING inside the
window reports nothing.
"""

from __future__ import annotations

DEBOUNCE_RUNS = 3
MISSING = "MISSING"  # observed: no container at all
MISSING_STATE = "POWEROFF"  # what oned makes of a VM a full report leaves out
IMMEDIATE = ("RUNNING", "SUSPENDED")


def step(observed: dict[str, str], memory: dict, full: bool, runs: int = DEBOUNCE_RUNS
         ) -> tuple[dict[str, str], dict]:
    """(vmid → STATE to report, next memory) for this run.

    memory = {"reported": {vmid: state}, "pending": {vmid: [observed state, runs seen]}}.
    """
    reported = dict(memory.get("reported") or {})
    pending = memory.get("pending") or {}
    out: dict[str, str] = {}
    waiting: dict[str, list] = {}
    for vmid in sorted(set(observed) | set(reported), key=lambda v: (len(v), v)):
        now = observed.get(vmid, MISSING)
        last = reported.get(vmid)
        if now == last:
            if full:
                out[vmid] = now
            continue
        if last == "RUNNING" and now not in IMMEDIATE:
            # stopped then removed (terminate) is one move to POWEROFF, counted as such
            seen = MISSING_STATE if now == MISSING else now
            state, count = pending.get(vmid) or ["", 0]
            count = count + 1 if state == seen else 1
            if count < runs:
                waiting[vmid] = [seen, count]
                if full:
                    out[vmid] = last
                continue
        if now == MISSING:
            reported.pop(vmid, None)
            if last == "RUNNING":
                out[vmid] = MISSING_STATE
            continue  # gone while not running: a full report's absence says the rest
        reported[vmid] = now
        out[vmid] = now
    return out, {"reported": reported, "pending": waiting}
