"""Pure unit tests of onedock.registry.reference: the docker reference grammar and its guards."""

from __future__ import annotations

import pytest

from onedock.errors import OneDockError
from onedock.registry.reference import (
    DOCKER_HUB,
    DOCKER_HUB_API,
    Reference,
    parse,
    validate_digest,
    validate_registry_host,
    validate_repository,
    validate_tag,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER_DIGEST = "sha256:" + "f" * 64


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "\r" not in text, text
    return text


# --------------------------------------------------------------------------- parse(): valid


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("busybox", "docker.io", "library/busybox", "latest", None),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("library/busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("user/app", "docker.io", "user/app", "latest", None),
        ("user/app/sub:v1", "docker.io", "user/app/sub", "v1", None),
        # no '.', ':' or 'localhost' in the first component: it is a Hub namespace
        ("myhost/app", "docker.io", "myhost/app", "latest", None),
        ("ghcr.io/owner/app:v1.2", "ghcr.io", "owner/app", "v1.2", None),
        ("quay.io/coreos/etcd", "quay.io", "coreos/etcd", "latest", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/app:dev", "localhost:5000", "app", "dev", None),
        ("127.0.0.1:5000/onedock/image-7", "127.0.0.1:5000", "onedock/image-7", "latest", None),
        ("reg:5000/app", "reg:5000", "app", "latest", None),
        ("Registry.Example.COM/team/app", "Registry.Example.COM", "team/app", "latest", None),
        # a colon after the last slash is a tag, even if it looks like a port
        ("busybox:5000", "docker.io", "library/busybox", "5000", None),
        ("busybox@" + DIGEST, "docker.io", "library/busybox", None, DIGEST),
        ("busybox:1.36@" + DIGEST, "docker.io", "library/busybox", "1.36", DIGEST),
        ("reg.example:443/a/b@" + DIGEST, "reg.example:443", "a/b", None, DIGEST),
        # a '.' in a later component is part of the repository name
        ("x/a.b_c__d-e---f", "docker.io", "x/a.b_c__d-e---f", "latest", None),
        # ...but in the first one it makes that component a registry
        ("a.b/x", "a.b", "x", "latest", None),
        ("busybox:Tag_With.UPPER-case", "docker.io", "library/busybox", "Tag_With.UPPER-case",
         None),
        ("busybox:_underscore", "docker.io", "library/busybox", "_underscore", None),
    ],
)
def test_parse_valid(text, registry, repository, tag, digest):
    assert parse(text) == Reference(registry, repository, tag, digest)


def test_parse_defaults_and_rendering():
    ref = parse("busybox")
    assert ref.registry == DOCKER_HUB == "docker.io"
    assert ref.api_host == DOCKER_HUB_API == "registry-1.docker.io"
    assert ref.ref == "latest"
    assert str(ref) == "docker.io/library/busybox:latest"
    # the rendered form parses back to the same reference
    assert parse(str(ref)) == ref


def test_api_host_of_other_registries_is_the_registry():
    assert parse("ghcr.io/o/a").api_host == "ghcr.io"
    assert parse("localhost:5000/a").api_host == "localhost:5000"
    assert parse("docker.io/library/busybox").api_host == "registry-1.docker.io"


def test_digest_wins_over_tag_for_manifest_ref():
    ref = parse(f"busybox:1.36@{DIGEST}")
    assert ref.ref == DIGEST
    assert str(ref) == f"docker.io/library/busybox:1.36@{DIGEST}"
    only = parse(f"busybox@{DIGEST}")
    assert only.tag is None
    assert only.ref == DIGEST
    assert str(only) == f"docker.io/library/busybox@{DIGEST}"


def test_with_digest_drops_tag_and_validates():
    ref = parse("ghcr.io/o/a:v1").with_digest(OTHER_DIGEST)
    assert ref == Reference("ghcr.io", "o/a", None, OTHER_DIGEST)
    assert ref.ref == OTHER_DIGEST
    with pytest.raises(OneDockError, match="is not a sha256 digest"):
        parse("busybox").with_digest("md5:" + "a" * 32)


def test_reference_is_frozen():
    ref = parse("busybox")
    with pytest.raises(AttributeError):
        ref.tag = "evil"  # type: ignore[misc]


def test_tag_length_limit():
    assert parse("busybox:" + "a" * 128).tag == "a" * 128
    with pytest.raises(OneDockError, match="bad tag"):
        parse("busybox:" + "a" * 129)


def test_repository_length_limit():
    # 'x/' + 253 chars = 255: accepted; one more is refused
    assert parse("x/" + "a" * 253).repository == "x/" + "a" * 253
    with pytest.raises(OneDockError, match="bad repository name"):
        parse("x/" + "a" * 254)


def test_explicit_docker_io_gets_library_prefix():
    assert parse("docker.io/busybox") == parse("busybox")


# --------------------------------------------------------------------------- parse(): hostile

HOSTILE = [
    ("busybox;rm -rf /", "invalid image reference"),
    ("busybox;rm", "bad repository name"),
    ("$(id)", "bad repository name"),
    ("busybox$(id)", "bad repository name"),
    ("`id`", "bad repository name"),
    ("busybox`id`", "bad repository name"),
    ("busybox|id", "bad repository name"),
    ("busybox&&id", "bad repository name"),
    ("busybox>/etc/passwd", "bad repository name"),
    ("busybox:latest;id", "bad tag"),
    ("busybox:$(id)", "bad tag"),
    ("../../etc/passwd", "bad registry"),
    ("../etc", "bad registry"),
    ("a//b", "bad repository name"),
    ("/abs", "bad repository name"),
    ("/abs/path", "bad repository name"),
    ("a/../b", "bad repository name"),
    ("Busybox", "bad repository name"),
    ("user/App", "bad repository name"),
    ("ghcr.io/Owner/app", "bad repository name"),
    ("busybox latest", "invalid image reference"),
    ("busybox\n", "invalid image reference"),
    ("busybox\nid", "invalid image reference"),
    ("\tbusybox", "invalid image reference"),
    ("busybox\r", "invalid image reference"),
    ("busybox@sha256:short", "digest must be sha256"),
    ("busybox@sha256:" + "A" * 64, "digest must be sha256"),
    ("busybox@sha256:" + "a" * 63, "digest must be sha256"),
    ("busybox@sha256:" + "a" * 65, "digest must be sha256"),
    ("busybox@md5:" + "a" * 32, "digest must be sha256"),
    ("busybox@sha512:" + "a" * 128, "digest must be sha256"),
    ("busybox@", "digest must be sha256"),
    ("busybox@" + DIGEST + "@" + DIGEST, "digest must be sha256"),
    ("", "invalid image reference"),
    ("a" * 256, "bad repository name"),
    ("x/" + "a" * 600, "invalid image reference"),
    ("busybox:", "bad tag"),
    ("busybox:-dash", "bad tag"),
    ("busybox:.dot", "bad tag"),
    ("busybox:" + "a" * 129, "bad tag"),
    ("reg..io/app", "bad registry"),
    ("-reg.io/app", "bad registry"),
    ("reg.io-/app", "bad registry"),
    ("reg.io:123456/app", "bad registry"),
    ("reg.io:/app", "bad registry"),
    ("reg_x.io/app", "bad registry"),
    ("app-", "bad repository name"),
    ("-app", "bad repository name"),
    ("a..b", "bad repository name"),
    ("a___b", "bad repository name"),
    ("ghcr.io/", "bad repository name"),
    ("busybox/", "bad repository name"),
]


@pytest.mark.parametrize(("text", "match"), HOSTILE)
def test_parse_refuses_hostile(text, match):
    with pytest.raises(OneDockError, match=match) as exc:
        parse(text)
    message = _one_line(exc)
    assert message.startswith("invalid image reference")


def test_parse_error_names_the_bad_part():
    with pytest.raises(OneDockError) as exc:
        parse("ghcr.io/Owner/app:v1")
    assert "'owner/app'" not in str(exc.value)
    assert "'Owner/app'" in str(exc.value)
    with pytest.raises(OneDockError) as exc:
        parse("busybox:bad;tag")
    assert "'bad;tag'" in str(exc.value)


# --------------------------------------------------------------------------- validate_*


@pytest.mark.parametrize(
    "value", ["127.0.0.1:5000", "localhost", "reg.example.com", "REG.example:443", "r", "a-b.c"]
)
def test_validate_registry_host_ok(value):
    assert validate_registry_host(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "reg;rm", "reg:", "reg:abc", "reg:123456", "-reg", "reg-", "reg..io", ".reg", "reg.",
     "reg io", "reg/x", "$(id)", "http://reg", "a" * 256, "reg_x"],
)
def test_validate_registry_host_refuses(value):
    with pytest.raises(OneDockError, match="is not a valid registry host") as exc:
        validate_registry_host(value, "cfg: registry")
    assert _one_line(exc).startswith("cfg: registry: ")


def test_validate_registry_host_length():
    label = "a" * 63
    long_ok = ".".join([label] * 4)  # 255 chars
    assert len(long_ok) == 255
    assert validate_registry_host(long_ok) == long_ok
    with pytest.raises(OneDockError):
        validate_registry_host(long_ok + "a")


@pytest.mark.parametrize(
    "value", ["onedock", "onedock/image-7", "a", "a.b/c_d/e__f/g-h", "a" * 255]
)
def test_validate_repository_ok(value):
    assert validate_repository(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "OneDock", "one dock", "one/", "/one", "one//two", "../x", "x/..", "one;rm", "$(id)",
     "a" * 256, "one:tag", "one@x", "-x", "x-", "x___y"],
)
def test_validate_repository_refuses(value):
    with pytest.raises(OneDockError, match="is not a valid repository name") as exc:
        validate_repository(value, "prefix")
    message = _one_line(exc)
    assert message.startswith("prefix: ")
    assert "lower-case letters" in message  # the hint is appended on the same line


def test_validate_digest():
    assert validate_digest(DIGEST) == DIGEST
    for bad in ["sha256:short", "md5:" + "a" * 32, "sha256:" + "G" * 64, "", DIGEST + "0",
                "SHA256:" + "a" * 64, " " + DIGEST]:
        with pytest.raises(OneDockError, match="is not a sha256 digest"):
            validate_digest(bad)


def test_validate_tag():
    for ok in ["latest", "1.36", "v1.2.3-rc.1", "_x", "A" * 128]:
        assert validate_tag(ok) == ok
    for bad in ["", "-x", ".x", "a" * 129, "a b", "a;b", "a/b", "a:b", "a@b"]:
        with pytest.raises(OneDockError, match="is not a valid tag"):
            validate_tag(bad)


# `$` in the validators' regexes also matches just before a trailing newline, so a value that
# ends in '\n' passes validation unchanged (parse() is protected by its own whitespace check).


def test_validate_repository_refuses_trailing_newline():
    with pytest.raises(OneDockError):
        validate_repository("onedock\n")


def test_validate_registry_host_refuses_trailing_newline():
    with pytest.raises(OneDockError):
        validate_registry_host("reg.example:5000\n")


def test_validate_tag_refuses_trailing_newline():
    with pytest.raises(OneDockError):
        validate_tag("latest\n")


def test_validate_digest_refuses_trailing_newline():
    with pytest.raises(OneDockError):
        validate_digest(DIGEST + "\n")


def test_non_ascii_tag_refused():
    with pytest.raises(OneDockError):
        parse("busybox:été")
