"""Small read-only views of what the Engine API answers, as docker-py's models give them.

The engine describes a container two ways: `inspect` (State is an object, labels under Config)
and the list call (State is a word, labels at the top). Callers ask a view for `.running` or
`.labels` and never dig into either shape; `.raw` stays for the rare field no view names.
"""

from __future__ import annotations

import json

# Docker's State.Running is true for these too: the process exists
ALIVE = frozenset({"running", "paused", "restarting"})
ENGINE_HINT = "is dockerd running there, and may this user reach its socket?"


def error_message(payload: bytes) -> str:
    """What an engine's error answer says: its `message`, else the start of the body."""
    try:
        return str(json.loads(payload).get("message", "")).strip()
    except (ValueError, AttributeError):
        return payload[:300].decode("utf-8", "replace").strip()


class View:
    """One answer of the engine, kept as it came."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict):
        self.raw = raw

    @property
    def labels(self) -> dict[str, str]:
        config = self.raw.get("Config")
        found = config.get("Labels") if isinstance(config, dict) else self.raw.get("Labels")
        return found or {}


class ContainerInfo(View):
    __slots__ = ()

    def _state(self) -> dict:
        state = self.raw.get("State")
        return state if isinstance(state, dict) else {}

    @property
    def id(self) -> str:
        return str(self.raw.get("Id") or "")

    @property
    def name(self) -> str:
        name = self.raw.get("Name") or (self.raw.get("Names") or [""])[0]
        return str(name).lstrip("/")

    @property
    def status(self) -> str:
        """created, running, paused, restarting, removing, exited or dead."""
        state = self.raw.get("State")
        return str(state.get("Status") or "") if isinstance(state, dict) else str(state or "")

    @property
    def running(self) -> bool:
        state = self.raw.get("State")
        if isinstance(state, dict):
            return bool(state.get("Running"))
        return self.status in ALIVE

    @property
    def pid(self) -> int:
        return int(self._state().get("Pid") or 0)

    @property
    def image_id(self) -> str:
        """The id of the image the container was created from (inspect and list alike)."""
        return str(self.raw.get("ImageID") or self.raw.get("Image") or "")

    @property
    def created(self) -> int:
        """Seconds since the epoch (list entries only; 0 elsewhere)."""
        value = self.raw.get("Created")
        return value if isinstance(value, int) else 0

    @property
    def mounted_volumes(self) -> set[str]:
        return {str(m.get("Name")) for m in self.raw.get("Mounts") or [] if m.get("Name")}


class ImageInfo(View):
    __slots__ = ()

    @property
    def id(self) -> str:
        return str(self.raw.get("Id") or "")

    @property
    def parent(self) -> str:
        return str(self.raw.get("Parent") or "")

    @property
    def tags(self) -> list[str]:
        return list(self.raw.get("RepoTags") or [])

    @property
    def digests(self) -> list[str]:
        return list(self.raw.get("RepoDigests") or [])

    @property
    def config(self) -> dict:
        """What a container of the image runs with: Cmd, Entrypoint, Env, WorkingDir, ..."""
        found = self.raw.get("Config")
        return dict(found) if isinstance(found, dict) else {}

    @property
    def volumes(self) -> list[str]:
        """The image's VOLUME paths, sorted."""
        return sorted((self.raw.get("Config") or {}).get("Volumes") or {})


class ExecInfo(View):
    __slots__ = ()

    @property
    def running(self) -> bool:
        return bool(self.raw.get("Running"))

    @property
    def pid(self) -> int:
        return int(self.raw.get("Pid") or 0)

    @property
    def exit_code(self) -> int | None:
        code = self.raw.get("ExitCode")
        return code if isinstance(code, int) else None


class VolumeInfo(View):
    __slots__ = ()

    @property
    def name(self) -> str:
        return str(self.raw.get("Name") or "")
