"""Places to run onedock for real: a local lab on this machine's Docker engine (`local`)."""
