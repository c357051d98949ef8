"""Configuration: every setting documented, and read from the environment or a .env file."""

from __future__ import annotations

import re
from pathlib import Path

from indexer.settings import Settings

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
