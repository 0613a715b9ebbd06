"""Entry points: driver actions run by OpenNebula, and the `onedock` command for operators.

All errors end here: a OneDockError becomes one line on stderr and exit 1; nothing else is
printed on stdout but what oned reads from the action.
"""

from __future__ import annotations

import os
import sys

from onedock.errors import OneDockError

EXIT_FAILURE = 1  # never 42: oned reads that as "remotes missing" and re-copies them


def _datastore_payload(argv: list[str]) -> bytes:
    """6.8+ passes `<id>` and the base64 on stdin; 6.6 and older `<base64> <id>` (or `- <id>`)."""
    if len(argv) == 2 and argv[0] != "-":
        return argv[0].encode()
    if len(argv) not in (1, 2):
        raise OneDockError(f"expected the request id as the only argument, got {len(argv)}")
    return sys.stdin.buffer.read()


def run_action(family: str, action: str, argv: list[str], remotes_root: str | None) -> int:
    if family == "vmm":
        _buffer_stdin()  # one_vmm_exec writes all of stdin before it reads our answer
    try:
        from onedock import config

        cfg = config.load(remotes_root)
        if family == "datastore":
            from onedock.drivers import datastore

            func = datastore.ACTIONS.get(action)
            arg = _datastore_payload(argv) if func else None
        elif family == "tm":
            from onedock.drivers import tm

            func = tm.ACTIONS.get(action)
            arg = argv
        elif family == "vmm":
            from onedock.drivers import vmm

            func = vmm.ACTIONS.get(action)
            arg = argv
        else:
            func = None
        if func is None:
            raise OneDockError(f"onedock has no {family} action '{action}'")
        out = func(cfg, arg)
        if out:
            sys.stdout.write(out if out.endswith("\n") else out + "\n")
            sys.stdout.flush()
        return 0
    except OneDockError as exc:
        return _fail(f"{family}/{action}: {exc}")
    except KeyboardInterrupt:
        return _fail(f"{family}/{action}: interrupted")
    except Exception as exc:  # a bug: still one line for oned, details with ONEDOCK_DEBUG
        if os.environ.get("ONEDOCK_DEBUG"):
            import traceback

            traceback.print_exc()
        return _fail(f"{family}/{action}: internal error: {type(exc).__name__}: {exc}")


def _buffer_stdin() -> None:
    import io

    data = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    sys.stdin = io.TextIOWrapper(io.BytesIO(data))


def _fail(message: str) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()
    return EXIT_FAILURE


def probe_main(script: str, group: str, probe: str) -> None:
    """Run a monitoring probe: <remotes>/im/onedock-probes.d/<group>/<probe>/<file>."""
    root = os.path.abspath(script)
    for _ in range(5):
        root = os.path.dirname(root)
    try:
        from onedock import config
        from onedock.monitor.probes import run

        out = run(config.load(root), (group, probe), sys.argv[1:], sys.stdin.buffer.read())
    except OneDockError as exc:
        sys.exit(_fail(f"im/{group}/{probe}: {exc}"))
    except Exception as exc:  # a bug: one line for monitord all the same
        sys.exit(_fail(f"im/{group}/{probe}: internal error: {type(exc).__name__}: {exc}"))
    if out:
        sys.stdout.write(out + "\n")


def driver_main(script: str) -> None:
    """Run the action a remotes shim stands for: <remotes>/<family>/onedock/<action>."""
    folder, action = os.path.split(os.path.abspath(script))
    family_dir = os.path.dirname(folder)
    family = os.path.basename(family_dir)
    sys.exit(run_action(family, action, sys.argv[1:], os.path.dirname(family_dir)))


def _install(opts) -> int:
    from onedock.install import plans, run
    from onedock.install.layout import Layout

    layout = Layout(opts.prefix, opts.one_location)
    try:
        if opts.command == "uninstall":
            return run.uninstall(layout, opts.role, opts.dry_run)
        if opts.role == "frontend":
            plan = plans.frontend(layout, plans.FrontendOptions(
                registry=opts.registry, registry_insecure=opts.registry_insecure,
                registry_listen=opts.registry_listen, registry_storage=opts.registry_storage,
                registry_user=opts.registry_user, tls_cert=opts.tls_cert,
                tls_key=opts.tls_key, htpasswd=opts.htpasswd, python=opts.python))
        else:
            plan = plans.host(layout, plans.HostOptions(
                registry=opts.registry, registry_insecure=opts.registry_insecure,
                registry_ca=opts.registry_ca, user=opts.user, helper=opts.helper))
        return run.install(layout, opts.role, plan, opts.dry_run)
    except OneDockError as exc:
        return _fail(f"onedock {opts.command} {opts.role}: {exc}")


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="onedock", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rem = sub.add_parser("remotes", help="write the driver tree into an OpenNebula remotes dir")
    rem.add_argument("--dest", required=True, type=Path, help="e.g. /var/lib/one/remotes")
    rem.add_argument("--python", help="interpreter for the shims (default: this one)")
    act = sub.add_parser("action", help="run one driver action as oned would")
    act.add_argument("family", choices=["datastore", "tm", "vmm"])
    act.add_argument("action")
    act.add_argument("args", nargs=argparse.REMAINDER)
    act.add_argument("--remotes", type=Path, help="remotes dir holding etc/onedock/onedock.conf")
    sub.add_parser("version", help="print the version")
    for verb in ("install", "uninstall"):
        inst = sub.add_parser(verb, help=f"{verb} onedock on a front-end or a host")
        inst.add_argument("role", choices=["frontend", "host"])
        inst.add_argument("--prefix", default="", help="scratch root prepended to every path")
        inst.add_argument("--one-location", default="", help="self-contained ONE_LOCATION")
        inst.add_argument("--dry-run", action="store_true", help="show the plan and diffs only")
        if verb == "install":
            inst.add_argument("--registry", default="", help="private registry host:port")
            inst.add_argument("--registry-insecure", action="store_true",
                              help="plain HTTP registry (trusted networks only)")
            inst.add_argument("--registry-listen", default=":5000")
            inst.add_argument("--registry-storage", default="/var/lib/onedock-registry")
            inst.add_argument("--registry-user", default="docker-registry")
            inst.add_argument("--tls-cert", default="")
            inst.add_argument("--tls-key", default="")
            inst.add_argument("--htpasswd", default="", help="htpasswd file for registry auth")
            inst.add_argument("--registry-ca", default="", help="(host) CA of the registry")
            inst.add_argument("--user", default="oneadmin", help="(host) the sudo rule's user")
            inst.add_argument("--helper", default="", help="(host) path of onedock-nic")
            inst.add_argument("--python", default="", help="(frontend) interpreter for shims")
    opts = parser.parse_args(argv)
    if opts.command in ("install", "uninstall"):
        return _install(opts)
    if opts.command == "version":
        from onedock import __version__

        print(__version__)
        return 0
    if opts.command == "remotes":
        from onedock import remotes

        for path in remotes.write(opts.dest, opts.python):
            print(path)
        return 0
    return run_action(opts.family, opts.action, opts.args, opts.remotes)


if __name__ == "__main__":
    sys.exit(main())
