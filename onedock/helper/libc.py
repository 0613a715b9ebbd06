"""The libc calls Python 3.11's os module lacks (setns, umount2, and open_tree/move_mount by
syscall number), loaded on first use: ctypes costs ~2 ms of import, and only the root side's
operations need it, not the unprivileged actions that import the helper's modules."""

from __future__ import annotations

_lib = None


def libc():
    global _lib
    if _lib is None:
        import ctypes

        _lib = ctypes.CDLL(None, use_errno=True)
    return _lib


def errno() -> int:
    import ctypes

    return ctypes.get_errno()
