"""Settings: every field documented, bad values refused with the setting's name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from rtk_sessions.config import Settings, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme_table():
    documented = set(re.findall(r"^\| `(RTK_[A-Z_]+)` \|", README.read_text(), re.MULTILINE))
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
