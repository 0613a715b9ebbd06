"""Small tar archives built in memory: what the Engine API's archive and import endpoints and a
registry layer take (context files, an ssh key, a scratch image, an empty volume tree)."""

from __future__ import annotations

import io

DIR = None  # the data of an entry that is a directory


def build(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    """A PAX tar of (name, data or DIR, mode) entries, in order, with mtime 0 so the same
    entries give the same bytes (and the same layer digest)."""
    import tarfile  # only the actions that build an archive pay for it

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, 0
            if data is DIR:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
