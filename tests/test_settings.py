"""Configuration: every setting documented, and read from the environment or a .env file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.settings import Settings, SettingsError, get_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_in_the_readme_table():
    section = README.read_text("utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(REPORT_[A-Z0-9_]+)`", section))
    expected = {f"REPORT_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from README's Configuration table"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_every_setting_says_what_it_does():
    undescribed = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undescribed == []


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("REPORT_PORT=8123\nREPORT_CACHE_SIZE=7\n", "utf-8")
    monkeypatch.setenv("REPORT_CACHE_SIZE", "9")
    settings = Settings()
    assert settings.port == 8123
    assert settings.cache_size == 9


def test_query_languages_are_read_as_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("REPORT_QUERY_LANGUAGES", " fr, EN ,it ")
    assert Settings().query_languages == ["fr", "en", "it"]
    monkeypatch.setenv("REPORT_QUERY_LANGUAGES", "")
    assert Settings().query_languages == []  # no restriction


def _refusal(monkeypatch: pytest.MonkeyPatch, **environment: str) -> str:
    """What get_settings() says of ``environment`` (its cache cleared before and after)."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    return str(caught.value)


def test_a_bad_setting_is_named_in_one_readable_error(monkeypatch):
    message = _refusal(monkeypatch, REPORT_QUERY_LANGUAGES="fr,klingon", REPORT_PORT="eighty")
    assert "REPORT_QUERY_LANGUAGES: langdetect has no profile for klingon" in message
    assert "REPORT_PORT:" in message


@pytest.mark.parametrize("key", ["clé", "two words", "tab\there"])
def test_a_key_that_no_header_carries_alike_is_refused(monkeypatch, key):
    """curl sends "clé" as UTF-8 and a browser as Latin-1: it matched some clients only."""
    message = _refusal(monkeypatch, REPORT_API_KEY=key, REPORT_ADMIN_TOKEN="s3cr3t-Token_~!")
    assert "REPORT_API_KEY: " in message and "printable ASCII" in message
    assert "REPORT_ADMIN_TOKEN" not in message
