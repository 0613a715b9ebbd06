"""Safe parsing of the XML documents oned hands to drivers.

Drivers parse documents that embed user-controlled template values, so parsing refuses DTDs and
entities (no billion-laughs, no external entities) and caps the size before parsing at all.
"""

from __future__ import annotations

import base64
import binascii
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from onedock.errors import OneDockError

MAX_DOCUMENT = 8 << 20  # oned's largest messages (VMs with many disks/NICs) are a few 100 KiB


def parse(data: bytes | str, root: str, what: str) -> Element:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_DOCUMENT:
        raise OneDockError(f"{what} is larger than {MAX_DOCUMENT >> 20} MiB, refusing to parse")
    if not data.strip():
        raise OneDockError(f"{what} is empty")
    try:
        doc = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise OneDockError(f"{what} uses forbidden XML constructs ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise OneDockError(f"{what} is not well-formed XML: {exc}") from exc
    if doc.tag != root:
        raise OneDockError(f"{what} has root <{doc.tag}>, expected <{root}>")
    return doc


def decode_base64(data: bytes | str, what: str) -> bytes:
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    data = data.strip()
    if len(data) > MAX_DOCUMENT * 4 // 3 + 4:
        raise OneDockError(f"{what} is larger than {MAX_DOCUMENT >> 20} MiB, refusing to decode")
    if not data:
        raise OneDockError(f"{what} is empty (expected base64 on stdin)")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OneDockError(f"{what} is not valid base64: {exc}") from exc


def text(elem: Element | None, path: str, default: str = "") -> str:
    if elem is None:
        return default
    found = elem.find(path)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def integer(elem: Element | None, path: str, what: str, default: int | None = None) -> int:
    value = text(elem, path)
    if value == "":
        if default is None:
            raise OneDockError(f"{what} lacks {path}")
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise OneDockError(f"{what}: {path} is not an integer: '{value[:40]}'") from exc


def flat(elem: Element | None) -> dict[str, str]:
    """Single-valued children of a template element (vector attributes are skipped)."""
    if elem is None:
        return {}
    return {child.tag: (child.text or "").strip() for child in elem if len(child) == 0}
