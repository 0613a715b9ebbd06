"""Progress for humans running a long operation (an image copy, a pull) from a terminal: one
bar on stderr; silence under oned, whose actions have no terminal."""

from __future__ import annotations

import sys


class Progress:
    def __init__(self, total: int, label: str):
        self._bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm  # imported only for interactive use

            self._bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False)

    def add(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def set(self, done: int, total: int) -> None:
        """Absolute figures, for sources that report them (Docker's pull stream)."""
        if self._bar is not None:
            self._bar.total, self._bar.n = total, done
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
