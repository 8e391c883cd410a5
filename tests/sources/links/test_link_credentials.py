"""Link credentials: encrypted with the first key, opened with any, rotated, refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from nightstream.sources.link_credentials import (
    KEY_ENV,
    KEY_FILE_ENV,
    Credentials,
    LinkKeyError,
    LinkKeyring,
    new_key,
)
from nightstream.sources.secret import Secret

PASSWORD = "correct horse battery staple"
USERNAME = "alice@example.org"
CREDENTIALS = Credentials(Secret(USERNAME), Secret(PASSWORD))


def _clear(credentials: Credentials) -> tuple[str, str]:
    return credentials.username.reveal(), credentials.password.reveal()


def test_round_trip_and_no_clear_text_in_the_token() -> None:
    keyring = LinkKeyring([new_key()])
    token = keyring.encrypt(CREDENTIALS)
    assert PASSWORD.encode() not in token
    assert USERNAME.encode() not in token
    assert _clear(keyring.decrypt(token, "l1")) == (USERNAME, PASSWORD)
    assert keyring.encrypt(CREDENTIALS) != token  # a fresh IV each time


def test_rotation_new_key_first_opens_old_tokens_and_rotate_drops_the_old_key() -> None:
    old, new = new_key(), new_key()
    old_token = LinkKeyring([old]).encrypt(CREDENTIALS)
    both = LinkKeyring([new, old])
    assert _clear(both.decrypt(old_token, "l1")) == (USERNAME, PASSWORD)
    rotated = both.rotate(old_token, "l1")
    assert _clear(LinkKeyring([new]).decrypt(rotated, "l1")) == (USERNAME, PASSWORD)
    with pytest.raises(LinkKeyError):
        LinkKeyring([old]).decrypt(rotated, "l1")
    # New writes use the first key only.
    assert _clear(LinkKeyring([new]).decrypt(both.encrypt(CREDENTIALS), "l1"))[1] == PASSWORD


def test_a_wrong_key_gives_one_message_saying_what_to_do_and_no_secret() -> None:
    token = LinkKeyring([new_key()]).encrypt(CREDENTIALS)
    with pytest.raises(LinkKeyError) as caught:
        LinkKeyring([new_key()]).decrypt(token, "alice-dexcom")
    message = str(caught.value)
    assert "link alice-dexcom" in message
    assert KEY_ENV in message
    assert PASSWORD not in message
    assert USERNAME not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_missing_and_malformed_keys_are_refused_with_the_fix() -> None:
    with pytest.raises(LinkKeyError, match=KEY_ENV):
        LinkKeyring.from_env({})
    with pytest.raises(LinkKeyError, match="not a Fernet key"):
        LinkKeyring.from_env({KEY_ENV: "not-a-key"})
    with pytest.raises(LinkKeyError, match="key number 2"):
        LinkKeyring.from_env({KEY_ENV: f"{new_key()},short"})


def test_keys_from_the_environment_or_a_file(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    token = LinkKeyring([old]).encrypt(CREDENTIALS)
    from_env = LinkKeyring.from_env({KEY_ENV: f" {new} , {old} "})
    assert _clear(from_env.decrypt(token, "l1"))[1] == PASSWORD
    key_file = tmp_path / "links.key"
    key_file.write_text(f"# newest first\n{new}\n\n{old}\n", encoding="ascii")
    from_file = LinkKeyring.from_env({KEY_FILE_ENV: str(key_file)})
    assert _clear(from_file.decrypt(token, "l1"))[1] == PASSWORD
    with pytest.raises(LinkKeyError, match="cannot read the link key file"):
        LinkKeyring.from_env({KEY_FILE_ENV: str(tmp_path / "absent")})
