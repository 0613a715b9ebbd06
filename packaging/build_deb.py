"""Build onedock_<version>_all.deb from the wheel `python -m build` made.

The package puts onedock in one fixed place on every machine, /usr/lib/onedock, so the remotes
shims oned copies to hosts find the same interpreter everywhere: /usr/lib/onedock/bin/python3.
That directory is a venv (PEP 405: a pyvenv.cfg and a link to the system python3) whose packages
live in lib/python3/dist-packages, the version-independent directory Debian's site.py adds for
every prefix. So the .deb does not depend on the python3 minor version of the build machine, and
bundling the pure-Python dependencies makes it independent of Debian's versions of them.

Run from the checkout: `python packaging/build_deb.py` (or `invoke package`, which also builds the
wheel and sdist). Only argv lists reach subprocesses.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEBIAN = Path(__file__).resolve().parent / "debian"
PREFIX = Path("usr/lib/onedock")
SITE = PREFIX / "lib/python3/dist-packages"
INTERPRETER = "/usr/lib/onedock/bin/python3"
SYSTEM_PYTHON = "/usr/bin/python3"
MAINTAINER = "onedock developers <root@localhost>"
# Compiled accelerators with a pure-Python fallback in the same package: dropped so the package
# stays Architecture: all (markupsafe falls back to markupsafe._native).
OPTIONAL_EXTENSIONS = {"markupsafe": "_speedups"}
PIP_TIMEOUT = 600


class BuildError(Exception):
    """A step failed; main() prints it as one line."""


def project_version(root: Path = ROOT) -> str:
    with open(root / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def debian_version(version: str) -> str:
    """PEP 440 pre- and dev-releases sort before the release in Debian only with a tilde."""
    return re.sub(r"\.?(a|b|rc|dev)(\d*)", r"~\1\2", version)


def deb_name(version: str) -> str:
    return f"onedock_{debian_version(version)}_all.deb"


def _run(argv: list[str], what: str, timeout: int = PIP_TIMEOUT) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise BuildError(f"{what}: {argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: timed out after {timeout} s") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise BuildError(f"{what} failed (exit {result.returncode}): {lines[-1]}")


def install_site(wheel: Path, site: Path) -> None:
    """onedock and its dependencies, from wheels, without byte code (postinst compiles)."""
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--no-compile", "--no-warn-script-location", "--target", str(site), str(wheel)],
         "pip install of the wheel and its dependencies")
    shutil.rmtree(site / "bin", ignore_errors=True)  # the deps' own scripts: /usr/bin has ours
    for record in site.glob("*.dist-info/direct_url.json"):  # the builder's path to the wheel
        record.unlink()
    for package, module in OPTIONAL_EXTENSIONS.items():
        for path in (site / package).glob(f"{module}.*"):
            if path.suffix in (".so", ".pyd", ".pyi", ".c"):
                path.unlink()
    compiled = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.suffix == ".so")
    if compiled:
        raise BuildError(f"compiled module(s) {', '.join(compiled)} in an Architecture: all "
                         "package; bundle a pure-Python dependency instead")


def bundled(site: Path) -> list[str]:
    """name version of every bundled distribution but onedock, for the control file."""
    found = []
    for info in sorted(site.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        if name.lower() != "onedock":
            found.append(f"{name} {version}")
    return found


def write_venv(prefix: Path) -> None:
    """A venv by hand: `python3 -m venv` would write the staging path into its activate scripts."""
    (prefix / "bin").mkdir(parents=True, exist_ok=True)
    (prefix / "pyvenv.cfg").write_text(
        "home = /usr/bin\ninclude-system-site-packages = false\n")
    (prefix / "bin/python3").symlink_to(SYSTEM_PYTHON)
    (prefix / "bin/python").symlink_to("python3")


def write_commands(site: Path, bindir: Path) -> list[str]:
    """/usr/bin wrappers for the wheel's console scripts; -I keeps PYTHONPATH and the user's
    site out of a command that runs as root under sudo (onedock-nic)."""
    parser = configparser.ConfigParser()
    parser.read(next(site.glob("onedock-*.dist-info")) / "entry_points.txt")
    bindir.mkdir(parents=True, exist_ok=True)
    names = []
    for name, target in parser["console_scripts"].items():
        module, _, func = target.partition(":")
        path = bindir / name
        path.write_text(f"#!{INTERPRETER} -I\n"
                        f"# {name}: installed by the onedock Debian package.\n"
                        "import sys\n"
                        f"from {module} import {func}\n"
                        f"sys.exit({func}())\n")
        path.chmod(0o755)
        names.append(name)
    return names


def normalise_modes(tree: Path) -> None:
    """dpkg keeps modes as found: make them independent of the builder's umask."""
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)


def installed_size_kib(tree: Path) -> int:
    total = 0
    for path in tree.rglob("*"):
        if path.is_relative_to(tree / "DEBIAN"):
            continue
        size = path.lstat().st_size if path.is_symlink() or path.is_file() else 0
        total += (size + 1023) // 1024 or 1
    return total


def write_control(tree: Path, version: str, extras: list[str]) -> None:
    control = tree / "DEBIAN"
    control.mkdir()
    fields = {"version": debian_version(version), "bundled": ", ".join(extras) or "none",
              "maintainer": os.environ.get("ONEDOCK_DEB_MAINTAINER", MAINTAINER),
              "installed_size": installed_size_kib(tree)}
    (control / "control").write_text((DEBIAN / "control").read_text().format(**fields))
    for script in ("postinst", "prerm"):
        shutil.copyfile(DEBIAN / script, control / script)
        (control / script).chmod(0o755)


def check_imports(tree: Path) -> None:
    """Import onedock through the staged interpreter entry, as the shims will (no byte code)."""
    if not Path(SYSTEM_PYTHON).exists():
        return
    python = tree / PREFIX / "bin/python3"
    _run([str(python), "-I", "-B", "-c", "import onedock.cli, onedock.helper.root, jinja2, tqdm"],
         "importing onedock from the staged tree", timeout=60)


def stage(wheel: Path, tree: Path, version: str) -> list[str]:
    write_venv(tree / PREFIX)
    install_site(wheel, tree / SITE)
    check_imports(tree)
    extras = bundled(tree / SITE)
    write_commands(tree / SITE, tree / "usr/bin")
    doc = tree / "usr/share/doc/onedock"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text((DEBIAN / "copyright").read_text().format(
        bundled=", ".join(extras)))
    normalise_modes(tree)
    write_control(tree, version, extras)
    return extras


def build(wheel: Path, dist: Path, version: str) -> Path:
    if not wheel.is_file():
        raise BuildError(f"no wheel at {wheel}; run `python -m build` first (or `invoke package`)")
    if shutil.which("dpkg-deb") is None:
        raise BuildError("dpkg-deb not found; apt-get install dpkg-dev")
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / deb_name(version)
    with tempfile.TemporaryDirectory(prefix="onedock-deb-") as tmp:
        tree = Path(tmp) / "root"
        tree.mkdir()
        stage(wheel, tree, version)
        partial = Path(tmp) / out.name
        _run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(partial)],
             "dpkg-deb --build", timeout=300)
        shutil.move(partial, out.with_name(f".{out.name}.tmp"))
        os.replace(out.with_name(f".{out.name}.tmp"), out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output directory")
    parser.add_argument("--wheel", type=Path, help="default: <dist>/onedock-<version>-*.whl")
    opts = parser.parse_args(argv)
    version = project_version()
    wheel = opts.wheel or opts.dist / f"onedock-{version}-py3-none-any.whl"
    try:
        print(build(wheel, opts.dist, version))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
