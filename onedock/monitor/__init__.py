"""IM_MAD=onedock: probes OpenNebula's monitord agent runs on each host.

Costs stay flat as containers grow: one Docker API list call per probe run, then only kernel
files (cgroups, /sys/class/net, /proc), never one API call per container.
"""
