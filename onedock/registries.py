"""Registry clients built from the config: the private registry and image sources."""

from __future__ import annotations

from onedock.config import Config
from onedock.engine import registry_auth
from onedock.registry.client import Registry
from onedock.registry.reference import Reference

_LOOPBACK = ("localhost", "127.", "[::1]")


def private(cfg: Config) -> Registry:
    return Registry(
        cfg.registry,
        secure=not cfg.registry_insecure,
        ca=cfg.registry_ca,
        username=cfg.registry_username,
        password=cfg.registry_password(),
        timeout=cfg.timeout,
    )


def source(cfg: Config, ref: Reference) -> Registry:
    """A source registry; plain HTTP only for loopback and `insecure_sources`, as Docker does."""
    if ref.registry == cfg.registry:
        return private(cfg)
    insecure = ref.registry in cfg.insecure_sources or ref.registry.startswith(_LOOPBACK)
    return Registry(ref.registry, secure=not insecure, timeout=cfg.timeout, api_host=ref.api_host)


def engine_auth(cfg: Config) -> str:
    """X-Registry-Auth for engines pulling from or pushing to the private registry."""
    return registry_auth(cfg.registry_username, cfg.registry_password(), cfg.registry)
