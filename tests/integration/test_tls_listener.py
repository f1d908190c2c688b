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

from tests.integration.certificates import write_certificate
from tests.integration.openbao import free_port, stop

pytestmark = pytest.mark.integration


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    write_certificate(cert_path, key_path, "127.0.0.1")
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


class _Authority:
    """A CA made for the test, which issues certificates for servers and clients."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            self._builder(self.name, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def _builder(self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )

    def issue(self, directory: Path, name: str, *, server: bool) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        usage = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
        builder = self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key.public_key())
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
        cert_path.write_bytes(builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_path, key_path

    def write(self, path: Path) -> Path:
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path


class ClientCertServer:
    def __init__(self, directory: Path, port: int, server_ca: Path) -> None:
        self.directory = directory
        self.base_url = f"https://127.0.0.1:{port}"
        self.server_ca = server_ca

    def context(self, client: tuple[Path, Path] | None, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.server_ca))
        if client is not None:
            context.load_cert_chain(*client)
        if maximum is not None:
            context.maximum_version = maximum
        return context

    def status(self, client: tuple[Path, Path] | None, maximum: ssl.TLSVersion | None = None) -> int:
        with httpx.Client(base_url=self.base_url, verify=self.context(client, maximum), trust_env=False) as http:
            return http.get("/v1/sys/seal-status").status_code


@pytest.fixture(scope="module")
def client_cert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientCertServer]:
    directory = Path(tmp_path_factory.mktemp("client-certs"))
    server_ca, client_ca = _Authority("server CA"), _Authority("client CA")
    cert, key = server_ca.issue(directory, "server", server=True)
    port = free_port()
    config = directory / "strongroom.hcl"
    client_ca_file = client_ca.write(directory / "ca.pem")
    config.write_text(
        f'storage "sqlite" {{ path = "{directory / "strongroom.db"}" }}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_cert_file = "{cert}"\n  tls_key_file = "{key}"\n'
        f'  tls_require_and_verify_client_cert = true\n  tls_client_ca_file = "{client_ca_file}"\n'
        '  tls_min_version = "tls13"\n}\n'
        "disable_mlock = true\nworkers = 1\n",
        encoding="utf-8",
    )
    running = ClientCertServer(directory, port, server_ca.write(directory / "server-ca.pem"))
    allowed = client_ca.issue(directory, "allowed", server=False)
    with open(directory / "strongroom.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "strongroom.cli.main", "server", f"-config={config}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                running.status(allowed)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, (
                    directory / "strongroom.log"
                ).read_text()
                time.sleep(0.05)
        yield running
    finally:
        stop(process)


def test_a_client_certificate_the_configured_ca_signed_is_let_in(client_cert_server: ClientCertServer) -> None:
    allowed = (client_cert_server.directory / "allowed.pem", client_cert_server.directory / "allowed-key.pem")
    assert client_cert_server.status(allowed) == 200


def test_a_client_without_a_certificate_is_refused(client_cert_server: ClientCertServer) -> None:
    with pytest.raises(httpx.TransportError):
        client_cert_server.status(None)


def test_a_client_certificate_of_another_ca_is_refused(client_cert_server: ClientCertServer) -> None:
    rogue = _Authority("client CA").issue(client_cert_server.directory, "rogue", server=False)  # same name, other key
    with pytest.raises(httpx.TransportError):
        client_cert_server.status(rogue)


def test_tls_below_the_minimum_version_is_refused(client_cert_server: ClientCertServer) -> None:
    allowed = (client_cert_server.directory / "allowed.pem", client_cert_server.directory / "allowed-key.pem")
    with pytest.raises(httpx.TransportError):
        client_cert_server.status(allowed, maximum=ssl.TLSVersion.TLSv1_2)
