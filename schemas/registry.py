"""A small Confluent Schema Registry client: register a schema, fetch one by id.

Synchronous on purpose: serdes run inside faust codecs, which are synchronous. Call
``ConfluentSerde.prepare()`` at start-up so no request happens on the hot path.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form
from pydantic import SecretStr

from nightstream.schemas.errors import SchemaError

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass(frozen=True)
class RegistryAccess:
    """Where the registry is; its basic-auth login and the CA its certificate is checked against
    (the system's by default) when it asks for them."""

    url: str
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ca_file: Path | None = None

    def basic_auth(self) -> httpx.BasicAuth | None:
        if self.username is None or self.password is None:
            return None
        return httpx.BasicAuth(self.username, self.password.get_secret_value())

    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True


class SchemaRegistryClient:
    def __init__(self, access: RegistryAccess, *, timeout: float = 10.0) -> None:
        self._client = httpx.Client(
            base_url=access.url.rstrip("/"),
            timeout=timeout,
            headers={"Accept": _CONTENT_TYPE},
            auth=access.basic_auth(),
            verify=access.verify(),
        )
        self._by_id: dict[int, str] = {}

    def register(self, subject: str, schema_text: str) -> int:
        response = self._client.post(
            f"/subjects/{subject}/versions",
            json={"schemaType": "AVRO", "schema": schema_text},
            headers={"Content-Type": _CONTENT_TYPE},
        )
        if response.status_code != 200:
            raise SchemaError(
                f"schema registry refused {subject}: HTTP {response.status_code} {response.text}"
            )
        schema_id = int(response.json()["id"])
        self._by_id[schema_id] = schema_text
        return schema_id

    def canonical_form_by_id(self, schema_id: int) -> str:
        known = self._by_id.get(schema_id)
        if known is not None:
            return known
        response = self._client.get(f"/schemas/ids/{schema_id}")
        if response.status_code != 200:
            raise SchemaError(f"schema registry has no schema id {schema_id}")
        text = str(response.json()["schema"])
        canonical: str = to_parsing_canonical_form(parse_schema(json.loads(text)))
        self._by_id[schema_id] = canonical
        return canonical

    def close(self) -> None:
        self._client.close()
