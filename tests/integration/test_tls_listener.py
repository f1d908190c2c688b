"""A TLS listener, served by the worker processes on the socket the keeper opened."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.openbao import free_port, stop

pytestmark = pytest.mark.integration


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, httpx.Client]]:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    config = tmp_path / "strongroom.hcl"
    config.write_text(
        f'storage "sqlite" {{ path = "{tmp_path / "strongroom.db"}" }}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_cert_file = "{cert}"\n  tls_key_file = "{key}"\n}}\n'
        "disable_mlock = true\nworkers = 2\n",
        encoding="utf-8",
    )
    with open(tmp_path / "strongroom.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "strongroom.cli.main", "server", f"-config={config}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    client = httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=ssl.create_default_context(cafile=str(cert)))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.get("/v1/sys/seal-status")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "strongroom.log").read_text()
                time.sleep(0.05)
        yield f"127.0.0.1:{port}", cert, client
    finally:
        client.close()
        stop(process)


def test_workers_serve_tls_with_the_configured_certificate(tls_server: tuple[str, Path, httpx.Client]) -> None:
    address, cert, client = tls_server
    answer = client.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}).json()
    assert client.put("/v1/sys/unseal", json={"key": answer["keys"][0]}).json()["sealed"] is False
    for _ in range(10):  # new connections: the kernel hands them to either worker
        with httpx.Client(base_url=client.base_url, verify=ssl.create_default_context(cafile=str(cert))) as fresh:
            assert fresh.get("/v1/sys/mounts", headers={"X-Vault-Token": answer["root_token"]}).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://{address}/v1/sys/seal-status", timeout=5)
