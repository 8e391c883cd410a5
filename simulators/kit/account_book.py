"""The accounts a simulator knows, filed by their case-folded sign-in name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar


class _Account(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def email(self) -> str: ...


A = TypeVar("A", bound=_Account)


class AccountBook(Generic[A]):
    def __init__(self) -> None:
        self._accounts: dict[str, A] = {}

    def add_accounts(self, accounts: Iterable[A]) -> None:
        for account in accounts:
            if self._accounts.setdefault(account.key, account) is not account:
                raise ValueError(f"account {account.email!r} exists already")

    @property
    def accounts(self) -> tuple[A, ...]:
        return tuple(self._accounts.values())

    def account(self, email: str) -> A:
        return self._accounts[email.casefold()]
