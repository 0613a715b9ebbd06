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


class Unreachable(OneDockError):
    """The peer (a Docker engine, a registry) did not answer at all."""


class Denied(OneDockError):
    """The peer refused the credentials, or their absence (HTTP 401 or 403)."""


class RateLimited(OneDockError):
    """The peer asks to come back later (HTTP 429): Docker Hub's anonymous pull limit."""


class WireError(OSError):
    """A peer's answer that is not HTTP, or ends too soon: reported as the peer not answering."""


def unreachable(peer: str, address: str, exc: BaseException, hint: str) -> Unreachable:
    """A peer that did not answer at all: one wording for every client."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    where = f" ({address})" if address else ""
    return Unreachable(f"{peer} unreachable{where}: {reason}", hint=hint)


def for_status(status: int, text: str, *, hint: str | None = None) -> OneDockError:
    """The one place an HTTP answer (engine or registry) becomes an exception class."""
    if "NanoCPUs" in text and "CFS" in text:  # the engine's create and update alike
        return NoCpuQuota(text, hint=hint)
    kind = {401: Denied, 403: Denied, 404: NotFound, 409: Conflict, 429: RateLimited}.get(
        status, OneDockError)
    return kind(text, hint=hint)


def undo(step, items) -> None:
    """Roll back what a failed action made, item by item: the failure being handled is the one
    to report, so one that the roll-back meets only leaves that item behind."""
    for item in items:
        try:
            step(item)
        except OneDockError:
            continue
