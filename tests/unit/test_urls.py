"""onedock.urls against urllib.parse, which it stands in for on the action path."""

from urllib.parse import quote, urlencode, urlsplit

import pytest

from onedock import urls

TEXTS = ['{"label": ["org.opennebula.onedock.vmid"]}', "", "a b/é&=?#%", "~._-AZaz09",
         "registry:5000/a/b@sha256:00"]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("safe", ["", "/:@"])
def test_quote_is_urllib_s(text, safe):
    assert urls.quote(text, safe) == quote(text, safe=safe)


def test_a_query_keeps_order_and_repeated_keys():
    pairs = [("filters", '{"label": ["x=1"]}'), ("all", 1), ("filters", "a b")]
    assert urls.encode_query(pairs) == urlencode(pairs, quote_via=quote)
    assert urls.encode_query({"t": 10, "v": True}) == "t=10&v=True"


@pytest.mark.parametrize("url", [
    "unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", "tcp://Engine.example:2376/",
    "ssh://oneadmin@host-1:2222", "ssh://host-1", "ssh://[fd00::1]:22", "127.0.0.1:5000",
    "registry.local",
])
def test_engine_urls_split_as_urllib_does(url):
    mine = urls.URL(url)
    theirs = urlsplit(url if "://" in url else f"//{url}")
    assert (mine.scheme, mine.username, mine.hostname, mine.port) == (
        theirs.scheme, theirs.username, theirs.hostname, theirs.port)
    assert mine.path == theirs.path


@pytest.mark.parametrize("hostport", ["host:http", "host:99999", "[::1]:x"])
def test_a_port_that_is_no_number_is_refused(hostport):
    with pytest.raises(ValueError, match="port"):
        urls.address(hostport)


def test_a_missing_port_is_the_default():
    assert urls.address("Registry", 443) == ("registry", 443)
    assert urls.address("[fd00::5]:5000") == ("fd00::5", 5000)
