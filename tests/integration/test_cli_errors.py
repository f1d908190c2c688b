"""Our CLI fails the way the real `bao` does, so that a script ported from `vault` reads failures the same way:
exit 1 for a local error (usage, flags, files), 2 for a request the server refused or could not answer; and
always one line on stderr, `Error...` (or Vault's `No value found at ...`), never a traceback."""

from __future__ import annotations

import pytest

import strongroom
from tests.integration.cli_harness import Bao, Cli
from tests.integration.openbao import free_port
from tests.integration.unsealed import Unsealed

WRONG_TOKEN = "s.wrong-token-0000"
CLOSED = f"http://127.0.0.1:{free_port()}"

LOCAL, REMOTE = 1, 2

CASES = [
    pytest.param(("read", "-nosuchflag", "cubbyhole/x"), "root", LOCAL, id="unknown flag"),
    pytest.param(("kv", "get", "-nosuchflag=3", "secret/x"), "root", LOCAL, id="unknown flag with a value"),
    pytest.param(("kv", "get"), "root", LOCAL, id="missing argument"),
    pytest.param(("write", "cubbyhole/x", "a=@/nonexistent/file"), "root", LOCAL, id="unreadable data file"),
    # bao exits 2 here (its policy command treats every failure alike); a missing file is a local error
    pytest.param(("policy", "write", "p", "/nonexistent/policy.hcl"), "root", (LOCAL, REMOTE), id="unreadable policy"),
    pytest.param(("status", f"-address={CLOSED}"), "root", LOCAL, id="status, unreachable (2 is sealed)"),
    pytest.param(("read", "sys/mounts"), WRONG_TOKEN, REMOTE, id="refused token"),
    pytest.param(("read", "cubbyhole/nothing-here"), "root", REMOTE, id="no value"),
    pytest.param(("kv", "put", "no-such-mount/x", "a=1"), "root", REMOTE, id="no such mount"),
    pytest.param(("secrets", "enable", "-path=cubbyhole", "kv"), "root", REMOTE, id="path in use"),
    pytest.param(("read", f"-address={CLOSED}", "sys/mounts"), "root", REMOTE, id="unreachable"),
]


@pytest.fixture(scope="module")
def clients(store: Unsealed, tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, Bao]:
    home = tmp_path_factory.mktemp("cli-errors")
    return Cli(store.server.address, home), Bao.with_new_home(store.server.address, home)


@pytest.mark.parametrize(("args", "token", "codes"), CASES)
def test_exit_codes_and_messages_match_bao(
    clients: tuple[Cli, Bao], store: Unsealed, args: tuple[str, ...], token: str, codes: int | tuple[int, int]
) -> None:
    """`codes`: the exit code of both, or (ours, bao's) where bao is not consistent itself."""
    cli, bao = clients
    ours_expected, bao_expected = codes if isinstance(codes, tuple) else (codes, codes)
    token = store.root_token if token == "root" else token
    theirs = bao(*args, token=token)
    ours = cli(*args, token=token)
    assert theirs.returncode == bao_expected, (theirs.returncode, theirs.stderr)
    assert ours.returncode == ours_expected, (ours.returncode, ours.stderr)
    assert ours.stderr.count("\n") == 1 and ours.stderr.startswith(("Error", "No value found at ")), ours.stderr
    assert "Traceback" not in ours.stdout + ours.stderr


@pytest.mark.parametrize("flag", ["-nosuchflag", "-nosuchflag=1", "--nosuchflag", "-n-o-such"])
def test_an_unknown_flag_is_named_whole(clients: tuple[Cli, Bao], flag: str) -> None:
    cli, _ = clients
    for args in (("status", flag), ("operator", "unseal", flag), (flag, "status"), ("kv", "put", flag, "a/b", "c=d")):
        result = cli(*args)
        name = flag.partition("=")[0]
        assert result.returncode == LOCAL, (args, result.stderr)
        assert result.stderr.startswith(f"Error: No such option '{name}'."), (args, result.stderr)


def test_version_names_strongroom(clients: tuple[Cli, Bao]) -> None:
    cli, _ = clients
    for args in (("version",), ("-version",)):
        result = cli(*args)
        assert (result.returncode, result.stdout) == (0, f"Strongroom v{strongroom.__version__}\n"), result.stderr


def test_unseal_without_a_terminal_says_how_to_give_the_key(clients: tuple[Cli, Bao]) -> None:
    cli, _ = clients
    result = cli("operator", "unseal", stdin="")
    assert result.returncode == LOCAL
    assert result.stderr == (
        "Error unsealing: no unseal key was given (there is no terminal to ask on: pass the key as an argument, "
        "or - and the key on stdin)\n"
    )
