"""The Docker Engine API as driver actions use it: a lean client (client.py) that hands out
small typed views (views.py) instead of the engine's raw JSON. The views import nothing, so
the probes' own lean client (onedock.monitor.dockerapi) shares them without paying for
the client's connections."""
