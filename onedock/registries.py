"""Registry clients built from the config: the private registry and image sources."""

from __future__ import annotations

from onedock.config import Config
from onedock.errors import OneDockError
from onedock.registry.client import Registry
from onedock.registry.reference import Reference


def private(cfg: Config) -> Registry:
    return Registry(
        cfg.registry,
        secure=not cfg.registry_insecure,
        ca=cfg.registry_ca,
        username=cfg.registry_username,
        password=cfg.registry_password(),
        timeout=cfg.timeout,
    )


def source(cfg: Config, ref: Reference, auth_file: str = "") -> Registry:
    """A source registry; plain HTTP only for loopback and `insecure_sources`, as Docker does.
    Its login, if any, comes from the datastore's REGISTRY_AUTH_FILE, then oneadmin's own
    (registry.credentials).

    The private registry itself is refused: its repositories are other images' disks, and
    reading them with onedock's credentials would bypass OpenNebula's permissions.
    """
    if ref.registry == cfg.registry:
        raise OneDockError(
            f"images cannot be registered from the private registry {cfg.registry}",
            hint="clone the OpenNebula image instead (oneimage clone)",
        )
    insecure = ref.registry in cfg.insecure_sources or _loopback(ref.registry)
    login = _login(ref, auth_file)
    return Registry(ref.registry, secure=not insecure, timeout=cfg.timeout, api_host=ref.api_host,
                    username=login.username if login else "",
                    password=login.secret if login else "",
                    login_hint=f"`docker login {ref.registry}` as oneadmin on the front-end, or "
                               "a file in the datastore's REGISTRY_AUTH_FILE")


def _login(ref: Reference, auth_file: str):
    from pathlib import Path

    from onedock.registry import credentials

    files = credentials.default_files()
    if auth_file:
        if not auth_file.startswith("/") or not Path(auth_file).is_file():
            raise OneDockError(f"REGISTRY_AUTH_FILE {auth_file[:200]} of the datastore is not "
                               "an existing file on the front-end",
                               hint="give an absolute path readable by oneadmin, or remove it")
        files.insert(0, Path(auth_file))
    return credentials.find(ref.registry, ref.repository, files)


def _loopback(registry: str) -> bool:
    import ipaddress

    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def engine_auth(cfg: Config) -> str:
    """X-Registry-Auth for engines pulling from or pushing to the private registry."""
    from onedock.engine.client import registry_auth  # DS actions never reach an engine

    return registry_auth(cfg.registry_username, cfg.registry_password(), cfg.registry)
