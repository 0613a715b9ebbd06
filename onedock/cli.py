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


def guarded(label: str, work) -> int:
    """The one place errors become exit codes, for every entry point but the root helper
    (it imports nothing of onedock but its requests and errors; helper.root.main does the
    same there).

    `work()` returns stdout text (printed with a newline), None, or an exit code of its own
    (the install's, which prints its plan itself). A OneDockError is one line
    on stderr and exit 1; a bug is one line too ("internal error"), with its traceback when
    ONEDOCK_DEBUG is set; never exit 42, which oned reads as "remotes missing".
    """
    try:
        out = work()
    except OneDockError as exc:
        return _fail(f"{label}: {exc}")
    except KeyboardInterrupt:
        return _fail(f"{label}: interrupted")
    except OSError as exc:
        _debug()
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        return _fail(f"{label}: {exc.strerror or exc}{where}")
    except Exception as exc:  # a bug: still one line for oned, details with ONEDOCK_DEBUG
        _debug()
        return _fail(f"{label}: internal error: {type(exc).__name__}: {exc}")
    if isinstance(out, int):
        return out
    if out:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
        sys.stdout.flush()
    return 0


def _debug() -> None:
    if os.environ.get("ONEDOCK_DEBUG"):
        import traceback

        traceback.print_exc()


def run_action(family: str, action: str, argv: list[str], remotes_root: str | None) -> int:
    if family == "vmm":
        _buffer_stdin()  # one_vmm_exec writes all of stdin before it reads our answer

    def work():
        from onedock import config

        cfg = config.load(remotes_root)
        if family == "datastore":
            from onedock.drivers import datastore

            func = datastore.ACTIONS.get(action)
            arg = _datastore_payload(argv) if func else None
            if action in datastore.STEPS:
                func, arg = datastore.STEPS[action], argv
        elif family == "tm":
            from onedock.drivers import tm

            func, arg = tm.ACTIONS.get(action), argv
        elif family == "vmm":
            from onedock.drivers import vmm

            func, arg = vmm.ACTIONS.get(action), argv
        else:
            func = None
        if func is None:
            raise OneDockError(f"onedock has no {family} action '{action}'")
        return func(cfg, arg)

    return guarded(f"{family}/{action}", work)


def _buffer_stdin() -> None:
    import io

    data = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    sys.stdin = io.TextIOWrapper(io.BytesIO(data))


def _fail(message: str) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()
    return EXIT_FAILURE


def probe_main(script: str, group: str, probe: str, argv: list[str] | None = None) -> int:
    """Run a monitoring probe: <remotes>/im/onedock-probes.d/<group>/<probe>/<file>."""
    root = os.path.abspath(script)
    for _ in range(5):
        root = os.path.dirname(root)
    argv = sys.argv[1:] if argv is None else argv

    def work():
        from onedock import config
        from onedock.monitor.probes import run

        return run(config.load(root), (group, probe), argv, sys.stdin.buffer.read())

    return guarded(f"im/{group}/{probe}", work)


def driver_main(script: str, argv: list[str] | None = None) -> None:
    """Run the action a remotes shim stands for: <remotes>/<family>/onedock/<action>."""
    folder, action = os.path.split(os.path.abspath(script))
    family_dir = os.path.dirname(folder)
    family = os.path.basename(family_dir)
    argv = sys.argv[1:] if argv is None else argv
    sys.exit(run_action(family, action, argv, os.path.dirname(family_dir)))


def shim_main(argv: list[str]) -> None:
    """What a remotes launcher runs (`python -I -c SHIM_CODE ...`, see onedock.install.remotes):

    `driver <script> ARGS...` or `probe <group> <probe> <script> ARGS...`; the script's own
    path says which remotes tree (and so which onedock.conf) the action belongs to.
    """
    if len(argv) >= 2 and argv[0] == "driver":
        driver_main(argv[1], argv[2:])
    elif len(argv) >= 4 and argv[0] == "probe":
        code = probe_main(argv[3], argv[1], argv[2], argv[4:])
        # a probe has written its files and output and holds no child or thread: the
        # interpreter's teardown would only add ~2 ms to a process monitord runs every few
        # seconds on every host
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(_fail("onedock launcher: expected driver <script> ... or probe <group> <probe> "
                   "<script> ... (run it through a remotes launcher)"))


def _install(opts) -> int:
    def work() -> int:
        from onedock.install import plans, run
        from onedock.install.layout import Layout

        layout = Layout(opts.prefix, opts.one_location)
        if opts.command == "uninstall":
            return run.uninstall(layout, opts.role, opts.dry_run)
        if opts.role == "frontend":
            plan = plans.frontend(layout, plans.FrontendOptions(
                registry=opts.registry, registry_insecure=opts.registry_insecure,
                registry_listen=opts.registry_listen, registry_storage=opts.registry_storage,
                registry_user=opts.registry_user, tls_cert=opts.tls_cert,
                tls_key=opts.tls_key, htpasswd=opts.htpasswd, python=opts.python))
        else:
            host_opts = plans.HostOptions(
                registry=opts.registry, registry_insecure=opts.registry_insecure,
                registry_ca=opts.registry_ca, user=opts.user, helper=opts.helper)
            plan = plans.host(layout, host_opts)
            _host_checks(host_opts)
        return run.install(layout, opts.role, plan, opts.dry_run)

    return guarded(f"onedock {opts.command} {opts.role}", work)


def _host_checks(opts) -> None:
    """The host's prerequisites, before the plan: advisory, the files are right either way."""
    from onedock.install import checks, plans

    found = checks.host(opts.user, plans.helper_path(opts), opts.registry,
                        opts.registry_insecure)
    print("onedock host: prerequisites")
    for check in found:
        print(check.line())
    missing = sum(not check.ok for check in found)
    if missing:
        print(f"onedock host: {missing} prerequisite(s) missing: OpenNebula cannot monitor "
              "this host until they are there", file=sys.stderr)


def _remotes(opts) -> int:
    def work() -> str:
        from onedock.install import remotes

        return "\n".join(str(p) for p in remotes.write(opts.dest, opts.python,
                                                        agent=not opts.no_agent))

    return guarded("onedock remotes", work)


def _image_update(opts) -> int:
    def work() -> str:
        from onedock import config
        from onedock.one import one_remotes
        from onedock.one.api import Oned
        from onedock.registry import follow

        cfg, oned = config.load(opts.remotes or one_remotes()), Oned.from_env()
        return "\n".join(follow.update(cfg, oned, i, opts.dry_run) for i in opts.ids)

    return guarded("onedock image update", work)


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="onedock", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rem = sub.add_parser("remotes", help="write the driver tree into an OpenNebula remotes dir")
    rem.add_argument("--dest", required=True, type=Path, help="e.g. /var/lib/one/remotes")
    rem.add_argument("--python", help="interpreter the shims try first, after $ONEDOCK_PYTHON "
                     "(default: this one, where its onedock package exists)")
    rem.add_argument("--no-agent", action="store_true",
                     help="leave out im/onedock.d (OpenNebula's agent): for protocol replays")
    act = sub.add_parser("action", help="run one driver action as oned would")
    act.add_argument("family", choices=["datastore", "tm", "vmm"])
    act.add_argument("action")
    act.add_argument("args", nargs=argparse.REMAINDER)
    act.add_argument("--remotes", type=Path, help="remotes dir holding etc/onedock/onedock.conf")
    img = sub.add_parser("image", help="(front-end) onedock images in OpenNebula")
    img.add_argument("verb", choices=["update"], help="update: follow the tag an image was "
                     "registered from (new VMs get the new digest; made VMs keep theirs)")
    img.add_argument("ids", nargs="+", type=int, metavar="IMAGE_ID")
    img.add_argument("--dry-run", action="store_true", help="say what would change only")
    img.add_argument("--remotes", type=Path, help="remotes dir holding etc/onedock/onedock.conf "
                     "(default: $ONE_LOCATION/var/remotes or /var/lib/one/remotes)")
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
        return _remotes(opts)
    if opts.command == "image":
        return _image_update(opts)
    return run_action(opts.family, opts.action, opts.args, opts.remotes)


if __name__ == "__main__":
    sys.exit(main())
