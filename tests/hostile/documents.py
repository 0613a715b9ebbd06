"""What the corpus sends: injection payloads and hostile documents, raw and base64."""


from __future__ import annotations

import base64

from onedock.install.remotes import PROBES
from tests.helpers import FRONTEND

MIB = 1 << 20
FE = FRONTEND
PAYLOADS = [("semicolon", ";reboot"), ("subshell", "$(id)"), ("backtick", "`id`"),
            ("traversal", "/../../etc"), ("newline", "\nreboot"), ("ctrl", "\x1b[2J\x07")]
XML_CTRL = "\x7f\x9b2J"  # control characters XML 1.0 allows in text (ESC and BEL it does not)
PROBE_FILES = {f"{g}/{p}": f for (g, p), f in PROBES.items() if f}
DID_V = "one-@V@"  # the running VM's deploy id


# -- documents ---------------------------------------------------------------------------------

def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def _bomb(root: str) -> bytes:
    """Billion laughs: ten levels of ten references, 10^9 'lol's if anything expanded it."""
    ents = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    return f'<?xml version="1.0"?><!DOCTYPE {root} [{ents}]><{root}>&a9;</{root}>'.encode()


def _xxe(root: str) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY x SYSTEM "file:///etc/shadow">]>'
            f"<{root}><VM><ID>&x;</ID></VM></{root}>").encode()


def _oversized(root: str) -> bytes:
    return f"<{root}><PAD>".encode() + b"A" * (8 * MIB + 1) + f"</PAD></{root}>".encode()


def _truncated(root: str) -> bytes:
    return f"<{root}><VM><ID>1</ID><TEMPLATE><DISK><SOURCE>".encode()


BINARY = bytes(range(1, 256)) * 8  # no NUL, not UTF-8, not XML

DS_DOCS = {
    "bad-base64": b"PERTX0RSSVZFUl9BQ1RJT05fREFUQT4*!!",
    "empty": b"",
    "truncated-xml": b64(_truncated("DS_DRIVER_ACTION_DATA")),
    "wrong-root": b64(b"<VM><ID>1</ID></VM>"),
    "xml-bomb": b64(_bomb("DS_DRIVER_ACTION_DATA")),
    "external-entity": b64(_xxe("DS_DRIVER_ACTION_DATA")),
    "oversized": b64(_oversized("DS_DRIVER_ACTION_DATA")),
    "binary": b64(BINARY),
}
VMM_DOCS = {
    "truncated-xml": _truncated("VMM_DRIVER_ACTION_DATA"),
    "xml-bomb": _bomb("VMM_DRIVER_ACTION_DATA"),
    "external-entity": _xxe("VMM_DRIVER_ACTION_DATA"),
    "oversized": _oversized("VMM_DRIVER_ACTION_DATA"),
}
DEPLOY_DOCS = {
    "empty": b"",
    "binary": BINARY,
    "truncated-xml": _truncated("VM"),
    "xml-bomb": _bomb("VM"),
    "external-entity": _xxe("VM"),
    "oversized": _oversized("VM"),
    "deep-nesting": b"<VM><ID>1</ID>" + b"<X>" * 200_000 + b"</X>" * 200_000 + b"</VM>",
}
TM_VM_DOCS = {
    "bad-base64": b"<VM><ID>1</ID></VM>",
    "truncated-xml": b64(_truncated("VM")),
    "xml-bomb": b64(_bomb("VM")),
    "external-entity": b64(_xxe("VM")),
    "oversized": b64(_oversized("VM")),
}



PROBE_CONFIG = (b"<MONITOR_CONFIGURATION><PROBES_PERIOD><SYNC_STATE_VM>180</SYNC_STATE_VM>"
                b"</PROBES_PERIOD><DATASTORE_LOCATION>/nonexistent</DATASTORE_LOCATION>"
                b"</MONITOR_CONFIGURATION>")

PROBE_DOCS = {
    "xml-bomb": _bomb("MONITOR_CONFIGURATION"),
    "external-entity": _xxe("MONITOR_CONFIGURATION"),
    "oversized": _oversized("MONITOR_CONFIGURATION"),
    "sync_period-not_a_number": PROBE_CONFIG.replace(b">180<", b">soon<"),
}
