"""The defaults table is the settings' defaults, and `untouched` says when the settings
are exactly those defaults (what `plan` relies on to skip building the model)."""

from __future__ import annotations

import pytest

from worker.config import load_settings
from worker.config.defaults import DEFAULTS, default, untouched


@pytest.fixture(autouse=True)
def no_partoo_environment(monkeypatch):
    import os

    for name in list(os.environ):
        if name.upper().startswith("PARTOO_"):
            monkeypatch.delenv(name)


def test_the_model_takes_every_default_from_the_table():
    from worker.config import Settings

    assert {name: f.default for name, f in Settings.model_fields.items()} == DEFAULTS
    assert default("rate_per_minute") == Settings().rate_per_minute


def test_untouched_settings_load_as_the_defaults():
    assert untouched()
    assert load_settings(read_key=False).model_dump() == DEFAULTS


@pytest.mark.parametrize("name", ["PARTOO_RATE_PER_MINUTE", "partoo_concurrency",
                                  "PARTOO_BASE_URL", "PARTOO_CONFIG"])
def test_a_partoo_variable_touches_them(monkeypatch, tmp_path, name):
    monkeypatch.setenv(name, str(tmp_path / "c.toml") if name == "PARTOO_CONFIG" else "7")
    assert not untouched()


def test_a_config_file_touches_them(monkeypatch, tmp_path):
    assert not untouched(tmp_path / "named.toml")
    (tmp_path / "partoo-bulk").mkdir()
    (tmp_path / "partoo-bulk" / "config.toml").write_text("rate_per_minute = 60\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert not untouched()
    assert load_settings(read_key=False).rate_per_minute == 60


def test_other_variables_do_not(monkeypatch):
    monkeypatch.setenv("PARTOO_DEBUG", "1")
    monkeypatch.setenv("PARTOO_API_KEY_FILE", "/nowhere")  # read only with read_key
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert untouched()


def test_an_exported_key_does_not_and_is_all_the_model_would_add(monkeypatch):
    monkeypatch.setenv("PARTOO_API_KEY", "k" * 20)
    assert untouched()
    loaded = load_settings(read_key=False).model_dump()
    assert loaded.pop("api_key").get_secret_value() == "k" * 20
    assert loaded == {k: v for k, v in DEFAULTS.items() if k != "api_key"}
