"""Developer and operator tasks (Invoke): `invoke --list`."""

from __future__ import annotations

import sys

from invoke import task


@task(help={"k": "only tests matching this expression", "x": "stop at the first failure"})
def test(c, k="", x=False):
    """Run the test suite against the real Docker engine and registries."""
    args = ["-q"]
    if k:
        args += ["-k", k]
    if x:
        args.append("-x")
    c.run(f"{sys.executable} -m pytest " + " ".join(args), pty=False)


@task
def lint(c):
    """ruff over the whole tree."""
    c.run(f"{sys.executable} -m ruff check .")


@task
def smoke(c):
    """The image workflow on this machine: register a Docker image, stage it on a host, clean up."""
    from sandbox.smoke import run

    sys.exit(run())
