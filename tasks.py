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


@task(help={"role": "frontend or host", "dry_run": "show the plan and diffs only",
            "extra": "more `onedock install` options, e.g. '--registry fe:5000 --tls-cert ...'"})
def install(c, role="frontend", dry_run=False, extra=""):
    """Install onedock on this OpenNebula front-end or host (`onedock install`)."""
    import shlex

    argv = [sys.executable, "-m", "onedock", "install", role, *shlex.split(extra)]
    if dry_run:
        argv.append("--dry-run")
    c.run(shlex.join(argv))


@task(help={"role": "frontend or host", "dry_run": "show what would be undone"})
def uninstall(c, role="frontend", dry_run=False):
    """Undo exactly what `invoke install` did."""
    import shlex

    argv = [sys.executable, "-m", "onedock", "uninstall", role]
    if dry_run:
        argv.append("--dry-run")
    c.run(shlex.join(argv))
