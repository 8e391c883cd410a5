"""Shiro-style permission matching (shiro-trie 0.4.10 semantics)."""

from __future__ import annotations

import pytest

from nightstream.simulators.nightscout.permissions import PermissionTrie


@pytest.mark.parametrize(
    ("granted", "asked", "allowed"),
    [
        (["*"], "api:entries:create", True),
        (["*:*:read"], "api:entries:read", True),
        (["*:*:read"], "api:entries:create", False),
        (["api:*:create"], "api:treatments:create", True),
        (["api:*:create"], "api:treatments:update", False),
        (["api"], "api:entries:create", True),
        (["api:*"], "api:entries:delete", True),
        (["api:entries:create"], "api:entries:create", True),
        (["api:entries:create"], "api:treatments:create", False),
        (["api:entries,treatments:create"], "api:treatments:create", True),
        (["api:entries:create,update"], "api:entries:update", True),
        # A specific and a wildcard branch at the same level are both searched.
        (["api:*:read", "api:entries:create"], "api:entries:create", True),
        (["api:*:read", "api:entries:create"], "api:entries:read", True),
        (["api:entries:create:extra"], "api:entries:create", False),
        ([""], "api:entries:read", False),
        ([], "api:entries:read", False),
    ],
)
def test_permission_matching(granted: list[str], asked: str, allowed: bool) -> None:
    assert PermissionTrie(granted).check(asked) is allowed
