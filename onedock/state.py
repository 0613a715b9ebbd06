"""A host's state_dir: small JSON files that a probe or an action leaves for the next one
(CPU deltas, reported VM states, `onevm exec` records). /var/tmp is shared by every user, so
the directory must be this user's own, and files are written atomically and never through a
link."""

from __future__ import annotations

import json
import os

from onedock.errors import OneDockError


def private_dir(path: str) -> None:
    """Create path (0700) and refuse one that is a link or someone else's."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if os.path.islink(path) or not os.path.isdir(path) or info.st_uid != os.geteuid():
        raise OneDockError(f"{path} is not a directory owned by this user",
                           hint="remove it or point state_dir elsewhere")


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def read_json(path: str) -> dict | None:
    """The object in path, or None when it is missing, a link, or not a JSON object."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
