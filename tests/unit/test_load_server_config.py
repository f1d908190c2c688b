"""config.load_server_config: the file given, or without one the default configuration in the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.config import load_server_config


def test_without_a_file_sqlite_in_the_data_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STRONGROOM_DATA_DIR", str(tmp_path / "data"))
    config = load_server_config(None)
    assert config.storage.type == "sqlite"
    assert config.storage.options["path"] == str(tmp_path / "data" / "strongroom.db")


def test_the_data_directory_defaults_to_the_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STRONGROOM_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert load_server_config(None).storage.options["path"] == str(tmp_path / "strongroom" / "strongroom.db")


def test_a_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "server.hcl"
    path.write_text('storage "inmem" {}\nlistener "tcp" { address = "127.0.0.1:8300"\n tls_disable = true }\n')
    config = load_server_config(str(path))
    assert config.storage.type == "inmem" and config.listeners[0].address == "127.0.0.1:8300"
