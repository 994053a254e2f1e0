"""notify's webhook sender connects to the address it vetted, yet speaks to the URL's host: the
Host header and the TLS server name are the URL's, and the certificate is checked against it.

A local HTTPS receiver with a certificate for `localhost` (made here, trusted through the
sender's `tls` context) stands in for a public one; private targets are allowed for the test.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ticketstream_notify.webhook_sender import WebhookSender


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[int, Path, list[dict[str, str]]]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only `localhost`."""
    cert, key = self_signed(tmp_path, "localhost")
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            seen.append({name.lower(): value for name, value in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert, seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


async def test_the_request_goes_to_the_vetted_address_with_the_urls_host_and_server_name(tls_receiver):
    port, cert, seen = tls_receiver
    sender = WebhookSender(timeout_seconds=5, allow_private=True, require_https=True, tls=trusting(cert))
    try:
        result = await sender.send(
            f"https://localhost:{port}/in", body=b"{}", headers={"webhook-id": "msg_1"}
        )
    finally:
        await sender.close()
    assert (result.status_code, result.error) == (204, None)
    [headers] = seen
    assert headers["host"] == f"localhost:{port}"
    assert headers["webhook-id"] == "msg_1"


async def test_a_certificate_for_another_name_is_refused(tls_receiver, tmp_path: Path):
    port, _, seen = tls_receiver
    other, _ = self_signed(tmp_path, "other.example")
    sender = WebhookSender(timeout_seconds=5, allow_private=True, require_https=True, tls=trusting(other))
    try:
        result = await sender.send(f"https://localhost:{port}/in", body=b"{}", headers={})
    finally:
        await sender.close()
    assert result.status_code is None
    assert result.error is not None and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert seen == []


async def test_the_address_is_checked_again_when_sending():
    sender = WebhookSender(timeout_seconds=5, allow_private=False, require_https=False)
    try:
        result = await sender.send("http://localhost:9/hook", body=b"{}", headers={})
    finally:
        await sender.close()
    assert result.status_code is None
    assert result.error is not None and result.error.startswith("refused: localhost resolves to")
