"""onedock.conf: one TOML file, shipped inside the remotes tree so `onehost sync` reaches hosts.

Every key has a default so an empty file is a working single-node setup; an unknown key or a
value of the wrong type is an error rather than a silent fallback, because a typo in a driver
config otherwise shows up much later as a confusing pull or push failure.
"""

from __future__ import annotations

import os
import stat
from types import MappingProxyType

from onedock.errors import OneDockError

CONF_ENV = "ONEDOCK_CONF"
CONF_RELATIVE = "etc/onedock/onedock.conf"


def _default_platform() -> str:
    machine = os.uname().machine.lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)
    return f"linux/{arch}"


class Config:
    """The configuration an action or probe runs with: each class attribute is a key's default,
    an instance holds the values the file sets, and nothing changes it afterwards.

    A plain class: typing.NamedTuple and dataclasses cost a probe a fifth of its start-up
    (bench/startup.py), and every process builds exactly one of these.
    """

    registry: str = "127.0.0.1:5000"
    registry_insecure: bool = False
    registry_ca: str = ""
    registry_username: str = ""
    registry_password_file: str = ""
    prefix: str = "onedock"
    registry_storage: str = "/var/lib/docker-registry"
    insecure_sources: tuple[str, ...] = ()
    platform: str = _default_platform()
    frontend: str = ""
    docker_url: str = "ssh://{host}"
    hosts: MappingProxyType[str, str] | dict[str, str] = MappingProxyType({})
    timeout: float = 60.0
    copy_parallel: int = 4
    local_docker: str = "unix:///var/run/docker.sock"
    shutdown_timeout: int = 120
    nic_helper: tuple[str, ...] = ("sudo", "-n", "onedock-nic")
    allow_privileged: bool = False
    allowed_capabilities: tuple[str, ...] = ()
    state_dir: str = "/var/tmp/onedock"
    probe_timeout: float = 5.0
    ssh_persist: int = 60  # seconds a shared ssh connection to a host outlives its last use
    ssh_config: str = ""  # an ssh_config(5) file for onedock's ssh (identity, port, known hosts)

    def __init__(self, **values) -> None:
        unknown = sorted(set(values) - set(_TYPES))
        if unknown:
            raise TypeError(f"Config has no key {unknown[0]!r}")
        self.__dict__.update(values)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"Config is read-only (set {name} in onedock.conf)")

    def values(self) -> dict:
        """Every key with the value in effect, given or default."""
        return {key: getattr(self, key) for key in _TYPES}

    def __eq__(self, other) -> bool:
        return isinstance(other, Config) and self.values() == other.values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Config({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"

    def engine_url(self, host: str) -> str:
        """Where the Docker engine of an OpenNebula host answers, as seen from this process."""
        return self.hosts.get(host) or self.docker_url.format(host=host)

    def is_frontend(self, host: str) -> bool:
        """oned writes the front-end as oned.conf's HOSTNAME (install copies it into
        `frontend`) or else as the canonical name getaddrinfo gives its host name, so the
        same is computed here (not socket.getfqdn, which prefers a reverse lookup and says
        `localhost` on machines whose /etc/hosts lists the name on 127.0.0.1)."""
        if self.frontend:
            return host == self.frontend
        return host in frontend_names()

    def registry_password(self) -> str:
        if not self.registry_password_file:
            return ""
        try:
            with open(self.registry_password_file) as handle:
                return handle.read().strip()
        except OSError as exc:
            raise OneDockError(
                f"cannot read registry_password_file {self.registry_password_file}: "
                f"{exc.strerror}"
            ) from exc


def frontend_names() -> tuple[str, ...]:
    import socket

    name = socket.gethostname()
    try:
        canonical = socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME)[0][3]
    except (OSError, IndexError):
        canonical = ""
    return tuple(n for n in (name, canonical) if n)


_TYPES: dict[str, type | tuple[type, ...]] = {
    "registry": str,
    "registry_insecure": bool,
    "registry_ca": str,
    "registry_username": str,
    "registry_password_file": str,
    "prefix": str,
    "registry_storage": str,
    "insecure_sources": list,
    "platform": str,
    "frontend": str,
    "docker_url": str,
    "hosts": dict,
    "timeout": (int, float),
    "copy_parallel": int,
    "local_docker": str,
    "shutdown_timeout": int,
    "nic_helper": list,
    "allow_privileged": bool,
    "allowed_capabilities": list,
    "state_dir": str,
    "probe_timeout": (int, float),
    "ssh_persist": int,
    "ssh_config": str,
}


def _check(data: dict, origin: str) -> dict:
    from onedock.registry.reference import validate_registry_host, validate_repository

    out: dict = {}
    for key, value in data.items():
        if key not in _TYPES:
            known = ", ".join(sorted(_TYPES))
            raise OneDockError(f"{origin}: unknown key '{key}'", hint=f"known keys: {known}")
        expected = _TYPES[key]
        if isinstance(value, bool) and expected is not bool:
            raise OneDockError(f"{origin}: '{key}' must not be a boolean")
        if not isinstance(value, expected):
            names = expected.__name__ if isinstance(expected, type) else "number"
            raise OneDockError(f"{origin}: '{key}' must be a {names}, got {value!r}")
        out[key] = value
    where = f"{origin}: "
    if "registry" in out:
        validate_registry_host(out["registry"], where + "registry")
    if "prefix" in out:
        validate_repository(out["prefix"], where + "prefix")
    if "insecure_sources" in out:
        for item in out["insecure_sources"]:
            if not isinstance(item, str):
                raise OneDockError(f"{origin}: insecure_sources must list host:port strings")
            validate_registry_host(item, where + "insecure_sources")
        out["insecure_sources"] = tuple(out["insecure_sources"])
    if "hosts" in out:
        for name, url in out["hosts"].items():
            if not isinstance(url, str) or not url.startswith(("unix://", "ssh://", "tcp://")):
                raise OneDockError(
                    f"{origin}: hosts.{name} must be a unix://, ssh:// or tcp:// engine URL"
                )
    if "docker_url" in out:
        try:
            probe = out["docker_url"].format(host="node")
        except (KeyError, IndexError, ValueError) as exc:
            raise OneDockError(f"{origin}: docker_url may only use {{host}}") from exc
        if "{host}" not in out["docker_url"] or probe == out["docker_url"]:
            raise OneDockError(f"{origin}: docker_url must contain {{host}}, e.g. ssh://{{host}}")
    if "timeout" in out and out["timeout"] <= 0:
        raise OneDockError(f"{origin}: timeout must be positive")
    if "nic_helper" in out:
        if not out["nic_helper"] or not all(isinstance(a, str) for a in out["nic_helper"]):
            raise OneDockError(f"{origin}: nic_helper must be a non-empty list of strings")
        out["nic_helper"] = tuple(out["nic_helper"])
    if "allowed_capabilities" in out:
        caps = out["allowed_capabilities"]
        if not all(isinstance(c, str) and c.isupper() for c in caps):
            raise OneDockError(f"{origin}: allowed_capabilities must list names like NET_ADMIN")
        out["allowed_capabilities"] = tuple(caps)
    if "local_docker" in out and not out["local_docker"].startswith(("unix://", "tcp://")):
        raise OneDockError(f"{origin}: local_docker must be a unix:// or tcp:// engine URL")
    if "ssh_persist" in out and not 0 <= out["ssh_persist"] <= 3600:
        raise OneDockError(f"{origin}: ssh_persist must be between 0 (no sharing) and 3600 "
                           "seconds")
    if out.get("ssh_config") and not os.path.isabs(out["ssh_config"]):
        raise OneDockError(f"{origin}: ssh_config must be an absolute path")
    if "shutdown_timeout" in out and not 0 <= out["shutdown_timeout"] <= 3600:
        raise OneDockError(f"{origin}: shutdown_timeout must be between 0 and 3600 seconds")
    if "copy_parallel" in out and not 1 <= out["copy_parallel"] <= 32:
        raise OneDockError(f"{origin}: copy_parallel must be between 1 and 32")
    return out


def config_path(remotes_root: str | os.PathLike | None) -> str | None:
    env = os.environ.get(CONF_ENV)
    if env:
        return env
    if remotes_root is not None:
        return os.path.join(os.fspath(remotes_root), CONF_RELATIVE)
    return None


def load(remotes_root: str | os.PathLike | None = None) -> Config:
    """Read the config the way a driver action sees it: $ONEDOCK_CONF, else the remotes tree."""
    path = config_path(remotes_root)
    if path is None or (not os.path.exists(path) and CONF_ENV not in os.environ):
        return Config()
    try:
        with open(path, "rb") as handle:
            found = os.fstat(handle.fileno())
            cache = _Cache(path, found)
            checked = cache.read()
            if checked is None:
                checked = _parse(handle.read(), path)
                cache.write(checked)
    except OSError as exc:
        raise OneDockError(
            f"cannot read config {path}: {exc.strerror}", hint=f"check {CONF_ENV} or the file"
        ) from exc
    return Config(**{k: tuple(v) if k in _TUPLES else v for k, v in checked.items()})


def _parse(raw: bytes, path: str) -> dict:
    import tomllib  # a cached config is not parsed again (_Cache)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise OneDockError(f"config {path} is not valid TOML: {exc}") from exc
    return _check(data, path)


_TUPLES = ("insecure_sources", "nic_helper", "allowed_capabilities")
CACHE_DIR = "/var/tmp/onedock-config-{uid}"
CACHE_ENTRIES = 256


class _Cache:
    """The checked content of a config file, as JSON, for as long as the file is unchanged.

    Every action and probe is a fresh process that reads the config; parsing TOML is a third
    of a probe's start-up (tomllib's import; bench/startup.py). An entry is used only while the
    file's inode, size, mtime and ctime are the ones it was made from (ctime cannot be set
    back), and only from a directory of this user's own, mode 0700, as the state files are.
    """

    def __init__(self, path: str, found: os.stat_result):
        self._dir = CACHE_DIR.format(uid=os.geteuid())
        self._file = os.path.join(self._dir, f"{found.st_dev}-{found.st_ino}.json")
        self._key = [os.path.abspath(path), found.st_size, found.st_mtime_ns, found.st_ctime_ns]

    def read(self) -> dict | None:
        from onedock.state import read_json

        if not self._private():
            return None
        entry = read_json(self._file) or {}
        data = entry.get("data")
        return data if entry.get("key") == self._key and isinstance(data, dict) else None

    def write(self, checked: dict) -> None:
        from onedock.state import private_dir, write_json

        try:
            private_dir(self._dir)
            if not self._private():
                return
            entries = os.listdir(self._dir)
            if len(entries) >= CACHE_ENTRIES:  # configs of tests come and go: start afresh
                for name in entries:
                    os.unlink(os.path.join(self._dir, name))
            write_json(self._file, {"key": self._key, "data": checked})
        except (OSError, OneDockError, TypeError, ValueError):
            pass  # no cache: the next process parses the file again

    def _private(self) -> bool:
        try:
            info = os.lstat(self._dir)
        except OSError:
            return False
        return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
                and not info.st_mode & 0o077)
