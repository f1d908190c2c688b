"""What a SIGHUP reload takes from the configuration file, in process (tests/integration/test_reload.py sends the
signal to a real server with TLS and workers)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from strongroom.config import ConfigError, ListenerConfig, ServerConfig, StorageConfig
from strongroom.core.core import Core
from strongroom.reloading import Reloader, config_file, defer_hangups
from tests.in_process import new_core

BASE = ServerConfig(
    storage=StorageConfig(type="inmem", options={}),
    listeners=(ListenerConfig(address="127.0.0.1:8200", tls_disable=True),),
    seals=(),
)


@pytest.fixture(autouse=True)
def strongroom_log_level() -> Iterator[None]:
    logger = logging.getLogger("strongroom")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.fixture
async def core() -> Core:
    return await new_core()


def reloader(core: Core, answers: list[ServerConfig | ConfigError], log_level_flag: str | None = None) -> Reloader:
    def load() -> ServerConfig:
        answer = answers.pop(0)
        if isinstance(answer, ConfigError):
            raise answer
        return answer

    return Reloader(load, BASE, core, (), log_level_flag)


@pytest.mark.anyio
async def test_log_level_is_taken_from_the_file(core: Core) -> None:
    assert await reloader(core, [replace(BASE, log_level="error")]).reload()
    assert logging.getLogger("strongroom").level == logging.ERROR


@pytest.mark.anyio
async def test_the_command_lines_log_level_wins(core: Core) -> None:
    assert await reloader(core, [replace(BASE, log_level="error")], log_level_flag="debug").reload()
    assert logging.getLogger("strongroom").level == logging.DEBUG


@pytest.mark.anyio
async def test_a_file_that_does_not_load_changes_nothing(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("strongroom").setLevel(logging.INFO)
    assert not await reloader(core, [ConfigError("line 3: unexpected '}'")]).reload()
    assert logging.getLogger("strongroom").level == logging.INFO
    assert "reload failed, nothing changed: the configuration does not load: line 3" in caplog.text


@pytest.mark.anyio
async def test_what_needs_a_restart_is_named_and_not_applied(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    moved = replace(BASE, listeners=(ListenerConfig(address="127.0.0.1:9200", tls_disable=True),), workers=4)
    reload = reloader(core, [moved])
    assert await reload.reload()
    (warning,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warning.settings == "workers, listeners (beyond their certificate files)"  # type: ignore[attr-defined]
    assert reload.config.listeners == BASE.listeners


def test_the_configuration_file_is_read_again_each_time(tmp_path: Path) -> None:
    path = tmp_path / "server.hcl"
    path.write_text('storage "inmem" {}\nlistener "tcp" { address = "127.0.0.1:8200"\n tls_disable = true }\n')
    load = config_file(str(path), BASE)
    assert load().log_level == "info"
    path.write_text(path.read_text() + 'log_level = "warn"\n')
    assert load().log_level == "warn"


def test_without_a_file_the_default_is_read_again_on_the_address_the_server_was_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STRONGROOM_LISTEN_ADDRESS", raising=False)
    started = replace(BASE, listeners=(ListenerConfig(address="127.0.0.1:9311", tls_disable=True),))
    assert config_file(None, started)().listeners[0].address == "127.0.0.1:9311"


@pytest.mark.anyio
async def test_a_sighup_while_starting_is_acted_on_once_the_reloader_is_installed(core: Core) -> None:
    """A worker still starting when its keeper passes a SIGHUP on neither stops nor misses the reload."""
    previous = signal.getsignal(signal.SIGHUP)
    loop = asyncio.get_running_loop()
    answers: list[ServerConfig | ConfigError] = [replace(BASE, log_level="error")]
    try:
        defer_hangups()
        os.kill(os.getpid(), signal.SIGHUP)  # before the reloader: remembered, the process goes on
        reload = reloader(core, answers)
        reload.install()
        deadline = loop.time() + 10
        while logging.getLogger("strongroom").level != logging.ERROR:
            assert loop.time() < deadline, "the remembered SIGHUP did not reload"
            await asyncio.sleep(0.01)
        assert not answers
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        signal.signal(signal.SIGHUP, previous)
