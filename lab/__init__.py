"""The lab tests, smoke workflows and benchmarks share, on this machine and offline.

registries: `docker-registry` on loopback (the private registry and a Docker Hub stand-in);
engines: a second dockerd ("host 2"); images: test images built from busybox-static, and what
a VM leaves on an engine; documents: oned's documents for our images and bridges, from the
recorded payloads in protocol/; shims: every driver action and probe run as oned runs it.
Nothing in onedock/ imports this package.
"""
