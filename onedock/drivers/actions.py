"""An action table: each TM and VMM action declares once the argv oned passes it.

`@ACTIONS("fe:SOURCE host:sysdir/disk.N vmid dsid")` registers the function under its name
and checks the count before it runs; the function receives the arguments as parameters. A word
in brackets is optional (`[stdin]`), a word ending in `...` takes one or more. The remotes tree
is written from these tables, so an action cannot be in one and not the other.
"""

from __future__ import annotations

from collections.abc import Callable

from onedock.errors import OneDockError

Action = Callable[..., str]


class Actions(dict):
    def __call__(self, usage: str, *, names: tuple[str, ...] = ()) -> Callable[[Action], Action]:
        words = usage.split()
        least = sum(1 for w in words if not w.startswith("["))
        most = None if any(w.endswith("...") for w in words) else len(words)

        def register(func: Action) -> Action:
            def action(cfg, argv: list[str]) -> str:
                if len(argv) < least or (most is not None and len(argv) > most):
                    count = least if most == least else (
                        f"{least} or more" if most is None else f"{least} to {most}")
                    raise OneDockError(f"expected {count} arguments ({usage}), got {len(argv)}")
                return func(cfg, *argv)

            action.usage = usage  # type: ignore[attr-defined]
            action.__doc__ = func.__doc__
            for name in names or (func.__name__.rstrip("_"),):
                self[name] = action
            return func

        return register
