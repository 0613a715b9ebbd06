"""What a probe reads of monitord's configuration on its stdin (XML, base64 when local):
SYNC_STATE_VM and DATASTORE_LOCATION, through expat alone."""

from __future__ import annotations

import base64


def settings(stdin: bytes) -> dict[str, str]:
    """PROBES_PERIOD and DATASTORE_LOCATION from monitord's config (XML, base64 when local)."""
    data = stdin.strip()
    if not data:
        return {}
    if not data.startswith(b"<"):
        try:
            data = base64.b64decode(data, validate=True)
        except ValueError:
            return {}
    found = _xml_texts(data, "MONITOR_CONFIGURATION",
                       {"MONITOR_CONFIGURATION/PROBES_PERIOD/SYNC_STATE_VM",
                        "MONITOR_CONFIGURATION/DATASTORE_LOCATION"})
    if found is None:
        return {}
    return {
        "SYNC_STATE_VM": found.get("MONITOR_CONFIGURATION/PROBES_PERIOD/SYNC_STATE_VM") or "180",
        "DATASTORE_LOCATION": found.get("MONITOR_CONFIGURATION/DATASTORE_LOCATION")
        or "/var/lib/one//datastores",
    }


def _xml_texts(data: bytes, root: str, paths: set[str]) -> dict[str, str] | None:
    """The text at each of `paths` (ELEMENT/CHILD/...), through expat alone: ElementTree and
    defusedxml are a sixth of a probe's start-up, for two values. As onedock.one.xmldoc does,
    a document type declaration (and so any entity) makes the whole document unreadable: None,
    as for one that is not well-formed or has another root."""
    from xml.parsers import expat

    if len(data) > 1 << 20:
        return None
    parser = expat.ParserCreate()
    stack: list[str] = []
    found: dict[str, str] = {}

    def refuse(*_):
        raise ValueError("DTD")

    def start(name, _attrs):
        if not stack and name != root:
            raise ValueError(name)
        stack.append(name)

    def chars(text):
        path = "/".join(stack)
        if path in paths:
            found[path] = found.get(path, "") + text

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda _name: stack.pop()
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError):
        return None
    return {path: text.strip() for path, text in found.items()}
