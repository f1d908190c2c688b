"""Start OpenBao (raft) and Strongroom (sqlite) the same way, non-dev, and time their lifecycle.

Each `Server` lives in its own temporary directory (config, log, and a `data/` directory that
holds only the storage, so its size is the storage's size). Every step that the report times
(start, init, unseal, seal) is timed here, around the one HTTP request that performs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.005


class BenchError(RuntimeError):
    """A failure that ends the run with one clear line."""


def free_port(taken: frozenset[int] | set[int] = frozenset()) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def executable(name: str) -> str:
    """The tool beside this interpreter (an unactivated venv), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"`{name}` not found: pip install -e '.[bench]' in the project's venv")
    return found


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_", "STRONGROOM_"))}


class Server:
    """One server process of one kind, from an empty data directory to stopped and removed."""

    kind = ""
    title = ""

    def __init__(self, work_root: Path | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix=f"bench-{self.kind}-", dir=work_root))
        self.data_dir = self.directory / "data"
        self.data_dir.mkdir()
        self.port = free_port()
        self.cluster_port = free_port({self.port})
        self.address = f"http://127.0.0.1:{self.port}"
        self.log_path = self.directory / f"{self.kind}.log"
        self.config_path = self.directory / f"{self.kind}.hcl"
        self.config_path.write_text(self.config(), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.address, trust_env=False, timeout=60.0)
        self.token = ""
        self.keys: list[str] = []
        self.timings: dict[str, float] = {}

    # what differs between the two kinds
    def config(self) -> str:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    # lifecycle
    def start(self, timeout: float = 30.0) -> float:
        """Seconds from spawning the process to its first 200 on sys/seal-status."""
        with open(self.log_path, "ab") as log:
            began = time.perf_counter()
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_clean_env(),
                cwd=self.directory,
                start_new_session=True,
            )
        deadline = began + timeout
        while True:
            try:
                if self.http.get("/v1/sys/seal-status").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise BenchError(f"{self.title} exited with {self.process.returncode} at start: {self.log_tail()}")
            if time.perf_counter() > deadline:
                raise BenchError(f"{self.title} did not answer sys/seal-status within {timeout:g}s: {self.log_tail()}")
            time.sleep(POLL_INTERVAL)
        self.timings["start_s"] = time.perf_counter() - began
        return self.timings["start_s"]

    def initialize(self) -> float:
        began = time.perf_counter()
        response = self.http.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
        self.timings["init_s"] = time.perf_counter() - began
        body = self._expect(response, 200, "sys/init")
        self.keys, self.token = body["keys"], body["root_token"]
        self.http.headers["X-Vault-Token"] = self.token
        return self.timings["init_s"]

    def unseal(self) -> float:
        """The threshold share's request until its answer says sealed:false."""
        began = time.perf_counter()
        response = self.http.put("/v1/sys/unseal", json={"key": self.keys[0]})
        self.timings["unseal_s"] = time.perf_counter() - began
        if self._expect(response, 200, "sys/unseal").get("sealed") is not False:
            raise BenchError(f"{self.title}: sys/unseal with the only share did not unseal: {response.text.strip()}")
        return self.timings["unseal_s"]

    def wait_active(self, timeout: float = 60.0) -> float:
        """After unsealing, until sys/health says active (200): raft elects itself leader first."""
        began = time.perf_counter()
        while True:
            try:
                if self.http.get("/v1/sys/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            self._check_alive()
            if time.perf_counter() - began > timeout:
                raise BenchError(f"{self.title} did not become active (sys/health 200) within {timeout:g}s")
            time.sleep(POLL_INTERVAL)
        self.timings["unseal_to_active_s"] = time.perf_counter() - began
        return self.timings["unseal_to_active_s"]

    def seal(self, timing: str = "seal_s") -> float:
        began = time.perf_counter()
        response = self.http.put("/v1/sys/seal")
        self.timings[timing] = time.perf_counter() - began
        if response.status_code != 204:
            raise BenchError(
                f"{self.title}: PUT sys/seal answered {response.status_code}: {response.text.strip()[:200]}"
            )
        return self.timings[timing]

    def bring_up(self) -> None:
        """Start, init with one share, unseal, wait until active, mount KV v2 at secret/."""
        self.start()
        self.initialize()
        self.unseal()
        self.wait_active()
        self.mount_kv()

    def mount_kv(self, timeout: float = 30.0) -> None:
        response = self.http.post("/v1/sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}})
        self._expect(response, (200, 204), "mount kv v2 at secret/")
        # a fresh kv v2 mount may answer "upgrading" for a moment; the benchmark starts once it writes
        deadline = time.perf_counter() + timeout
        while True:
            response = self.http.post("/v1/secret/data/bench/one", json={"data": {"value": "x" * 32}})
            if response.status_code == 200:
                return
            if time.perf_counter() > deadline:
                self._expect(response, 200, "first write to secret/")
            time.sleep(0.05)

    def try_mount_transit(self) -> str | None:
        """None when transit is mounted and has a key `bench`; else why not."""
        response = self.http.post("/v1/sys/mounts/transit", json={"type": "transit"})
        if response.status_code not in (200, 204):
            return f"POST sys/mounts/transit answered {response.status_code}: {_errors(response)}"
        response = self.http.post("/v1/transit/keys/bench", json={})
        if response.status_code not in (200, 204):
            return f"POST transit/keys/bench answered {response.status_code}: {_errors(response)}"
        response = self.http.post("/v1/transit/encrypt/bench", json={"plaintext": "aGVsbG8="})
        if response.status_code != 200:
            return f"POST transit/encrypt/bench answered {response.status_code}: {_errors(response)}"
        return None

    # measurements of the process and its storage
    def peak_rss_bytes(self) -> int:
        """VmHWM of the server and every process under it (Strongroom may grow workers)."""
        assert self.process is not None
        total = 0
        for pid in process_tree(self.process.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        return total

    def pids(self) -> list[int]:
        assert self.process is not None
        return process_tree(self.process.pid)

    def process_count(self) -> int:
        return len(self.pids())

    def disk_usage(self) -> dict[str, int]:
        """Allocated bytes (what du shows) and apparent bytes of the data directory."""
        allocated = apparent = 0
        for path in self.data_dir.rglob("*"):
            try:
                st = path.lstat()
            except OSError:
                continue
            if path.is_file():
                allocated += st.st_blocks * 512
                apparent += st.st_size
        return {"allocated": allocated, "apparent": apparent}

    # teardown
    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL; then wait until both ports are free."""
        self.http.close()
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + 10
        while not (port_is_free(self.port) and port_is_free(self.cluster_port)):
            if time.monotonic() > deadline:
                raise BenchError(f"{self.title}: port {self.port} still taken 10s after the server stopped")
            time.sleep(0.05)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text[-lines:]) or "(empty log)"

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise BenchError(f"{self.title} exited with {self.process.returncode}: {self.log_tail()}")

    def _expect(self, response: httpx.Response, status: int | tuple[int, ...], what: str) -> dict:
        wanted = (status,) if isinstance(status, int) else status
        if response.status_code not in wanted:
            raise BenchError(f"{self.title}: {what} answered {response.status_code}: {_errors(response)}")
        return response.json() if response.content else {}


class OpenBao(Server):
    kind = "openbao"
    title = "OpenBao"

    def config(self) -> str:
        return (
            'storage "raft" {\n'
            f'  path    = "{self.data_dir}"\n'
            '  node_id = "bench"\n'
            "}\n"
            'listener "tcp" {\n'
            f'  address         = "127.0.0.1:{self.port}"\n'
            f'  cluster_address = "127.0.0.1:{self.cluster_port}"\n'
            "  tls_disable     = true\n"
            "}\n"
            "disable_mlock = true\n"
            f'api_addr     = "http://127.0.0.1:{self.port}"\n'
            f'cluster_addr = "http://127.0.0.1:{self.cluster_port}"\n'
            'log_level    = "warn"\n'
        )

    def command(self) -> list[str]:
        return [executable("bao"), "server", f"-config={self.config_path}"]


class Strongroom(Server):
    kind = "strongroom"
    title = "Strongroom"

    def config(self) -> str:
        return (
            'storage "sqlite" {\n'
            f'  path = "{self.data_dir / "strongroom.db"}"\n'
            "}\n"
            'listener "tcp" {\n'
            f'  address     = "127.0.0.1:{self.port}"\n'
            "  tls_disable = true\n"
            "}\n"
            "disable_mlock = true\n"
            f'api_addr     = "http://127.0.0.1:{self.port}"\n'
            f'cluster_addr = "http://127.0.0.1:{self.cluster_port}"\n'
            'log_level    = "warn"\n'
        )

    def command(self) -> list[str]:
        return [executable("strongroom"), "server", f"-config={self.config_path}"]


KINDS: dict[str, type[Server]] = {"openbao": OpenBao, "strongroom": Strongroom}


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors")
    except ValueError:
        errors = None
    return "; ".join(map(str, errors)) if errors else (response.text.strip()[:200] or "(empty body)")


def process_tree(root: int) -> list[int]:
    """`root` and its descendants; one that exits while it is read (a PostgreSQL backend ending) is left out."""
    pids, queue = [], [root]
    while queue:
        pid = queue.pop()
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        pids.append(pid)
        for task in tasks:
            with contextlib.suppress(OSError):
                queue.extend(int(c) for c in (task / "children").read_text().split())
    return pids
