"""The few rtnetlink requests the root helper makes: find, create and delete links, set them up,
add an address and a default route, in the host's network namespace or a container's.

pyroute2 did this for 130 ms of import on every deploy (more than `docker run` takes to start a
container here); the messages themselves are a few structs. A socket in a container's
namespace is opened by switching this thread into it for the socket() call and back
(setns(2) on a network namespace is per thread), so nothing forks.
"""

from __future__ import annotations

import os
import socket
import struct

from onedock.helper.libc import errno, libc

NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x100, 0x200, 0x400
NLM_F_DUMP = 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 18, 20, 24
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO = 1, 3, 4, 10, 18
IFLA_NET_NS_FD, IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 28, 1, 2, 1
IFA_ADDRESS, IFA_LOCAL, RTA_GATEWAY = 1, 2, 5
IFF_UP = 1
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 254, 3, 1
CLONE_NEWNET = 0x40000000
_HEADER = struct.Struct("=LHHLL")
_IFINFO = struct.Struct("=BxHiII")


class Link:
    """A link as netlink describes it: index, name, MAC, kind (veth, bridge, '' for none)."""

    def __init__(self, index: int, attrs: dict[int, bytes]):
        self.index = index
        self.name = _text(attrs.get(IFLA_IFNAME, b""))
        self.mac = ":".join(f"{b:02x}" for b in attrs.get(IFLA_ADDRESS, b""))
        info = _attrs(attrs.get(IFLA_LINKINFO, b""))
        self.kind = _text(info.get(IFLA_INFO_KIND, b""))


def attr(kind: int, value: bytes | str | int) -> bytes:
    if isinstance(value, str):
        value = value.encode() + b"\0"
    elif isinstance(value, int):
        value = struct.pack("=I", value)
    size = 4 + len(value)
    return struct.pack("=HH", size, kind) + value + b"\0" * (-size % 4)


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


class Netlink:
    """An rtnetlink socket; every request waits for its acknowledgement or error."""

    def __init__(self, sock: socket.socket | None = None):
        self._sock = sock or socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self._sock.settimeout(10)
        self._seq = 0

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc) -> None:
        self._sock.close()

    @classmethod
    def inside(cls, pid: int) -> Netlink:
        """A socket in the network namespace of process `pid`."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc().setns(target, CLONE_NEWNET) != 0:
                    raise OSError(errno(), f"setns into pid {pid}'s network namespace")
                try:
                    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
                finally:
                    if libc().setns(own, CLONE_NEWNET) != 0:  # this thread must not stay there
                        os._exit(70)
            finally:
                os.close(target)
        finally:
            os.close(own)
        return cls(sock)

    # -- requests ---------------------------------------------------------------------------

    def link(self, name: str) -> Link | None:
        found = self._ask(RTM_GETLINK, 0, _IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_IFNAME, name),
                          missing_ok=True)
        return found[0] if found else None

    def links(self) -> list[Link]:
        return self._ask(RTM_GETLINK, NLM_F_DUMP, _IFINFO.pack(0, 0, 0, 0, 0))

    def delete(self, index: int) -> None:
        self._ask(RTM_DELLINK, 0, _IFINFO.pack(0, 0, index, 0, 0), missing_ok=True)

    def add_veth(self, name: str, master: int, mtu: int, peer: str, peer_ns_fd: int,
                 peer_mac: str) -> None:
        """A veth pair: `name` on the bridge `master` here, `peer` with its MAC in the
        namespace of `peer_ns_fd`."""
        sizes = (attr(IFLA_MTU, mtu) if mtu else b"")
        peer_msg = (_IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_IFNAME, peer) + sizes
                    + attr(IFLA_NET_NS_FD, peer_ns_fd) + attr(IFLA_ADDRESS, mac_bytes(peer_mac)))
        info = attr(IFLA_INFO_KIND, "veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_msg))
        body = (_IFINFO.pack(0, 0, 0, 0, 0) + attr(IFLA_IFNAME, name) + attr(IFLA_MASTER, master)
                + sizes + attr(IFLA_LINKINFO, info))
        self._ask(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def up(self, index: int) -> None:
        self._ask(RTM_NEWLINK, 0, _IFINFO.pack(0, 0, index, IFF_UP, IFF_UP))

    def add_address(self, index: int, ip: str, prefix: int) -> None:
        packed = socket.inet_aton(ip)
        body = struct.pack("=BBBBI", socket.AF_INET, prefix, 0, 0, index)
        self._ask(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
                  body + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed))

    def default_route(self, gateway: str) -> None:
        body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0,
                           RTN_UNICAST, 0)
        self._ask(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
                  body + attr(RTA_GATEWAY, socket.inet_aton(gateway)))

    # -- the exchange -------------------------------------------------------------------------

    def _ask(self, kind: int, flags: int, body: bytes, missing_ok: bool = False) -> list[Link]:
        self._seq += 1
        dump = (flags & NLM_F_DUMP) == NLM_F_DUMP
        flags |= NLM_F_REQUEST | (0 if dump else NLM_F_ACK)  # a dump ends with NLMSG_DONE
        self._sock.send(_HEADER.pack(_HEADER.size + len(body), kind, flags, self._seq, 0) + body)
        found: list[Link] = []
        while True:
            data = self._sock.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(data):
                size, msg_type, _, seq, _ = _HEADER.unpack_from(data, offset)
                payload = data[offset + _HEADER.size:offset + size]
                offset += (size + 3) & ~3
                if size < _HEADER.size or seq != self._seq:
                    continue
                if msg_type == NLMSG_DONE:
                    return found
                if msg_type == NLMSG_ERROR:
                    errno = -struct.unpack_from("=i", payload)[0]
                    if errno == 0:
                        return found
                    if missing_ok and errno in (19, 2):  # ENODEV, ENOENT: no such link
                        return []
                    raise OSError(errno, os.strerror(errno))
                if msg_type == RTM_NEWLINK:
                    index = _IFINFO.unpack_from(payload)[2]
                    found.append(Link(index, _attrs(payload[_IFINFO.size:])))


def _attrs(data: bytes) -> dict[int, bytes]:
    out, offset = {}, 0
    while offset + 4 <= len(data):
        size, kind = struct.unpack_from("=HH", data, offset)
        if size < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4:offset + size]
        offset += (size + 3) & ~3
    return out


def _text(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode(errors="replace")
