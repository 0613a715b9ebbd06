"""OpenNebula's side of the protocol: oned's messages parsed once into typed objects."""


def is_digits(value: str, limit: int = 9) -> bool:
    """ASCII digits only, bounded: str.isdigit() also takes '²' and 5000-digit strings."""
    return 0 < len(value) <= limit and value.isascii() and value.isdigit()
