"""Settings: every field documented, bad values refused with the setting's name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from rtk_sessions.config import Settings, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme_table():
    documented = set(re.findall(r"^\| `(RTK_[A-Z0-9_]+)` \|", README.read_text(), re.MULTILINE))
    fields = {f"RTK_{name.upper()}" for name in Settings.model_fields}
    assert fields <= documented, f"undocumented: {sorted(fields - documented)}"
    assert documented - fields == {"RTK_CONFIG_FILE"}


def test_defaults_work_on_a_laptop(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == "sqlite:///./rtk-data/rtk.db"
    assert settings.session_grace_seconds == 60
    assert (settings.ingest_max_events, settings.ingest_max_bytes) == (10_000, 10 * 1024 * 1024)


def test_environment_overrides_toml_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rtk-sessions.toml").write_text("port = 9001\nsession_grace_seconds = 5\n")
    monkeypatch.setenv("RTK_PORT", "9002")
    settings = load_settings()
    assert (settings.port, settings.session_grace_seconds) == (9002, 5)


def test_explicit_config_file_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("RTK_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("RTK_PORT", "70000", "port"),
        ("RTK_SERVER", "gunicorn", "server"),
        ("RTK_DATABASE_URL", "mysql://x", "database_url"),
        ("RTK_SESSION_GRACE_SECONDS", "-1", "session_grace_seconds"),
    ],
)
def test_bad_values_name_the_setting(monkeypatch, tmp_path, variable, value, named):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        load_settings()
    assert named in str(caught.value)


def test_unknown_keys_in_the_toml_file_are_refused(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rtk-sessions.toml").write_text("prot = 9001\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings()


def write_city_mmdb(path: Path) -> Path:
    """A real (tiny) GeoLite2-City MaxMind DB file."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["8.8.8.0/24"]), {"city": {"names": {"en": "Mountain View"}}})
    writer.to_db_file(str(path))
    return path


def test_geoip_mmdb_is_off_by_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert (settings.geoip_mmdb, settings.geoip_mmdb_paths) == ("", ())


def test_geoip_mmdb_takes_comma_separated_files(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    first = write_city_mmdb(tmp_path / "a.mmdb")
    second = write_city_mmdb(tmp_path / "b.mmdb")
    monkeypatch.setenv("RTK_GEOIP_MMDB", f" {first} ,{second},")
    assert load_settings().geoip_mmdb_paths == (str(first), str(second))


def unusable_file(directory: Path, kind: str) -> Path:
    """A path named like a GeoLite2 file that is missing, or holds text, or nothing."""
    path = directory / "GeoLite2-City.mmdb"
    if kind == "text":
        path.write_text("hello\n")
    elif kind == "empty":
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    ("kind", "problem"),
    [("missing", "no such file"), ("text", "not a MaxMind DB"), ("empty", "not a MaxMind DB")],
)
def test_unusable_geoip_mmdb_file_is_refused_at_start_up(monkeypatch, tmp_path, kind, problem):
    monkeypatch.chdir(tmp_path)
    good = write_city_mmdb(tmp_path / "good.mmdb")
    bad = unusable_file(tmp_path, kind)
    monkeypatch.setenv("RTK_GEOIP_MMDB", f"{good},{bad}")
    with pytest.raises(ValidationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "geoip_mmdb" in message and str(bad) in message and problem in message
    assert str(good) not in message


def test_geoip_mmdb_in_the_toml_file_is_checked_too(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rtk-sessions.toml").write_text('geoip_mmdb = "nowhere/GeoLite2-ASN.mmdb"\n')
    with pytest.raises(ValidationError, match=r"(?s)geoip_mmdb.*nowhere/GeoLite2-ASN.mmdb"):
        load_settings()
