"""Where the server's configuration comes from: a file, or without one the default (SQLite in the data directory)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from strongroom.config.block import host_port_problem
from strongroom.config.errors import ConfigError
from strongroom.config.parse import parse_config
from strongroom.config.server_config import DEFAULT_ADDRESS, ListenerConfig, ServerConfig, StorageConfig


def load_config(path: str | os.PathLike[str]) -> ServerConfig:
    """Load one configuration file: JSON when its name ends in .json, HCL otherwise."""
    source = os.fspath(path)
    file = Path(source)
    if file.is_dir():
        raise ConfigError("is a directory: give the path of one .hcl or .json configuration file", source=source)
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source=source) from None
    except OSError as exc:
        problem = f"cannot read the configuration file: {exc.strerror or exc}"
        raise ConfigError(problem, source=source) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (bad byte at offset {exc.start})", source=source) from None
    config = parse_config(text, source=source, is_json=file.suffix.lower() == ".json")
    return dataclasses.replace(config, config_path=os.path.abspath(source))


#: where a server without a configuration file listens, unless `-listen-address` says otherwise
LISTEN_ADDRESS_VARIABLE = "STRONGROOM_LISTEN_ADDRESS"


def default_config(data_dir: Path, address: str = DEFAULT_ADDRESS) -> ServerConfig:
    """The configuration used without a file: SQLite in `data_dir`, plain HTTP on `address`."""
    if problem := host_port_problem(address):
        raise ConfigError(
            f'listen address "{address}" {problem}', source=f"-listen-address or {LISTEN_ADDRESS_VARIABLE}"
        )
    return ServerConfig(
        storage=StorageConfig(type="sqlite", options={"path": str(Path(data_dir) / "strongroom.db")}),
        listeners=(ListenerConfig(address=address, tls_disable=True),),
        seals=(),
    )


def default_data_dir() -> Path:
    """Where the configuration used without a file keeps its data: $STRONGROOM_DATA_DIR, else the XDG data home."""
    configured = os.environ.get("STRONGROOM_DATA_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "strongroom"


def load_server_config(config_path: str | None, listen_address: str | None = None) -> ServerConfig:
    """The configuration file, or the default one (sqlite in the data directory, listening on `listen_address`,
    else $STRONGROOM_LISTEN_ADDRESS, else 127.0.0.1:8200) without a file."""
    if config_path is None:
        address = listen_address or os.environ.get(LISTEN_ADDRESS_VARIABLE) or DEFAULT_ADDRESS
        return default_config(default_data_dir(), address)
    if listen_address is not None:
        raise ConfigError(
            "-listen-address is for a server without a configuration file: set the listener's address in the file",
            source=config_path,
        )
    return load_config(config_path)
