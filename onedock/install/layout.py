"""Where things go: system-wide, under ONE_LOCATION, and/or below a scratch --prefix."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    prefix: str = ""
    one_location: str = ""

    def at(self, path: str) -> str:
        return self.prefix.rstrip("/") + path if self.prefix else path

    @property
    def etc_one(self) -> str:
        return self.at(f"{self.one_location}/etc" if self.one_location else "/etc/one")

    @property
    def remotes(self) -> str:
        return self.at(f"{self.one_location}/var/remotes" if self.one_location
                       else "/var/lib/one/remotes")

    @property
    def onedock_etc(self) -> str:
        return self.at("/etc/onedock")

    def manifest(self, role: str) -> str:
        return os.path.join(self.onedock_etc, f"install-{role}.json")
