"""`onedock install` / `onedock uninstall`: put onedock on an OpenNebula front-end or host.

Every change is planned first (and shown with --dry-run), written atomically, recorded in a
manifest so that uninstall undoes exactly what install did, and a second install changes
nothing.
"""
