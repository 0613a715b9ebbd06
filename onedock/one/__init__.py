"""OpenNebula's side of the protocol: oned's messages parsed once into typed objects."""

import os


def is_digits(value: str, limit: int = 9) -> bool:
    """ASCII digits only, bounded: str.isdigit() also takes '²' and 5000-digit strings."""
    return 0 < len(value) <= limit and value.isascii() and value.isdigit()


def one_remotes() -> str:
    """The front-end's remotes tree, found as OpenNebula's own scripts find it."""
    location = os.environ.get("ONE_LOCATION")
    return os.path.join(location, "var", "remotes") if location else "/var/lib/one/remotes"
