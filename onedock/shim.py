"""The module a remotes launcher execs: `python -I -m onedock.shim driver|probe ...`.

Kept apart from onedock.cli's `main` so an action's start-up imports no argparse.
"""

import sys

if __name__ == "__main__":
    from onedock.cli import shim_main

    shim_main(sys.argv[1:])
