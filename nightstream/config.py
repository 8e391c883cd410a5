"""Configuration: one model read from a TOML file and environment variables.

Precedence, highest first: ``NIGHTSTREAM_*`` env vars (``__`` separates nesting, e.g.
``NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS``), nightscout-connect's ``CONNECT_*`` vars (one link and
one target, so existing setups work as they are), the TOML file named by ``--config`` or
``NIGHTSTREAM_CONFIG``. Secrets are ``SecretStr``: they never print. Nothing here runs at import.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import tomli
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from nightstream.config_errors import ConfigError, KeyedValueError, SettingsInvalid, explain
from nightstream.connect_env import in_connect_terms, with_connect_link
from nightstream.env_names import unknown_variables
from nightstream.schemas.kafka_access import SaslMechanism, SecurityProtocol

VendorName = Literal["dexcomshare", "librelinkup", "tandem"]
DEXCOM_REGIONS = ("us", "ous", "jp")
TANDEM_REGIONS = ("us", "eu")
LIBRE_REGIONS = (
    "auto",
    "us",
    "eu",
    "eu2",
    "de",
    "fr",
    "jp",
    "ap",
    "au",
    "ae",
    "ca",
    "la",
    "ru",
    "cn",
)
_ENVIRONMENT: ContextVar[Mapping[str, str]] = ContextVar("nightstream_environment")
_LINK_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _has_space(url: str) -> bool:
    return any(c.isspace() for c in url)


class KafkaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="nightstream", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    partitions: int = Field(default=6, ge=1, le=1000)
    replication_factor: int = Field(default=1, ge=1, le=10)
    schema_registry_url: str | None = None
    schema_registry_username: str | None = None
    """HTTP basic auth for the schema registry (with ``schema_registry_password``)."""
    schema_registry_password: SecretStr | None = None
    """Better from ``NIGHTSTREAM_KAFKA__SCHEMA_REGISTRY_PASSWORD`` than in the file."""
    schema_registry_ca_file: Path | None = None
    """PEM CA bundle the registry's certificate is checked against (default: the system's)."""

    security_protocol: SecurityProtocol = "PLAINTEXT"
    """``SSL`` or ``SASL_SSL`` for TLS; ``SASL_*`` to log in with ``sasl_*``."""
    ssl_ca_file: Path | None = None
    """PEM CA bundle the brokers' certificates are checked against (default: the system's)."""
    ssl_cert_file: Path | None = None
    """PEM client certificate (chain), for brokers that require one; with ``ssl_key_file``."""
    ssl_key_file: Path | None = None
    """PEM private key of ``ssl_cert_file``."""
    ssl_key_password: SecretStr | None = None
    """Only for an encrypted ``ssl_key_file``."""
    ssl_check_hostname: bool = True
    """The broker's certificate must name the host connected to."""
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    """``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``."""
    sasl_username: str | None = None
    """The SASL login (with ``security_protocol`` SASL_SSL or SASL_PLAINTEXT)."""
    sasl_password: SecretStr | None = None
    """The SASL password. Better from ``NIGHTSTREAM_KAFKA__SASL_PASSWORD`` than in the file."""

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("must be host:port[,host:port...]")
        return value

    @model_validator(mode="after")
    def _security(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and (self.sasl_username is None or self.sasl_password is None):
            missing = "sasl_username" if self.sasl_username is None else "sasl_password"
            raise KeyedValueError(
                (missing,),
                f"security_protocol {self.security_protocol} needs sasl_username and sasl_password",
            )
        if not sasl and (self.sasl_username or self.sasl_password):
            raise KeyedValueError(
                ("security_protocol",),
                "sasl_username/sasl_password are set but security_protocol is "
                f"{self.security_protocol}: use SASL_SSL (or SASL_PLAINTEXT)",
            )
        tls = self.security_protocol in ("SSL", "SASL_SSL")
        tls_files = [self.ssl_ca_file, self.ssl_cert_file, self.ssl_key_file]
        if not tls and any(path is not None for path in tls_files):
            raise KeyedValueError(
                ("security_protocol",),
                f"ssl_* files are set but security_protocol is {self.security_protocol}: "
                "use SSL or SASL_SSL",
            )
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            missing = "ssl_key_file" if self.ssl_key_file is None else "ssl_cert_file"
            raise KeyedValueError((missing,), "a client certificate needs both its cert and key")
        if (self.schema_registry_username is None) != (self.schema_registry_password is None):
            raise KeyedValueError(
                ("schema_registry_password",),
                "schema registry basic auth needs both schema_registry_username and "
                "schema_registry_password",
            )
        return self


class ProcessorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: Path | None = None
    """Local store of the content hashes, kept across restarts (default: a temporary one)."""
    hash_horizon_days: float = Field(default=35.0, gt=0, le=3650)
    """How long a document's hash is kept, by document date: longer than any vendor re-sends."""


class VendorBudget(BaseModel):
    """What one poller process may ask of each host of one vendor, logins included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_second: float = Field(default=50.0, gt=0, le=10_000)
    """Sustained rate; up to one second's worth may go at once."""
    max_in_flight: int = Field(default=16, ge=1, le=256)
    """Requests sent and not yet answered (also the host's connection pool size)."""


class VendorBudgets(BaseModel):
    """Per vendor; no vendor publishes its limit, so the defaults are modest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dexcomshare: VendorBudget = VendorBudget()
    librelinkup: VendorBudget = VendorBudget()
    tandem: VendorBudget = VendorBudget()


class SinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: Path | None = None
    """Local store of what each site acknowledged, kept across restarts (default: temporary)."""
    acked_horizon_days: float = Field(default=35.0, gt=0, le=3650)
    """How long a site's answer for a document is kept, by document date."""


class TargetSettings(BaseModel):
    """One Nightscout site."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    token: SecretStr | None = None
    api_version: Literal["v3", "v1"] = "v3"
    api_secret: SecretStr | None = None
    max_concurrency: int = Field(default=8, ge=1, le=64)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_retry_delay_seconds: float = Field(default=300.0, ge=1, le=3600)
    """Longest wait between two tries of one write (unless the site asks for more)."""
    park_after_seconds: float = Field(default=120.0, ge=1, le=86_400)
    """A site failing this long is parked: it catches up later on its own, others go on."""
    run_time_links: bool = False
    """Links added with ``nightstream links add`` name this site, so no link of this file needs
    to (otherwise a site no link names is refused: it would receive nothing)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value) or _has_space(value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials(self) -> TargetSettings:
        if self.api_version == "v3" and self.token is None:
            raise KeyedValueError(
                ("token",), "API v3 needs an access token; the API secret does not work for v3"
            )
        if self.api_version == "v1" and self.api_secret is None:
            raise KeyedValueError(("api_secret",), 'api_version "v1" needs the API secret')
        return self


class LinkSettings(BaseModel):
    """One vendor account (and for follower accounts one patient) feeding some targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    vendor: VendorName
    username: str = Field(min_length=1)
    password: SecretStr = Field(min_length=1)
    region: str | None = None
    server_url: str | None = None
    patient_id: str | None = None
    llu_version: str | None = Field(default=None, pattern=r"^\d+\.\d+\.\d+$")
    timezone: str | None = None
    pump_serial: str | None = Field(default=None, pattern=r"^[0-9A-Za-z-]{1,32}$")
    client_id: str | None = Field(default=None, pattern=r"^[0-9A-Za-z-]{8,64}$")
    backfill_days: int = Field(default=7, ge=1, le=365)
    targets: list[str] = Field(default_factory=lambda: ["default"], min_length=1)
    poll_interval_seconds: float = Field(default=300.0, ge=1, le=3600)

    @field_validator("id")
    @classmethod
    def _link_id(cls, value: str) -> str:
        if not _LINK_ID.match(value):
            raise ValueError("lower-case letters, digits, '.', '_' or '-', at most 63")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"{value!r} is not an IANA time zone name") from exc
        return value

    @field_validator("server_url")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        # LibreLinkUp URLs may hold a {region} placeholder (one host per region).
        parts = None if value is None else urlsplit(value.replace("{region}", "region"))
        if parts is not None and (
            parts.scheme not in ("http", "https") or not parts.netloc or _has_space(value or "")
        ):
            raise ValueError("must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _region(self) -> LinkSettings:
        regions = {"dexcomshare": DEXCOM_REGIONS, "tandem": TANDEM_REGIONS}.get(
            self.vendor, LIBRE_REGIONS
        )
        if self.region is not None and self.region not in regions:
            raise KeyedValueError(
                ("region",),
                f"{self.region!r} is not a {self.vendor} region: use one of {', '.join(regions)}",
            )
        if self.vendor == "tandem" and self.timezone is None:
            raise KeyedValueError(
                ("timezone",),
                "a Tandem pump's clock has no zone: set the IANA zone its clock is set in",
            )
        return self


class _GivenEnvironmentSource(EnvSettingsSource):
    """Reads the environment mapping handed to ``load_settings``, not ``os.environ``."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in _ENVIRONMENT.get({}).items()}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NIGHTSTREAM_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    processor: ProcessorSettings = ProcessorSettings()
    vendors: VendorBudgets = VendorBudgets()
    sink: SinkSettings = SinkSettings()
    targets: dict[str, TargetSettings] = Field(default_factory=dict)
    links: list[LinkSettings] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line (time, level, logger, message)."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _references(self) -> Settings:
        seen: set[str] = set()
        for index, link in enumerate(self.links):
            if link.id in seen:
                raise KeyedValueError(
                    ("links", index, "id"), f"link id {link.id!r} is used by an earlier link"
                )
            seen.add(link.id)
            unknown = [target for target in link.targets if target not in self.targets]
            if unknown:
                known = ", ".join(sorted(self.targets)) or "none"
                raise KeyedValueError(
                    ("links", index, "targets"),
                    f"link {link.id!r} names target(s) {', '.join(map(repr, unknown))}, not "
                    f"defined under [targets.<name>] (defined: {known})",
                )
        named = {target for link in self.links for target in link.targets}
        for name, target in self.targets.items():
            if name not in named and not target.run_time_links:
                # Routing is by link: a target no link names would receive nothing, and under
                # the first release it received every patient's data. Refuse it outright.
                raise KeyedValueError(
                    ("targets", name),
                    f"target {name!r} is named by no link, so it would receive nothing: add "
                    f'"{name}" to the targets of the link(s) whose data it should hold, set '
                    f"run_time_links = true if links added with `nightstream links add` name "
                    f"it, or remove [targets.{name}]",
                    example=f'targets = ["{name}"] in a [[links]] entry',
                )
        return self

    def link(self, link_id: str) -> LinkSettings:
        for link in self.links:
            if link.id == link_id:
                return link
        raise KeyError(link_id)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (_GivenEnvironmentSource(settings_cls), init_settings)


def _read_toml(path: Path) -> dict[str, Any]:
    where = "check --config or NIGHTSTREAM_CONFIG"
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist: {where}")
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file: {where}")
    try:
        with path.open("rb") as file:
            data = tomli.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text: save it as UTF-8") from None
    except tomli.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML: {exc}; fix that line (syntax: toml.io)"
        ) from None
    if not data:
        raise ConfigError(
            f"config file {path} is empty: write the settings in it ([kafka], "
            "[targets.<name>], [[links]]: see the README), or leave out --config and "
            "NIGHTSTREAM_CONFIG"
        )
    return data


def settings_sections() -> dict[str, set[str] | None]:
    """Each top-level setting, upper case, with its keys where it is a section of keys."""
    nested: dict[str, type[BaseModel]] = {
        "kafka": KafkaSettings,
        "processor": ProcessorSettings,
        "vendors": VendorBudgets,
    }
    return {
        name.upper(): set(nested[name].model_fields) if name in nested else None
        for name in Settings.model_fields
    }


def known_keys() -> set[str]:
    """Every key a config file may hold, at any level."""
    models = (
        Settings,
        KafkaSettings,
        ProcessorSettings,
        VendorBudgets,
        VendorBudget,
        TargetSettings,
        LinkSettings,
    )
    return {key for model in models for key in model.model_fields}


def _link_ids(data: Mapping[str, Any], env: Mapping[str, str]) -> list[str | None]:
    if any(name.upper().startswith("NIGHTSTREAM_LINKS") for name in env):
        return []  # links from the environment: positions in the file would mislead
    links = data.get("links")
    if not isinstance(links, list):
        return []
    return [str(link["id"]) if isinstance(link, dict) and "id" in link else None for link in links]


def load_settings(env: Mapping[str, str], config_file: Path | None = None) -> Settings:
    """Build the settings from a TOML file and ``env``; raises ConfigError for an unusable file
    or environment, SettingsInvalid (a ConfigError) for wrong settings."""
    path = config_file or (
        Path(env["NIGHTSTREAM_CONFIG"]) if env.get("NIGHTSTREAM_CONFIG") else None
    )
    unknown = unknown_variables(env, settings_sections())
    if unknown:
        raise ConfigError(
            f"unknown environment variable(s): {', '.join(unknown)}; nested settings take two "
            "underscores (NIGHTSTREAM_KAFKA__BOOTSTRAP_SERVERS): fix or unset them"
        )
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_toml(path)
    from_connect = not data.get("links")
    data = with_connect_link(data, env)
    token = _ENVIRONMENT.set(env)
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = explain(exc, _link_ids(data, env), known_keys())
        if from_connect:
            problems = in_connect_terms(problems, env)
        raise SettingsInvalid(problems) from None
    finally:
        _ENVIRONMENT.reset(token)
