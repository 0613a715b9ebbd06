"""registry.credentials: logins found where `docker login` and `skopeo login` keep them, the
credential helper protocol with real helper programs, and refusals that never show a secret."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from onedock.errors import Denied, OneDockError
from onedock.registry import credentials

SECRET = "s3cret-Passw0rd"


def _auth(user: str, secret: str = SECRET) -> dict:
    return {"auth": base64.b64encode(f"{user}:{secret}".encode()).decode()}


def _file(tmp_path: Path, document, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


@pytest.fixture
def helpers(tmp_path, monkeypatch):
    """Credential helpers on PATH: `lab` knows reg.example:5000 and Docker Hub, `broken`
    always fails, `slowpoke` never answers in time."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "asked"
    (bin_dir / "docker-credential-lab").write_text(f"""#!/bin/sh
read -r server
echo "$1 $server" >> {seen}
case "$server" in
  reg.example:5000|https://index.docker.io/v1/)
    echo '{{"ServerURL":"'"$server"'","Username":"helped","Secret":"{SECRET}"}}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
""")
    (bin_dir / "docker-credential-broken").write_text(
        f"#!/bin/sh\necho 'cannot unlock keyring for {SECRET}' >&2\nexit 3\n")
    (bin_dir / "docker-credential-slowpoke").write_text("#!/bin/sh\nsleep 5\n")
    for helper in bin_dir.iterdir():
        helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(credentials, "HELPER_TIMEOUT", 1.0)
    return seen


def test_a_docker_login_entry_is_found_for_its_host(tmp_path):
    path = _file(tmp_path, {"auths": {"reg.example:5000": _auth("alice"),
                                      "other.example": _auth("bob")}})
    login = credentials.find("reg.example:5000", "team/app", [path])
    assert (login.username, login.secret, login.origin) == ("alice", SECRET, str(path))


def test_docker_hub_uses_the_key_docker_login_writes(tmp_path):
    path = _file(tmp_path, {"auths": {"https://index.docker.io/v1/": _auth("hubuser")}})
    assert credentials.find("docker.io", "library/ubuntu", [path]).username == "hubuser"


def test_old_entries_with_a_scheme_and_path_name_their_host(tmp_path):
    path = _file(tmp_path, {"auths": {"https://reg.example:5000/v2/": _auth("carol")}})
    assert credentials.find("reg.example:5000", "app", [path]).username == "carol"


def test_a_namespace_entry_of_auth_json_wins_over_the_host(tmp_path):
    path = _file(tmp_path, {"auths": {
        "reg.example": {"username": "everyone", "password": "p1"},
        "reg.example/team": {"username": "team", "password": "p2"},
        "reg.example/team/app": {"username": "app", "password": "p3"}}}, "auth.json")
    assert credentials.find("reg.example", "team/app", [path]).username == "app"
    assert credentials.find("reg.example", "team/web", [path]).username == "team"
    assert credentials.find("reg.example", "other/web", [path]).username == "everyone"


def test_the_first_file_with_an_entry_wins(tmp_path):
    first = _file(tmp_path, {"auths": {"other.example": _auth("x")}}, "first.json")
    second = _file(tmp_path, {"auths": {"reg.example": _auth("second")}}, "second.json")
    third = _file(tmp_path, {"auths": {"reg.example": _auth("third")}}, "third.json")
    missing = tmp_path / "missing.json"
    assert credentials.find("reg.example", "", [missing, first, second, third]).username == \
        "second"
    assert credentials.find("nowhere.example", "", [missing, first]) is None


def test_a_credential_helper_answers_for_its_registry(tmp_path, helpers):
    path = _file(tmp_path, {"credHelpers": {"reg.example:5000": "lab"},
                            "auths": {"reg.example:5000": _auth("ignored")}})
    login = credentials.find("reg.example:5000", "app", [path])
    assert (login.username, login.secret) == ("helped", SECRET)
    assert "docker-credential-lab" in login.origin
    assert helpers.read_text() == "get reg.example:5000\n"


def test_creds_store_serves_hosts_without_a_helper_of_their_own(tmp_path, helpers):
    path = _file(tmp_path, {"credsStore": "lab", "auths": {"https://index.docker.io/v1/": {}}})
    assert credentials.find("docker.io", "library/ubuntu", [path]).username == "helped"
    assert credentials.find("unknown.example", "", [path]) is None  # "not found": no login


@pytest.mark.parametrize("helper, message", [
    ("absent", r"credential helper docker-credential-absent \(named in .*\) is not installed"),
    ("broken", r"credential helper docker-credential-broken failed for reg.example \(exit 3\)"),
    ("slowpoke", r"docker-credential-slowpoke did not answer for reg.example in 1 s"),
    ("../../bin/sh", r"credential helper '../../bin/sh' is not a helper name"),
])
def test_helper_failures_are_one_line_without_the_secret(tmp_path, helpers, helper, message):
    path = _file(tmp_path, {"credHelpers": {"reg.example": helper}})
    with pytest.raises(OneDockError, match=message) as err:
        credentials.find("reg.example", "", [path])
    assert SECRET not in str(err.value) and "\n" not in str(err.value)
    if helper == "broken":
        assert isinstance(err.value, Denied)


@pytest.mark.parametrize("content, message", [
    ("{not json", "are not JSON"),
    ("[1, 2]", "are not a JSON object"),
    (json.dumps({"auths": {"reg.example": {"auth": "!!!" + SECRET}}}), "is damaged"),
    (json.dumps({"auths": {"reg.example": {"auth": base64.b64encode(b"nocolon").decode()}}}),
     "is damaged"),
    (json.dumps({"auths": {"reg.example": {"identitytoken": SECRET}}}), "identity token"),
])
def test_bad_files_are_named_and_their_content_is_not_shown(tmp_path, content, message):
    path = _file(tmp_path, content)
    with pytest.raises(OneDockError, match=message) as err:
        credentials.find("reg.example", "", [path])
    assert str(path) in str(err.value) and SECRET not in str(err.value)


def test_an_unreadable_file_says_who_must_read_it(tmp_path):
    with pytest.raises(OneDockError, match="cannot read registry logins .* readable by oneadmin"):
        credentials.find("reg.example", "", [tmp_path])  # a directory: read fails


def test_a_login_printed_by_accident_shows_no_secret():
    login = credentials.Login("alice", SECRET, "/x/config.json")
    assert SECRET not in repr(login) and SECRET not in f"{login!r}"


def test_default_files_follow_the_tools_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert credentials.default_files() == [tmp_path / ".docker/config.json",
                                           tmp_path / ".config/containers/auth.json"]
    monkeypatch.setenv("DOCKER_CONFIG", "/etc/dc")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", "/etc/auth.json")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/9869")
    assert credentials.default_files() == [
        Path("/etc/dc/config.json"), Path("/etc/auth.json"),
        Path("/run/user/9869/containers/auth.json"), tmp_path / ".config/containers/auth.json"]
