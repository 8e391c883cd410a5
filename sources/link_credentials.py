"""Vendor credentials encrypted at rest: Fernet tokens (``cryptography``) on the links topic.

The key ring comes from ``NIGHTSTREAM_LINKS_KEY`` (keys separated by commas) or from the file
named by ``NIGHTSTREAM_LINKS_KEY_FILE`` (one key per line). The first key encrypts; every key
decrypts, so rotating is: put a new key first, keep the old one after it, re-encrypt the links
(``nightstream links rotate-key``), then drop the old key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from nightstream.schemas.errors import NightstreamError
from nightstream.sources.secret import Secret

KEY_ENV = "NIGHTSTREAM_LINKS_KEY"
KEY_FILE_ENV = "NIGHTSTREAM_LINKS_KEY_FILE"
_HOW = (
    f"set {KEY_ENV} (or {KEY_FILE_ENV}, a file with one key per line) to the key the links "
    "were added with; `nightstream links new-key` makes a new one"
)


class LinkKeyError(NightstreamError):
    """No usable key, or credentials that none of the keys opens; the message says what to do."""


@dataclass(frozen=True)
class Credentials:
    username: Secret
    password: Secret


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


class MissingKeyring:
    """Stands for the key ring of a poller started without a usable key: every link it is
    given stops with the one message saying how to give it the key."""

    def __init__(self, problem: LinkKeyError) -> None:
        self.problem = problem

    def decrypt(self, token: bytes, link_id: str) -> Credentials:
        raise LinkKeyError(f"link {link_id}: {self.problem}")


class LinkKeyring:
    """Encrypts with the first key, decrypts with any."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise LinkKeyError(f"no key to encrypt link credentials: {_HOW}")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise LinkKeyError(
                    f"link key number {position} is not a Fernet key (32 url-safe base64 "
                    f"bytes): {_HOW}"
                ) from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def for_poller(cls, env: Mapping[str, str]) -> LinkKeyring | MissingKeyring:
        try:
            return cls.from_env(env)
        except LinkKeyError as problem:
            return MissingKeyring(problem)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LinkKeyring:
        if env.get(KEY_ENV, "").strip():
            return cls([k for k in env[KEY_ENV].split(",") if k.strip()])
        if env.get(KEY_FILE_ENV, "").strip():
            path = Path(env[KEY_FILE_ENV])
            try:
                lines = path.read_text(encoding="ascii").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise LinkKeyError(f"cannot read the link key file {path}: {exc}") from None
            return cls([line for line in lines if line.strip() and not line.startswith("#")])
        raise LinkKeyError(f"no key to encrypt or decrypt link credentials: {_HOW}")

    def encrypt(self, credentials: Credentials) -> bytes:
        clear = {
            "username": credentials.username.reveal(),
            "password": credentials.password.reveal(),
        }
        return self._fernet.encrypt(json.dumps(clear).encode())

    def decrypt(self, token: bytes, link_id: str) -> Credentials:
        try:
            clear = json.loads(self._fernet.decrypt(token))
            return Credentials(Secret(clear["username"]), Secret(clear["password"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            raise LinkKeyError(
                f"link {link_id}: none of the link keys opens its credentials: {_HOW}"
            ) from None

    def rotate(self, token: bytes, link_id: str) -> bytes:
        """The same credentials encrypted with the first key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise LinkKeyError(
                f"link {link_id}: none of the link keys opens its credentials: {_HOW}"
            ) from None
