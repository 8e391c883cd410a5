"""Shiro-style permission strings (``api:entries:create``, ``api:*:read``, ``*``).

A port of the trie in npm ``shiro-trie`` 0.4.10, the version cgm-remote-monitor 15.0.7 locks:
``:`` separates levels, ``,`` lists alternatives, ``*`` matches any level, and a shorter grant
implies everything below it (``api`` grants ``api:entries:create``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

_Trie = dict[str, Any]


class PermissionTrie:
    def __init__(self, permissions: Iterable[str] = ()) -> None:
        self._trie: _Trie = {}
        for permission in permissions:
            self.add(permission)

    def add(self, permission: str) -> None:
        levels = permission.split(":")
        if levels[-1] == "*":
            levels.pop()
        self._trie = _add(self._trie, levels)

    def check(self, permission: str) -> bool:
        if "," in permission:
            return all(self.check(single) for single in _expand(permission))
        return _check(self._trie, permission.split(":"))


def _add(trie: _Trie, levels: list[str]) -> _Trie:
    node = trie
    remaining: list[str] | None = None
    index = 0
    while index < len(levels):
        values = levels[index].split(",")
        for value in values:
            if value not in node:
                node[value] = {}
            elif "*" in node and not node["*"]:
                return trie
            if len(values) > 1:
                if remaining is None:
                    remaining = levels[index + 1 :]
                node[value] = _add(node[value], remaining)
                index = len(levels)
            else:
                node = node[value]
        index += 1
    if remaining is None:
        node["*"] = {}
    return trie


def _check(trie: _Trie, levels: list[str]) -> bool:
    node = trie
    if not levels or levels[-1] != "*":
        levels = [*levels, "*"]
    for index, level in enumerate(levels):
        if "*" in node and not node["*"]:
            return True
        if "*" in node and level != "*" and level in node:
            rest = levels[index + 1 :]
            return _check(node["*"], rest) or _check(node[level], rest)
        if "*" in node:
            node = node["*"]
        elif level in node:
            node = node[level]
        else:
            return False
    return True


def _expand(permission: str) -> list[str]:
    alternatives = [level.split(",") for level in permission.split(":")]
    return [":".join(combination) for combination in itertools.product(*alternatives)]


class Grant:
    """What one authenticated caller may do: one trie per role, any of them may allow."""

    def __init__(self, tries: Iterable[PermissionTrie]) -> None:
        self._tries = tuple(tries)

    def allows(self, permission: str) -> bool:
        return any(trie.check(permission) for trie in self._tries)


NOTHING = Grant(())
EVERYTHING = Grant((PermissionTrie(["*"]),))
