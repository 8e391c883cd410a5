"""The schema registry client behind HTTPS and basic auth, as managed registries are: a small
HTTPS registry answering one call, its certificate signed by a CA made at test time."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from nightstream.schemas.errors import SchemaError
from nightstream.schemas.registry import RegistryAccess, SchemaRegistryClient
from tests.tls_material import TlsFiles, write_tls_files

USER, PASSWORD = "registry-user", "reg-Pw+4e2f"
SCHEMA = '{"type": "record", "name": "R", "fields": []}'


class _Registry(BaseHTTPRequestHandler):
    """Registers any schema as id 7 for the right login; 401 otherwise."""

    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Authorization") != self.expected:
            self._answer(401, {"error_code": 401, "message": "Unauthorized"})
            return
        self._answer(200, {"id": 7})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return write_tls_files(tmp_path_factory.mktemp("registry-tls"), "unused-Pw1")


@pytest.fixture(scope="module")
def registry_url(tls: TlsFiles) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.server_pem)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _client(url: str, password: str, ca_file: Path) -> SchemaRegistryClient:
    return SchemaRegistryClient(RegistryAccess(url, USER, SecretStr(password), ca_file))


def test_the_login_and_the_ca_get_a_schema_registered(registry_url: str, tls: TlsFiles) -> None:
    client = _client(registry_url, PASSWORD, tls.ca_pem)
    try:
        assert client.register("ns.entries-value", SCHEMA) == 7
    finally:
        client.close()


def test_a_wrong_password_is_refused(registry_url: str, tls: TlsFiles) -> None:
    client = _client(registry_url, "not-the-password", tls.ca_pem)
    try:
        with pytest.raises(SchemaError, match="HTTP 401"):
            client.register("ns.entries-value", SCHEMA)
    finally:
        client.close()


def test_a_registry_certificate_from_another_ca_is_not_trusted(
    registry_url: str, tls: TlsFiles
) -> None:
    client = _client(registry_url, PASSWORD, tls.other_ca_pem)
    try:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.register("ns.entries-value", SCHEMA)
    finally:
        client.close()


def test_the_password_does_not_print() -> None:
    access = RegistryAccess("https://r.example", USER, SecretStr(PASSWORD))
    assert PASSWORD not in repr(access)
