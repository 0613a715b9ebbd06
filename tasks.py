"""Developer and operator tasks (Invoke): `invoke --list`.

Every command is an argv joined with shlex.join (so `invoke test -k "a and b"` reaches pytest
as one expression), and every failure leaves through invoke's Exit with one line.
"""

from __future__ import annotations

import shlex
import sys

from invoke import Collection, Exit, task


def _run(c, *argv: str, **kw):
    return c.run(shlex.join([sys.executable, *argv]), pty=False, **kw)


def _guard(func):
    """A OneDockError (a sandbox step, a bad backend name) becomes one line and exit 1."""
    from onedock.errors import OneDockError

    try:
        return func()
    except OneDockError as exc:
        raise Exit(f"error: {exc}", code=1) from None


@task(help={"k": "only tests matching this expression", "x": "stop at the first failure"})
def test(c, k="", x=False):
    """Run the test suite against the real Docker engine and registries."""
    _run(c, "-m", "pytest", "-q", *(["-k", k] if k else []), *(["-x"] if x else []))


@task
def lint(c):
    """ruff over the whole tree."""
    _run(c, "-m", "ruff", "check", ".")


@task(help={"quick": "smaller runs (as CI does)", "readme": "update README's figures"})
def bench(c, quick=False, readme=False):
    """Run every benchmark; write bench/results/report.md with charts."""
    _run(c, "-m", "bench.report", *(["--quick"] if quick else []),
         *(["--readme"] if readme else []))


@task
def package(c):
    """wheel, sdist and onedock_<version>_all.deb into dist/ (then `apt install ./dist/...deb`)."""
    _run(c, "-m", "build", "-o", "dist", ".")
    _run(c, "packaging/build_deb.py", "--dist", "dist")


@task
def smoke(c):
    """The smoke workflow here: through OpenNebula's CLI when one answers, else its protocol."""
    from sandbox.smoke import workflow

    code = workflow()
    if code:
        raise Exit(code=code)


@task(help={"role": "frontend or host", "dry_run": "show the plan and diffs only",
            "extra": "more `onedock install` options, e.g. '--registry fe:5000 --tls-cert ...'"})
def install(c, role="frontend", dry_run=False, extra=""):
    """Install onedock on this OpenNebula front-end or host (`onedock install`)."""
    _run(c, "-m", "onedock", "install", role, *shlex.split(extra),
         *(["--dry-run"] if dry_run else []))


@task(help={"role": "frontend or host", "dry_run": "show what would be undone"})
def uninstall(c, role="frontend", dry_run=False):
    """Undo exactly what `invoke install` did."""
    _run(c, "-m", "onedock", "uninstall", role, *(["--dry-run"] if dry_run else []))


def _backend(name: str, one_packages: str = "", provider: str = "docker", one_version: str = "",
             one_location: str = "", nodes: int = 0):
    from sandbox.backend import make

    return make(name, one_packages, provider, one_version, one_location, nodes)


SANDBOX_HELP = {
    "backend": "lxd or vagrant", "one_packages": "directory of OpenNebula .deb packages",
    "one_version": "OpenNebula release from its package repository ('' for none)",
    "one_location": "a self-contained OpenNebula install (install.sh -d DIR) to ship",
    "nodes": "hosts beside the front-end (LXD), each with its own Docker engine",
    "provider": "vagrant provider: docker (default), libvirt, virtualbox",
}


@task(help=SANDBOX_HELP)
def up(c, backend="lxd", one_packages="", provider="docker", one_version="7.4",
       one_location="", nodes=0):
    """Bring the sandbox up (idempotent: a second run only fixes what is missing)."""
    _guard(lambda: _backend(backend, one_packages, provider, one_version, one_location,
                            nodes).up())


@task(help={k: v for k, v in SANDBOX_HELP.items() if k != "provider"})
def provision(c, backend="lxd", one_packages="", one_version="7.4", one_location="", nodes=0):
    """Run the provisioning again (after a failure, or to ship a changed checkout)."""
    _guard(lambda: _backend(backend, one_packages, one_version=one_version,
                            one_location=one_location, nodes=nodes).provision())


@task(help={"backend": "lxd or vagrant"})
def status(c, backend="lxd"):
    """Where the sandbox is and what it runs."""
    import json

    print(json.dumps(_guard(lambda: _backend(backend).status()), indent=1))


@task(help={"backend": "lxd or vagrant"})
def shell(c, backend="lxd"):
    """A root shell inside the sandbox."""
    _guard(lambda: _backend(backend).shell())


@task(name="smoke", help={"backend": "lxd or vagrant"})
def sandbox_smoke(c, backend="lxd"):
    """The end-to-end smoke workflow inside the sandbox."""
    from sandbox.backend import GUEST_VENV

    def run():
        box = _backend(backend)
        # a login shell: OpenNebula's CLI environment, when the sandbox has one, is in
        # profile.d; its VMs go on the sandbox's network, which every node's bridge reaches
        command = f"ONEDOCK_SMOKE_NETWORK=onedock-net exec {GUEST_VENV}/bin/python -m sandbox.smoke"
        result = box.exec(["bash", "-lc", command], cwd=box.src, check=False)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.rc

    code = _guard(run)
    if code:
        raise Exit(code=code)


@task
def wheels(c):
    """Build the wheelhouse a plain `vagrant up` installs from (no package index in the guest)."""
    from sandbox.vagrant import write_wheelhouse

    print(f"wheelhouse: {_guard(lambda: write_wheelhouse(sys.stdout))}")


@task(help={"backend": "lxd or vagrant"})
def down(c, backend="lxd"):
    """Remove the sandbox (the cached base image stays)."""
    _guard(lambda: _backend(backend).down())


sandbox = Collection("sandbox", up, provision, status, shell, sandbox_smoke, wheels, down)
ns = Collection(test, lint, bench, package, smoke, install, uninstall, sandbox)
