"""The one exception type every onedock failure is raised as.

oned turns a driver's stderr into the VM's or image's error message (all lines joined with
spaces on 6.x, concatenated on 7.0), so a failure must be a single readable line that says what
went wrong and, where it can, what to do next.
"""


class OneDockError(Exception):
    """A failure to report to oned: ``str(err)`` is the one line it will show the user."""

    def __init__(self, message: str, *, hint: str | None = None):
        text = " ".join(str(message).split())
        if hint:
            text = f"{text} ({' '.join(hint.split())})"
        super().__init__(text)


class NotFound(OneDockError):
    """The named thing (image, container, volume, manifest) does not exist."""


class Conflict(OneDockError):
    """Refused because of existing state (a name in use, a volume in use, ...)."""


class NoCpuQuota(OneDockError):
    """This kernel has no CPU CFS quota: a container cannot get a CPU cap (NanoCpus)."""
