"""Pure unit tests of onedock.config: loading, validation and the derived helpers."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from onedock import config
from onedock.config import CONF_ENV, Config, load
from onedock.errors import OneDockError

SHIPPED = Path(config.__file__).resolve().parent / "data" / "onedock.conf"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(CONF_ENV, raising=False)


@pytest.fixture
def conf(tmp_path, monkeypatch):
    """Write `text` to a tmp file, point ONEDOCK_CONF at it, and return its path."""

    def write(text: str | bytes) -> Path:
        path = tmp_path / "onedock.conf"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        monkeypatch.setenv(CONF_ENV, str(path))
        return path

    return write


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


# --------------------------------------------------------------------------- defaults


def test_defaults_when_remotes_file_absent(tmp_path):
    cfg = load(remotes_root=tmp_path)
    assert cfg == Config()
    assert cfg.registry == "127.0.0.1:5000"
    assert cfg.registry_insecure is False
    assert cfg.prefix == "onedock"
    assert cfg.docker_url == "ssh://{host}"
    assert cfg.hosts == {}
    assert cfg.insecure_sources == ()
    assert cfg.timeout == 60.0
    assert cfg.copy_parallel == 4
    assert cfg.registry_storage == "/var/lib/docker-registry"
    assert re.fullmatch(r"linux/[a-z0-9_]+", cfg.platform)


def test_defaults_without_any_location():
    assert load() == Config()
    assert config.config_path(None) is None


def test_reads_the_remotes_tree(tmp_path):
    path = tmp_path / "etc" / "onedock" / "onedock.conf"
    path.parent.mkdir(parents=True)
    path.write_text('registry = "reg.example:5000"\ncopy_parallel = 8\n')
    assert config.config_path(tmp_path) == str(path)
    cfg = load(remotes_root=tmp_path)
    assert cfg.registry == "reg.example:5000"
    assert cfg.copy_parallel == 8
    assert cfg.prefix == "onedock"


def test_env_overrides_remotes_tree(tmp_path, conf):
    tree = tmp_path / "remotes" / "etc" / "onedock" / "onedock.conf"
    tree.parent.mkdir(parents=True)
    tree.write_text('registry = "tree.example:5000"\n')
    path = conf('registry = "env.example:5000"\n')
    assert config.config_path(tmp_path / "remotes") == str(path)
    assert load(remotes_root=tmp_path / "remotes").registry == "env.example:5000"


def test_empty_file_is_all_defaults(conf):
    conf("")
    assert load() == Config()


def test_shipped_file_documents_the_defaults(tmp_path, conf):
    """Uncommenting every documented `key = value` of the shipped file changes nothing."""
    lines = []
    for line in SHIPPED.read_text().splitlines():
        m = re.match(r"^# (\w+) = (.*)$", line)
        if m and m.group(1) in config._TYPES and m.group(1) != "platform":
            lines.append(f"{m.group(1)} = {m.group(2)}")
    assert len(lines) >= 12, lines
    conf("\n".join(lines) + "\n")
    assert load() == Config()
    # and the file as shipped (all commented) loads too
    conf(SHIPPED.read_text())
    assert load() == Config()


def test_full_config(conf, tmp_path):
    conf(
        'registry = "reg.example:5000"\n'
        "registry_insecure = true\n"
        'registry_ca = "/etc/ssl/ca.pem"\n'
        'registry_username = "one"\n'
        'registry_password_file = "/etc/onedock/pw"\n'
        'prefix = "one/images"\n'
        'registry_storage = "/srv/registry"\n'
        'insecure_sources = ["src.example:5000", "10.0.0.1:5000"]\n'
        'platform = "linux/arm64"\n'
        'frontend = "one-fe"\n'
        'docker_url = "tcp://{host}:2375"\n'
        "timeout = 30\n"
        "copy_parallel = 32\n"
        "[hosts]\n"
        'node01 = "unix:///var/run/docker.sock"\n'
        'node02 = "ssh://oneadmin@node02"\n'
    )
    cfg = load()
    assert cfg == Config(
        registry="reg.example:5000",
        registry_insecure=True,
        registry_ca="/etc/ssl/ca.pem",
        registry_username="one",
        registry_password_file="/etc/onedock/pw",
        prefix="one/images",
        registry_storage="/srv/registry",
        insecure_sources=("src.example:5000", "10.0.0.1:5000"),
        platform="linux/arm64",
        frontend="one-fe",
        docker_url="tcp://{host}:2375",
        hosts={"node01": "unix:///var/run/docker.sock", "node02": "ssh://oneadmin@node02"},
        timeout=30,
        copy_parallel=32,
    )
    assert isinstance(cfg.insecure_sources, tuple)
    assert cfg.frontend == "one-fe" and cfg.is_frontend("one-fe")


def test_float_timeout(conf):
    conf("timeout = 2.5\ncopy_parallel = 1\n")
    cfg = load()
    assert cfg.timeout == 2.5
    assert cfg.copy_parallel == 1


# --------------------------------------------------------------------------- errors


def test_unknown_key_is_named(conf):
    path = conf('registy = "reg.example:5000"\n')
    with pytest.raises(OneDockError, match="unknown key 'registy'") as exc:
        load()
    message = _one_line(exc)
    assert message.startswith(f"{path}: ")
    assert "known keys:" in message and "registry" in message


def test_unknown_table_is_named(conf):
    conf("[host]\nnode01 = \"unix:///x\"\n")
    with pytest.raises(OneDockError, match="unknown key 'host'"):
        load()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('registry_insecure = "yes"', "'registry_insecure' must be a bool, got 'yes'"),
        ("registry_insecure = 1", "'registry_insecure' must be a bool, got 1"),
        ("timeout = true", "'timeout' must not be a boolean"),
        ('timeout = "60"', "'timeout' must be a number, got '60'"),
        ("timeout = 0", "timeout must be positive"),
        ("timeout = -5", "timeout must be positive"),
        ("copy_parallel = true", "'copy_parallel' must not be a boolean"),
        ("copy_parallel = 2.5", "'copy_parallel' must be a int, got 2.5"),
        ("copy_parallel = 0", "copy_parallel must be between 1 and 32"),
        ("copy_parallel = 33", "copy_parallel must be between 1 and 32"),
        ("copy_parallel = -1", "copy_parallel must be between 1 and 32"),
        ("registry = 5000", "'registry' must be a str, got 5000"),
        ('registry = ""', "registry: '' is not a valid registry host"),
        ('registry = "reg;rm:5000"', "registry: 'reg;rm:5000' is not a valid registry host"),
        ('registry = "reg.example:port"', "is not a valid registry host"),
        ('registry = "http://reg.example"', "is not a valid registry host"),
        ('registry = "reg example"', "is not a valid registry host"),
        ('prefix = "OneDock"', "prefix: 'OneDock' is not a valid repository name"),
        ('prefix = "one dock"', "is not a valid repository name"),
        ('prefix = "../x"', "is not a valid repository name"),
        ('prefix = "onedock/"', "is not a valid repository name"),
        ('prefix = ""', "is not a valid repository name"),
        ('insecure_sources = "src:5000"', "'insecure_sources' must be a list"),
        ('insecure_sources = ["ok.example:5000", 5]', "insecure_sources must list host:port"),
        ('insecure_sources = ["bad host"]', "insecure_sources: 'bad host' is not a valid"),
        ('hosts = "ssh://x"', "'hosts' must be a dict"),
        ('hosts = {node01 = "http://node01"}', "hosts.node01 must be a unix://, ssh:// or tcp://"),
        ('hosts = {node01 = "node01"}', "hosts.node01 must be a unix://"),
        ("hosts = {node01 = 5}", "hosts.node01 must be a unix://"),
        ('hosts = {node01 = ""}', "hosts.node01 must be a unix://"),
        ('[hosts.node01]\nurl = "ssh://x"', "hosts.node01 must be a unix://"),
        ('docker_url = "ssh://node01"', "docker_url must contain {host}"),
        ('docker_url = "ssh://{HOST}"', "docker_url may only use {host}"),
        ("docker_url = 1", "'docker_url' must be a str"),
        ("platform = []", "'platform' must be a str"),
    ],
)
def test_wrong_values(conf, text, match):
    path = conf(text + "\n")
    with pytest.raises(OneDockError, match=re.escape(match)) as exc:
        load()
    assert _one_line(exc).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "text",
    ['registry = "reg.example:5000', "registry = ", "[hosts\n", "a = 1\na = 2\n", "= 1\n",
     'registry = "x"\n[hosts]\nnode01 = "ssh://a"\n[hosts]\n'],
)
def test_invalid_toml(conf, text):
    conf(text)
    with pytest.raises(OneDockError, match="is not valid TOML") as exc:
        load()
    _one_line(exc)


def test_non_utf8_is_invalid_toml(conf):
    conf(b'registry = "\xff\xfe"\n')
    with pytest.raises(OneDockError, match="is not valid TOML"):
        load()


def test_env_pointing_at_missing_file_is_an_error(tmp_path, monkeypatch):
    missing = tmp_path / "nope" / "onedock.conf"
    monkeypatch.setenv(CONF_ENV, str(missing))
    with pytest.raises(OneDockError, match=re.escape(f"cannot read config {missing}")) as exc:
        load(remotes_root=tmp_path)
    message = _one_line(exc)
    assert "No such file or directory" in message
    assert CONF_ENV in message  # the hint says where to look


def test_env_pointing_at_directory_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(CONF_ENV, str(tmp_path))
    with pytest.raises(OneDockError, match="cannot read config"):
        load()


def test_errors_do_not_fall_back_to_defaults(conf):
    """A bad value anywhere fails the whole load, even after valid keys."""
    conf('registry = "reg.example:5000"\nprefix = "ok"\ncopy_parallel = 99\n')
    with pytest.raises(OneDockError, match="copy_parallel"):
        load()


def test_docker_url_with_unknown_placeholder(conf):
    conf('docker_url = "tcp://{host}:{port}"\n')
    with pytest.raises(OneDockError):
        load().engine_url("node01")


def test_prefix_with_trailing_newline_refused(conf):
    conf('prefix = "onedock\\n"\n')
    with pytest.raises(OneDockError):
        load()


# --------------------------------------------------------------------------- helpers


def test_engine_url_overrides_and_template(conf):
    conf(
        'docker_url = "tcp://{host}:2376"\n'
        "[hosts]\n"
        'node01 = "unix:///var/run/docker.sock"\n'
    )
    cfg = load()
    assert cfg.engine_url("node01") == "unix:///var/run/docker.sock"
    assert cfg.engine_url("node02") == "tcp://node02:2376"


def test_engine_url_default_template():
    cfg = Config()
    assert cfg.engine_url("node07") == "ssh://node07"
    cfg = Config(hosts={"node07": "tcp://10.0.0.7:2375"})
    assert cfg.engine_url("node07") == "tcp://10.0.0.7:2375"
    assert cfg.engine_url("node08") == "ssh://node08"


def test_frontend_is_recognised_by_the_names_oned_uses():
    """oned: HOSTNAME, else getaddrinfo's canonical name of gethostname() (`hostname -f`)."""
    import socket
    import subprocess

    canonical = subprocess.run(["hostname", "-f"], capture_output=True, text=True,
                               check=True).stdout.strip()
    cfg = Config()
    assert cfg.is_frontend(socket.gethostname()) and cfg.is_frontend(canonical)
    if "localhost" not in (socket.gethostname(), canonical):
        assert not cfg.is_frontend("localhost")  # a host of its own, even on this machine
    assert not cfg.is_frontend("node01")
    named = Config(frontend="one-fe")
    assert named.is_frontend("one-fe") and not named.is_frontend(socket.gethostname())


def test_registry_password_reads_and_strips_file(tmp_path, conf):
    secret = tmp_path / "pw"
    secret.write_text("  s3cr3t pass\n\n")
    conf(f'registry_username = "one"\nregistry_password_file = "{secret}"\n')
    assert load().registry_password() == "s3cr3t pass"


def test_registry_password_empty_without_file():
    assert Config().registry_password() == ""


def test_registry_password_missing_file(tmp_path):
    missing = tmp_path / "absent"
    cfg = Config(registry_password_file=str(missing))
    with pytest.raises(
        OneDockError, match=re.escape(f"cannot read registry_password_file {missing}")
    ) as exc:
        cfg.registry_password()
    assert "No such file or directory" in _one_line(exc)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """The parsed-config cache in a directory of this test's own."""
    path = tmp_path / "cache"
    monkeypatch.setattr(config, "CACHE_DIR", str(path))
    return path


def test_a_cached_config_is_read_without_parsing_and_dropped_when_the_file_changes(
        conf, cache_dir, monkeypatch):
    path = conf('registry = "reg.example:5000"\nnic_helper = ["sudo", "-n", "x"]\n')
    first = load()
    assert [p.name for p in cache_dir.iterdir()] != []
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700"

    def no_parsing(raw, origin):
        raise AssertionError("parsed although the cache holds it")

    monkeypatch.setattr(config, "_parse", no_parsing)
    assert load() == first and load().nic_helper == ("sudo", "-n", "x")
    monkeypatch.undo()
    monkeypatch.setattr(config, "CACHE_DIR", str(cache_dir))
    monkeypatch.setenv(CONF_ENV, str(path))
    mtime = path.stat().st_mtime_ns
    path.write_text('registry = "reg.example:6000"\nnic_helper = ["sudo", "-n", "x"]\n')
    os.utime(path, ns=(mtime, mtime))  # same size, same mtime: the ctime still differs
    assert load().registry == "reg.example:6000"


def test_a_cache_that_is_not_this_users_own_is_not_used(conf, cache_dir, monkeypatch):
    conf('registry = "reg.example:5000"\n')
    load()
    cache_dir.chmod(0o777)  # anyone could have written it

    parsed = []
    real = config._parse
    monkeypatch.setattr(config, "_parse", lambda raw, origin: parsed.append(1) or real(raw, origin))
    assert load().registry == "reg.example:5000"
    assert parsed == [1]


def test_a_tampered_cache_entry_for_another_file_is_not_used(conf, cache_dir):
    path = conf('registry = "reg.example:5000"\n')
    load()
    (entry,) = cache_dir.iterdir()
    data = json.loads(entry.read_text())
    data["key"][0] = "/elsewhere/onedock.conf"
    data["data"]["registry"] = "evil.example:5000"
    entry.write_text(json.dumps(data))
    assert load().registry == "reg.example:5000"
    assert path.exists()


def test_every_key_has_a_default_of_its_type_and_values_stay_put():
    cfg = Config()
    assert set(cfg.values()) == set(config._TYPES)
    for key, value in cfg.values().items():
        kind = config._TYPES[key]
        assert isinstance(value, (tuple, dict, type(config.MappingProxyType({})))
                          if kind in (list, dict) else kind), key
    with pytest.raises(AttributeError, match="read-only"):
        cfg.registry = "elsewhere:5000"
    with pytest.raises(TypeError, match="registri"):
        Config(registri="typo:5000")
    assert Config(registry="a:1") == Config(registry="a:1") != Config(registry="b:1")
