"""Jinja templates shared by the production installer (`onedock install`) and the sandboxes.

One source of truth: every file onedock puts on an OpenNebula front-end or host is rendered
from `provision/templates/`, whoever installs it.
"""

from __future__ import annotations

import shlex
from importlib import resources


def names() -> list[str]:
    folder = resources.files(__name__).joinpath("templates")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".j2"))


def render(template: str, /, **values) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__name__, "templates"),
        undefined=jinja2.StrictUndefined,  # a missing value is an error, not an empty string
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["shell"] = shlex.quote  # a value inside a rendered shell script
    return env.get_template(template).render(**values)
