"""Pure unit tests of oned's messages as drivers see them: the replayable examples in
lab/protocol/ must parse to the documented values, and hostile documents or arguments must be
refused with a one-line OneDockError."""

from __future__ import annotations

import base64

import pytest

from lab.documents import PROTOCOL
from onedock.errors import OneDockError
from onedock.one import xmldoc
from onedock.one.datastore import parse_ds_action
from onedock.one.transfer import HostPath, host_path, hostname, number, source
from onedock.one.vm import parse_vm, parse_vm_base64

DS_CP_B64 = (PROTOCOL / "ds_cp.b64").read_bytes()
DS_CP_XML = (PROTOCOL / "ds_cp.xml").read_bytes()
LXC_XML = (PROTOCOL / "lxc_deployment.xml").read_bytes()
VMM_B64 = (PROTOCOL / "vmm_deploy.b64").read_bytes()

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE lolz [\n'
    ' <!ENTITY lol "lol">\n'
    ' <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    ' <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n'
    ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
    ' <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">\n'
    ' <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">\n'
    ' <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">\n'
    ' <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">\n'
    ' <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">\n'
    ' <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">\n'
    "]>\n"
    "<{root}><DATASTORE><ID>1</ID><NAME>&lol9;</NAME></DATASTORE><ID>1</ID></{root}>"
)
XXE = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
    "<{root}><DATASTORE><ID>1</ID><NAME>&e;</NAME></DATASTORE><ID>1</ID></{root}>"
)
DS_ROOT = "DS_DRIVER_ACTION_DATA"


def b64(text: str | bytes) -> bytes:
    return base64.b64encode(text.encode() if isinstance(text, str) else text)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "\r" not in text, text
    return text


# =========================================================================== xmldoc


def test_xmldoc_parse_and_helpers():
    doc = xmldoc.parse(
        "<R><A> x </A><N>-3</N><E/><T><K>v</K><V><SUB>1</SUB></V><Z></Z></T></R>", "R", "doc"
    )
    assert xmldoc.text(doc, "A") == "x"
    assert xmldoc.text(doc, "E", "dflt") == "dflt"
    assert xmldoc.text(doc, "MISSING", "dflt") == "dflt"
    assert xmldoc.text(None, "A", "d") == "d"
    assert xmldoc.integer(doc, "N", "doc") == -3
    assert xmldoc.integer(doc, "MISSING", "doc", 5) == 5
    # vector attributes (elements with children) are skipped, empty ones kept as ""
    assert xmldoc.flat(doc.find("T")) == {"K": "v", "Z": ""}
    assert xmldoc.flat(None) == {}


def test_xmldoc_integer_errors():
    doc = xmldoc.parse("<R><N>12abc</N><L>" + "9" * 30 + "x" * 100 + "</L></R>", "R", "doc")
    with pytest.raises(OneDockError, match=r"^doc lacks MISSING$"):
        xmldoc.integer(doc, "MISSING", "doc")
    with pytest.raises(OneDockError, match=r"^doc: N is not an integer: '12abc'$"):
        xmldoc.integer(doc, "N", "doc")
    with pytest.raises(OneDockError) as exc:
        xmldoc.integer(doc, "L", "doc")
    assert str(exc.value) == f"doc: L is not an integer: '{'9' * 30 + 'x' * 10}'"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (BILLION_LAUGHS.format(root="R"), r"uses forbidden XML constructs \(DTDForbidden\)"),
        (XXE.format(root="R"), r"uses forbidden XML constructs \(DTDForbidden\)"),
        ('<!DOCTYPE R SYSTEM "http://example.invalid/x.dtd"><R/>', "forbidden XML constructs"),
        ("<R><A></R>", "is not well-formed XML"),
        ("<R>", "is not well-formed XML"),
        ("not xml at all", "is not well-formed XML"),
        ("<R/><R/>", "is not well-formed XML"),
        ("<Q/>", r"has root <Q>, expected <R>"),
        ("<r/>", r"has root <r>, expected <R>"),
        ("", r"^doc is empty$"),
        ("   \n\t", r"^doc is empty$"),
    ],
)
def test_xmldoc_parse_refuses(data, match):
    with pytest.raises(OneDockError, match=match) as exc:
        xmldoc.parse(data, "R", "doc")
    assert _one_line(exc).startswith("doc ")


def test_xmldoc_parse_refuses_oversize_before_parsing():
    big = b"<R>" + b"a" * (xmldoc.MAX_DOCUMENT) + b"</R>"
    with pytest.raises(OneDockError, match=r"^doc is larger than 8 MiB, refusing to parse$"):
        xmldoc.parse(big, "R", "doc")
    # a not-well-formed oversize document is refused for its size, not parsed
    with pytest.raises(OneDockError, match="larger than 8 MiB"):
        xmldoc.parse(b"<" * (xmldoc.MAX_DOCUMENT + 1), "R", "doc")
    # just under the limit still parses
    ok = b"<R>" + b"a" * (xmldoc.MAX_DOCUMENT - 7) + b"</R>"
    assert len(ok) == xmldoc.MAX_DOCUMENT
    assert len(xmldoc.parse(ok, "R", "doc").text) == xmldoc.MAX_DOCUMENT - 7


def test_decode_base64():
    assert xmldoc.decode_base64(b64("<R/>"), "x") == b"<R/>"
    assert xmldoc.decode_base64(b64("<R/>").decode() + "\n", "x") == b"<R/>"
    with pytest.raises(OneDockError, match=r"^x is empty \(expected base64 on stdin\)$"):
        xmldoc.decode_base64(b"", "x")
    with pytest.raises(OneDockError, match=r"^x is empty"):
        xmldoc.decode_base64(" \n", "x")
    for bad in [b"not base64!!", b"PER", b"PE RT", b"====", "PERTé==", b"PE\nRT"]:
        with pytest.raises(OneDockError, match=r"^x is not valid base64: ") as exc:
            xmldoc.decode_base64(bad, "x")
        _one_line(exc)
    too_big = b"A" * (xmldoc.MAX_DOCUMENT * 4 // 3 + 8)
    with pytest.raises(OneDockError, match="larger than 8 MiB, refusing to decode"):
        xmldoc.decode_base64(too_big, "x")


# =========================================================================== datastore


def test_protocol_files_agree():
    assert not DS_CP_B64.endswith(b"\n")
    assert base64.b64decode(DS_CP_B64) == DS_CP_XML


@pytest.mark.parametrize(
    "payload", [DS_CP_B64, DS_CP_B64.decode(), DS_CP_B64 + b"\n", b"  " + DS_CP_B64 + b"\r\n"]
)
def test_ds_cp_example(payload):
    action = parse_ds_action(payload)
    image, ds = action.image, action.datastore
    assert image is not None
    assert image.id == 7
    assert image.name == "alpine-rootfs"
    assert image.type == "OS"
    assert image.path == "/var/tmp/alpine-rootfs.raw"
    assert image.source == ""
    assert image.format == "raw"
    assert image.fs == ""
    assert image.size_mb == 256
    assert image.persistent is False
    assert image.cloning_id == -1
    assert image.template == {"DEV_PREFIX": "vd"}
    assert ds.id == 1
    assert ds.name == "default"
    assert ds.ds_mad == "fs"
    assert ds.tm_mad == "ssh"
    assert ds.base_path == "/var/lib/one//datastores/1"
    assert ds.type == 0
    assert ds.template["SAFE_DIRS"] == "/var/tmp"
    assert ds.template["RESTRICTED_DIRS"] == "/"
    assert ds.template["TYPE"] == "IMAGE_DS"
    assert ds.dirs("SAFE_DIRS") == ["/var/tmp"]
    assert ds.dirs("RESTRICTED_DIRS") == ["/"]
    assert ds.dirs("NOT_THERE") == []


def test_ds_action_variants():
    xml = DS_CP_XML.decode()
    xml = xml.replace("<TYPE>0</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>0</PERSISTENT>",
                      "<TYPE>2</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>1</PERSISTENT>")
    xml = xml.replace("<SOURCE></SOURCE>", "<SOURCE>onedock/image-7</SOURCE>")
    xml = xml.replace("<SAFE_DIRS>/var/tmp</SAFE_DIRS>", "<SAFE_DIRS> /a  /b\t/c </SAFE_DIRS>")
    action = parse_ds_action(b64(xml))
    assert action.image.type == "DATABLOCK"
    assert action.image.persistent is True
    assert action.image.source == "onedock/image-7"
    assert action.datastore.dirs("SAFE_DIRS") == ["/a", "/b", "/c"]


def test_ds_action_unknown_image_type_kept_verbatim():
    xml = DS_CP_XML.decode().replace(
        "<TYPE>0</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>",
        "<TYPE>9</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>",
    )
    assert parse_ds_action(b64(xml)).image.type == "9"


def test_ds_action_without_image():
    action = parse_ds_action(b64(f"<{DS_ROOT}><DATASTORE><ID>100</ID></DATASTORE></{DS_ROOT}>"))
    assert action.image is None
    assert action.datastore.id == 100
    assert action.datastore.type == 0
    assert action.datastore.template == {}


HOSTILE_DS = [
    (b"not base64!!", r"^DS_DRIVER_ACTION_DATA is not valid base64: "),
    (b"PER", r"^DS_DRIVER_ACTION_DATA is not valid base64: "),
    ("PERTé", r"^DS_DRIVER_ACTION_DATA is not valid base64: "),
    (b"", r"^DS_DRIVER_ACTION_DATA is empty \(expected base64 on stdin\)$"),
    (b"\n", r"^DS_DRIVER_ACTION_DATA is empty \(expected base64 on stdin\)$"),
    (b64(" \n"), r"^DS_DRIVER_ACTION_DATA is empty$"),
    (b64(BILLION_LAUGHS.format(root=DS_ROOT)), r"forbidden XML constructs \(DTDForbidden\)"),
    (b64(XXE.format(root=DS_ROOT)), r"forbidden XML constructs \(DTDForbidden\)"),
    (b64(LXC_XML), r"has root <VM>, expected <DS_DRIVER_ACTION_DATA>$"),
    (b64(f"<{DS_ROOT}><DATASTORE><ID>1</ID></DATASTORE>"), "is not well-formed XML"),
    (b64(f"<{DS_ROOT}><IMAGE><ID>7</ID></IMAGE></{DS_ROOT}>"), r"lacks <DATASTORE>$"),
    (b64(f"<{DS_ROOT}><DATASTORE><NAME>x</NAME></DATASTORE></{DS_ROOT}>"), r"lacks ID$"),
    (b64(f"<{DS_ROOT}><DATASTORE><ID>1; rm -rf /</ID></DATASTORE></{DS_ROOT}>"),
     r"ID is not an integer: '1; rm -rf /'$"),
    (b64(f"<{DS_ROOT}><DATASTORE><ID>one</ID></DATASTORE></{DS_ROOT}>"),
     r"ID is not an integer: 'one'$"),
    (b64(f"<{DS_ROOT}><DATASTORE><ID>1</ID><TYPE>x</TYPE></DATASTORE></{DS_ROOT}>"),
     r"TYPE is not an integer: 'x'$"),
    (b64(f"<{DS_ROOT}><IMAGE><ID>abc</ID></IMAGE><DATASTORE><ID>1</ID></DATASTORE></{DS_ROOT}>"),
     r"ID is not an integer: 'abc'$"),
    (b64(f"<{DS_ROOT}><IMAGE><SIZE>big</SIZE></IMAGE><DATASTORE><ID>1</ID></DATASTORE>"
         f"</{DS_ROOT}>"), r"SIZE is not an integer: 'big'$"),
]


@pytest.mark.parametrize(("payload", "match"), HOSTILE_DS)
def test_ds_action_refuses(payload, match):
    with pytest.raises(OneDockError, match=match) as exc:
        parse_ds_action(payload)
    assert _one_line(exc).startswith("DS_DRIVER_ACTION_DATA")


def test_ds_action_refuses_oversize():
    padding = "<!--" + "x" * (xmldoc.MAX_DOCUMENT) + "-->"
    payload = b64(DS_CP_XML.decode().replace("<IMAGE>", padding + "<IMAGE>", 1))
    with pytest.raises(OneDockError, match="larger than 8 MiB") as exc:
        parse_ds_action(payload)
    _one_line(exc)


def test_ds_action_refuses_oversize_xml_in_small_base64():
    # the document limit applies after decoding, too (whitespace is cheap to pad with)
    root = DS_ROOT.encode()
    xml = b"<" + root + b">" + b" " * xmldoc.MAX_DOCUMENT + b"</" + root + b">"
    with pytest.raises(OneDockError, match="larger than 8 MiB"):
        parse_ds_action(b64(xml))


# =========================================================================== vm


def _check_lxc_vm(vm):
    assert vm.id == 42
    assert vm.name == "alpine-42"
    assert vm.deploy_id == ""
    assert vm.cpu == 0.5
    assert vm.vcpu == 0
    assert vm.memory_mb == 128
    assert vm.ds_id == 0
    assert vm.hostname == "node01"
    assert len(vm.disks) == 1
    disk = vm.disks[0]
    assert disk.disk_id == 0
    assert disk.source == "/var/lib/one//datastores/1/3a5f6f2b9d1c4e7f8a0b1c2d3e4f5a6b"
    assert disk.tm_mad == "ssh"
    assert disk.type == "FILE"
    assert disk.image_id == 7
    assert disk.clone is True
    assert disk.target == "vda"
    assert disk.attrs["DRIVER"] == "raw"
    assert disk.attrs["IMAGE"] == "alpine-rootfs"
    assert len(vm.nics) == 1
    nic = vm.nics[0]
    assert nic.nic_id == 0
    assert nic.ip == "192.168.150.100"
    assert nic.mac == "02:00:c0:a8:96:64"
    assert nic.bridge == "br0"
    assert nic.attrs["NETWORK"] == "public"
    assert nic.attrs["TARGET"] == "one-42-0"
    assert vm.context["ETH0_IP"] == "192.168.150.100"
    assert vm.context["ETH0_MAC"] == "02:00:c0:a8:96:64"
    assert vm.context["NETWORK"] == "YES"
    assert vm.context["DISK_ID"] == "1"
    assert vm.context["SSH_PUBLIC_KEY"].startswith("ssh-ed25519 ")
    assert vm.user_template == {"HYPERVISOR": "lxc"}


def test_lxc_deployment_example():
    assert not LXC_XML.endswith(b"\n")
    _check_lxc_vm(parse_vm(LXC_XML))
    _check_lxc_vm(parse_vm(LXC_XML.decode()))


def test_lxc_deployment_example_base64():
    _check_lxc_vm(parse_vm_base64(b64(LXC_XML)))
    _check_lxc_vm(parse_vm_base64(b64(LXC_XML).decode() + "\n"))


def test_minimal_vm_defaults():
    vm = parse_vm("<VM><ID>3</ID></VM>")
    assert vm.id == 3
    assert vm.cpu == 1.0
    assert vm.vcpu == 0
    assert vm.memory_mb == 0
    assert vm.disks == [] and vm.nics == []
    assert vm.context == {} and vm.user_template == {}
    assert vm.ds_id == -1
    assert vm.hostname == ""


def test_vm_multiple_disks_and_nics_in_order():
    vm = parse_vm(
        "<VM><ID>5</ID><TEMPLATE>"
        "<DISK><DISK_ID>0</DISK_ID><SOURCE>onedock/image-7</SOURCE><TM_MAD>onedock</TM_MAD></DISK>"
        "<DISK><DISK_ID>2</DISK_ID><CLONE>no</CLONE></DISK>"
        "<NIC><NIC_ID>0</NIC_ID></NIC><NIC><NIC_ID>1</NIC_ID><IP>10.0.0.2</IP></NIC>"
        "<VCPU>2</VCPU><CPU>1.5</CPU>"
        "</TEMPLATE></VM>"
    )
    assert [d.disk_id for d in vm.disks] == [0, 2]
    assert vm.disks[0].source == "onedock/image-7"
    assert vm.disks[0].tm_mad == "onedock"
    assert vm.disks[0].image_id == -1
    assert vm.disks[1].clone is False
    assert [n.nic_id for n in vm.nics] == [0, 1]
    assert vm.nics[1].ip == "10.0.0.2"
    assert vm.vcpu == 2
    assert vm.cpu == 1.5


HOSTILE_VM = [
    (b"", r"^VM document is empty$"),
    (BILLION_LAUGHS.format(root="VM"), r"forbidden XML constructs \(DTDForbidden\)"),
    (XXE.format(root="VM"), r"forbidden XML constructs \(DTDForbidden\)"),
    (DS_CP_XML, r"has root <DS_DRIVER_ACTION_DATA>, expected <VM>$"),
    (LXC_XML[:-5], "is not well-formed XML"),
    (b"<VM><ID>42abc</ID></VM>", r"ID is not an integer: '42abc'$"),
    (b"<VM><NAME>x</NAME></VM>", r"lacks ID$"),
    (b"<VM><ID>1</ID><TEMPLATE><MEMORY>lots</MEMORY></TEMPLATE></VM>",
     r"MEMORY is not an integer: 'lots'$"),
    (b"<VM><ID>1</ID><TEMPLATE><DISK><SOURCE>x</SOURCE></DISK></TEMPLATE></VM>",
     r"lacks DISK_ID$"),
    (b"<VM><ID>1</ID><TEMPLATE><NIC><IP>x</IP></NIC></TEMPLATE></VM>", r"lacks NIC_ID$"),
    (b"<VM><ID>1</ID><TEMPLATE><DISK><DISK_ID>0;reboot</DISK_ID></DISK></TEMPLATE></VM>",
     r"DISK_ID is not an integer"),
    (b"<VM><ID>1</ID><HISTORY_RECORDS><HISTORY><DS_ID>x</DS_ID></HISTORY></HISTORY_RECORDS></VM>",
     r"DS_ID is not an integer: 'x'$"),
]


@pytest.mark.parametrize(("data", "match"), HOSTILE_VM)
def test_parse_vm_refuses(data, match):
    with pytest.raises(OneDockError, match=match) as exc:
        parse_vm(data)
    assert _one_line(exc).startswith("VM document")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"***", r"^VM document on stdin is not valid base64"),
        (b"", r"^VM document on stdin is empty \(expected base64 on stdin\)$"),
        (VMM_B64, r"has root <VMM_DRIVER_ACTION_DATA>, expected <VM>$"),
        (b64(XXE.format(root="VM")), "forbidden XML constructs"),
        (b64(b"<VM>" + b" " * xmldoc.MAX_DOCUMENT + b"</VM>"), "larger than 8 MiB"),
    ],
)
def test_parse_vm_base64_refuses(data, match):
    with pytest.raises(OneDockError, match=match) as exc:
        parse_vm_base64(data, "VM document on stdin")
    _one_line(exc)


def test_parse_vm_refuses_oversize():
    with pytest.raises(OneDockError, match=r"^VM document is larger than 8 MiB"):
        parse_vm(b"<VM><ID>1</ID>" + b" " * xmldoc.MAX_DOCUMENT + b"</VM>")


# =========================================================================== transfer


def test_host_path_disk():
    hp = host_path("node01:/var/lib/one//datastores/0/42/disk.0")
    assert hp == HostPath("node01", "/var/lib/one/datastores/0/42/disk.0")
    assert hp.host == "node01"
    assert hp.path == "/var/lib/one/datastores/0/42/disk.0"
    assert hp.disk_id == 0
    assert str(hp) == "node01:/var/lib/one/datastores/0/42/disk.0"


def test_host_path_directory():
    hp = host_path("node01:/var/lib/one//datastores/0/42")
    assert hp.path == "/var/lib/one/datastores/0/42"
    assert hp.disk_id is None
    assert host_path("node01:/var/lib/one//datastores/0/42/").path == "/var/lib/one/datastores/0/42"
    assert host_path("node01:/").path == "/"
    assert host_path("node01:///").path == "/"


@pytest.mark.parametrize(
    ("path", "disk_id"),
    [("/d/42/disk.12", 12), ("/d/42/disk.007", 7), ("/d/42/disk.999999", 999999),
     ("/d/42/disk.1234567", None), ("/d/42/disk.0.snap", None), ("/d/42/disk.x", None),
     ("/d/42/disk.", None), ("/d/42/disk.0/", 0), ("/d/42/mydisk.0", None),
     ("/d/disk.3/42", None)],
)
def test_host_path_disk_id(path, disk_id):
    assert host_path(f"node01.example.com:{path}").disk_id == disk_id


def test_host_path_keeps_fqdn_and_splits_at_first_colon():
    hp = host_path("node-01.example.com:/a/b:c")
    assert hp.host == "node-01.example.com"
    assert hp.path == "/a/b:c"


@pytest.mark.parametrize(
    ("arg", "match"),
    [
        ("node01;reboot:/x", r"^disk 'node01;reboot' is not a valid host name$"),
        ("-oProxyCommand=x:/y", r"^disk '-oProxyCommand=x' is not a valid host name$"),
        ("-node01:/x", "is not a valid host name"),
        ("node_01:/x", "is not a valid host name"),
        ("node 01:/x", "is not a valid host name"),
        ("$(id):/x", "is not a valid host name"),
        (":/x", "is not a valid host name"),
        ("user@node01:/x", "is not a valid host name"),
        ("node01.:/x", "is not a valid host name"),
        ("a" * 64 + ":/x", "is not a valid host name"),
        ("node01:relative/path", r"^disk 'node01:relative/path' has an unsafe path$"),
        ("node01:/a/../b", "has an unsafe path"),
        ("node01:/a/..", "has an unsafe path"),
        ("node01:/..", "has an unsafe path"),
        ("node01:/a//..//b", "has an unsafe path"),
        ("node01:/a/b\0c", "has an unsafe path"),
        ("node01", r"^disk 'node01' is not host:path$"),
        ("/var/lib/one/datastores/0/42/disk.0", "is not host:path"),
        ("", r"^disk '' is not host:path$"),
    ],
)
def test_host_path_refuses(arg, match):
    with pytest.raises(OneDockError, match=match) as exc:
        host_path(arg, "disk")
    _one_line(exc)


def test_host_path_error_is_truncated():
    with pytest.raises(OneDockError) as exc:
        host_path("x" * 500)
    assert str(exc.value) == f"argument '{'x' * 80}' is not host:path"


def test_host_path_refuses_empty_path():
    with pytest.raises(OneDockError, match="has an unsafe path"):
        host_path("node01:", "disk")


@pytest.mark.parametrize(
    "value", ["node01", "one-fe", "n", "node-01.example.com", "10.0.0.1", "a" * 63, "NODE01"]
)
def test_hostname_ok(value):
    assert hostname(value) == value


@pytest.mark.parametrize(
    "value", ["", "-node", "node-", "node_01", "node 01", "node..x", ".node", "a" * 64,
              ".".join(["a" * 63] * 4) + ".a", "node;reboot", "node$(id)", "[::1]"]
)
def test_hostname_refuses(value):
    with pytest.raises(OneDockError, match=r"^source host '.*' is not a valid host name$"):
        hostname(value, "source host")


def test_hostname_refuses_trailing_newline():
    with pytest.raises(OneDockError):
        hostname("node01\n")


@pytest.mark.parametrize(
    ("arg", "value"), [("0", 0), ("42", 42), ("007", 7), ("999999999", 999999999)]
)
def test_number_ok(arg, value):
    assert number(arg, "vmid") == value


@pytest.mark.parametrize(
    "arg", ["1;2", "", "abc", " 1", "1 ", "1\n", "+1", "1.0", "0x10", "1234567890", "--1", "-1"]
)
def test_number_refuses(arg):
    with pytest.raises(OneDockError, match=r"^vmid '.*' is not a number \(0 or more\)$") as exc:
        number(arg, "vmid")
    _one_line(exc)


def test_source():
    assert source("one-fe:onedock/image-7") == "onedock/image-7"
    assert source("onedock/image-7") == "onedock/image-7"
    assert source("fe.example.com:one/images/image-12") == "one/images/image-12"


@pytest.mark.parametrize(
    "arg",
    ["one-fe:onedock/x;reboot", "onedock/x;reboot", "one-fe:", "", "one-fe:/onedock/x",
     "one-fe:onedock/../x", "one-fe:OneDock/x", "one-fe:onedock/x y", "one-fe:$(id)",
     "one-fe:onedock/image-7:latest", "one-fe:" + "a" * 256],
)
def test_source_refuses(arg):
    match = "image SOURCE: .* is not a valid repository name"
    with pytest.raises(OneDockError, match=match) as exc:
        source(arg)
    _one_line(exc)


def test_source_refuses_trailing_newline():
    with pytest.raises(OneDockError):
        source("one-fe:onedock/image-7\n")
