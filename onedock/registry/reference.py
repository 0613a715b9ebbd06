"""Docker image references, validated against the distribution grammar before any use.

A reference reaches us from users (`oneimage create --path docker://...`) and from oned
(SOURCE); both end up in URLs and Engine API calls, so anything outside the grammar (shell
metacharacters, `..`, upper case, spaces) is refused here with a message naming the part.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from onedock.errors import OneDockError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(rf"^{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]{{1,5}})?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"


def validate_registry_host(value: str, what: str = "registry") -> str:
    if not _HOST.fullmatch(value) or len(value) > 255:
        raise OneDockError(f"{what}: '{value}' is not a valid registry host[:port]")
    return value


def validate_repository(value: str, what: str = "repository") -> str:
    if not _REPOSITORY.fullmatch(value) or len(value) > 255:
        raise OneDockError(
            f"{what}: '{value}' is not a valid repository name",
            hint="lower-case letters, digits and . _ - separators, '/' between components",
        )
    return value


def validate_digest(value: str) -> str:
    if not _DIGEST.fullmatch(value):
        raise OneDockError(f"'{value}' is not a sha256 digest")
    return value


def validate_tag(value: str) -> str:
    if not _TAG.fullmatch(value):
        raise OneDockError(f"'{value}' is not a valid tag")
    return value


class Reference(NamedTuple):
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def ref(self) -> str:
        """The manifest reference for the registry API: digest first, else tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, None, validate_digest(digest))


def parse(text: str) -> Reference:
    """Parse `[registry/]repo[:tag][@digest]` the way `docker pull` does."""
    original = text
    if not text or len(text) > 512 or any(c.isspace() for c in text):
        raise OneDockError(f"invalid image reference '{original}'")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise OneDockError(
                f"invalid image reference '{original}': digest must be sha256:<64 hex>"
            )
    tag = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise OneDockError(f"invalid image reference '{original}': bad tag '{tag}'")
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
        if registry in (DOCKER_HUB, "index.docker.io"):
            registry = DOCKER_HUB
            if "/" not in repository:
                repository = f"library/{repository}"
        if not _HOST.fullmatch(registry):
            raise OneDockError(f"invalid image reference '{original}': bad registry '{first}'")
    else:
        registry, repository = DOCKER_HUB, text
        if "/" not in repository:
            repository = f"library/{repository}"
    if not _REPOSITORY.fullmatch(repository) or len(repository) > 255:
        raise OneDockError(
            f"invalid image reference '{original}': bad repository name '{repository}'",
            hint="lower-case letters, digits and . _ - separators",
        )
    return Reference(registry, repository, tag if (tag or digest) else "latest", digest)
