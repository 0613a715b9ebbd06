"""onedock: OpenNebula drivers that run Docker containers as virtual machines."""

__version__ = "0.1.0"
