"""Developer and operator tasks (Invoke): `invoke --list`."""

from __future__ import annotations

import sys

from invoke import Collection, task


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


@task(help={"quick": "smaller runs (as CI does)", "readme": "update README's figures"})
def bench(c, quick=False, readme=False):
    """Run every benchmark; write bench/results/report.md with charts."""
    argv = [sys.executable, "-m", "bench.report"]
    if quick:
        argv.append("--quick")
    if readme:
        argv.append("--readme")
    c.run(" ".join(argv), pty=False)


@task
def package(c):
    """wheel, sdist and onedock_<version>_all.deb into dist/ (then `apt install ./dist/...deb`)."""
    import shlex

    c.run(shlex.join([sys.executable, "-m", "build", "-o", "dist", "."]), pty=False)
    c.run(shlex.join([sys.executable, "packaging/build_deb.py", "--dist", "dist"]), pty=False)


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


def _backend(name: str, one_packages: str = "", provider: str = "docker"):
    if name == "lxd":
        from sandbox.lxd import LxdBackend

        return LxdBackend(one_packages=one_packages)
    if name == "vagrant":
        from sandbox.vagrant import VagrantBackend

        return VagrantBackend(provider=provider, one_packages=one_packages)
    raise SystemExit(f"unknown sandbox backend '{name}' (lxd or vagrant)")


def _guard(func):
    from onedock.errors import OneDockError

    try:
        return func()
    except OneDockError as exc:
        raise SystemExit(f"error: {exc}") from None


@task(help={"backend": "lxd or vagrant", "one_packages": "directory of OpenNebula .deb packages",
            "provider": "vagrant provider: docker (default), libvirt, virtualbox"})
def sandbox_up(c, backend="lxd", one_packages="", provider="docker"):
    """Bring the sandbox up (idempotent: a second run only fixes what is missing)."""
    _guard(lambda: _backend(backend, one_packages, provider).up())


@task(help={"backend": "lxd or vagrant"})
def sandbox_provision(c, backend="lxd", one_packages=""):
    """Run the provisioning again (after a failure, or to ship a changed checkout)."""
    _guard(lambda: _backend(backend, one_packages).provision())


@task(help={"backend": "lxd or vagrant"})
def sandbox_status(c, backend="lxd"):
    """Where the sandbox is and what it runs."""
    import json

    print(json.dumps(_guard(lambda: _backend(backend).status()), indent=1))


@task(help={"backend": "lxd or vagrant"})
def sandbox_shell(c, backend="lxd"):
    """A root shell inside the sandbox."""
    _guard(lambda: _backend(backend).shell())


@task(help={"backend": "lxd or vagrant"})
def sandbox_smoke(c, backend="lxd"):
    """The end-to-end smoke workflow inside the sandbox."""
    from sandbox.backend import GUEST_VENV

    def run():
        box = _backend(backend)
        result = box.exec([f"{GUEST_VENV}/bin/python", "-m", "sandbox.smoke"], cwd=box.src,
                          check=False)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.rc

    sys.exit(_guard(run))


@task(help={"backend": "lxd or vagrant"})
def sandbox_down(c, backend="lxd"):
    """Remove the sandbox (the cached base image stays)."""
    _guard(lambda: _backend(backend).down())


sandbox = Collection("sandbox")
for _name, _task in (("up", sandbox_up), ("provision", sandbox_provision),
                     ("status", sandbox_status), ("shell", sandbox_shell),
                     ("smoke", sandbox_smoke), ("down", sandbox_down)):
    sandbox.add_task(_task, name=_name)
ns = Collection(test, lint, bench, package, smoke, install, uninstall, sandbox)
