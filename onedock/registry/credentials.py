"""Logins for source registries, where the container tools keep them.

A front-end's operator logs in once, as oneadmin, with `docker login` (~/.docker/config.json,
or $DOCKER_CONFIG) or `skopeo`/`podman login` (containers-auth.json: $REGISTRY_AUTH_FILE,
$XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json); a datastore may name
its own file (REGISTRY_AUTH_FILE in its template) so groups can use different accounts. The
first file with an entry for the registry wins, that file's credential helper included.

Secrets leave this module only inside a Login; no message here ever contains one.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import NamedTuple

from onedock.errors import Denied, OneDockError
from onedock.registry.reference import DOCKER_HUB

DOCKER_HUB_KEY = "https://index.docker.io/v1/"  # the key `docker login` writes for Docker Hub
HELPER_TIMEOUT = 20.0
_DOCKER_HUB_NAMES = (DOCKER_HUB, "index.docker.io", "registry-1.docker.io",
                     "registry.hub.docker.com")


class Login(NamedTuple):
    username: str
    secret: str
    origin: str  # the file (and helper) it came from, for messages

    def __repr__(self) -> str:  # a Login printed by accident shows no secret
        return f"Login(username={self.username!r}, origin={self.origin!r})"


def default_files() -> list[Path]:
    """Where `docker login`, then `skopeo login`/`podman login`, keep logins for this user."""
    home = Path.home()
    files = [Path(os.environ.get("DOCKER_CONFIG") or home / ".docker") / "config.json"]
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    files.append(Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
                 / "containers" / "auth.json")
    return files


def find(registry: str, repository: str = "", files: list[Path] | None = None) -> Login | None:
    """The login for `registry` (most specific `registry/namespace` entry first), or None."""
    for path in default_files() if files is None else files:
        document = _read(path)
        if document is None:
            continue
        login = _from_document(document, path, registry, repository)
        if login is not None:
            return login
    return None


def _read(path: Path) -> dict | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OneDockError(f"cannot read registry logins {path}: {exc.strerror}",
                           hint="it must be readable by oneadmin on the front-end") from None
    try:
        document = json.loads(text or "{}")
    except ValueError:
        raise OneDockError(f"registry logins {path} are not JSON",
                           hint="log in again with `docker login` or fix the file") from None
    if not isinstance(document, dict):
        raise OneDockError(f"registry logins {path} are not a JSON object")
    return document


def _keys(registry: str, repository: str) -> list[str]:
    """The names an entry for this registry may have, most specific first."""
    hosts = [registry] if registry != DOCKER_HUB else [DOCKER_HUB_KEY, *_DOCKER_HUB_NAMES]
    parts = repository.split("/") if repository else []
    scoped = [f"{registry}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)]
    return scoped + hosts


def _host_of(key: str) -> str:
    """`https://host:5000/v2/` as docker writes old entries: the part that names the host."""
    if key == DOCKER_HUB_KEY:
        return key
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
            return key.split("/", 1)[0]
    return key


def _from_document(document: dict, path: Path, registry: str, repository: str) -> Login | None:
    helpers = document.get("credHelpers") or {}
    auths = {_host_of(k) if "://" in k else k: v
             for k, v in (document.get("auths") or {}).items() if isinstance(v, dict)}
    for key in _keys(registry, repository):
        if isinstance(helpers, dict) and key in helpers:
            return _helper(str(helpers[key]), key, path)
        if key in auths:
            login = _entry(auths[key], key, path)
            if login is not None:
                return login
    store = document.get("credsStore")
    if store:
        for key in _keys(registry, "")[:2]:
            login = _helper(str(store), key, path, missing_ok=True)
            if login is not None:
                return login
    return None


def _entry(entry: dict, key: str, path: Path) -> Login | None:
    if entry.get("auth"):
        try:
            user, sep, secret = base64.b64decode(str(entry["auth"]), validate=True).decode() \
                .partition(":")
        except (ValueError, UnicodeDecodeError):
            sep = ""
        if not sep or not user:
            raise OneDockError(f"registry logins {path}: the entry for {key} is damaged",
                               hint=f"log in to {key} again")
        return Login(user, secret, str(path))
    if entry.get("username") and entry.get("password"):
        return Login(str(entry["username"]), str(entry["password"]), str(path))
    if entry.get("identitytoken"):
        raise OneDockError(f"registry logins {path}: the entry for {key} holds an identity "
                           "token, which onedock does not use",
                           hint="log in with a user name and password or access token")
    return None  # an empty entry: a login kept by the file's credsStore


def _helper(name: str, key: str, path: Path, missing_ok: bool = False) -> Login | None:
    """Ask docker-credential-<name> (the docker credential helper protocol: the server on
    stdin, {"Username", "Secret"} on stdout)."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise OneDockError(f"registry logins {path}: credential helper '{name[:40]}' is not a "
                           "helper name")
    program = f"docker-credential-{name}"
    try:
        proc = subprocess.run([program, "get"], input=key, capture_output=True, text=True,
                              timeout=HELPER_TIMEOUT)
    except FileNotFoundError:
        raise OneDockError(f"credential helper {program} (named in {path}) is not installed",
                           hint=f"install it for oneadmin, or remove it from {path}") from None
    except subprocess.TimeoutExpired:
        raise OneDockError(f"credential helper {program} did not answer for {key} in "
                           f"{HELPER_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        said = " ".join(proc.stdout.split()).lower()
        if missing_ok or "not found" in said:
            return None
        raise Denied(f"credential helper {program} failed for {key} (exit {proc.returncode})",
                     hint=f"check `{program} list` as oneadmin")
    try:
        answer = json.loads(proc.stdout)
        user, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        raise OneDockError(f"credential helper {program} gave no Username and Secret for "
                           f"{key}") from None
    if not secret:
        return None
    return Login(user, secret, f"{path} ({program})")
