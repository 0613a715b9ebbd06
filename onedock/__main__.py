import sys

from onedock.cli import main

sys.exit(main())
