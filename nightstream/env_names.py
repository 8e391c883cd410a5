"""``NIGHTSTREAM_*`` environment variables: a misspelt one is refused, not silently ignored (a
setting that seems set but is not, say a single ``_`` where nesting takes ``__``)."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping

PREFIX = "NIGHTSTREAM_"
OTHER_VARIABLES = frozenset(
    {
        "CONFIG",  # the TOML file
        "LINK_ID",  # the id of the link CONNECT_* describes
        "POLLER_INSTANCE",  # poll --instance-id
        "REPLAY_TOKEN",  # replay --token
        "LINKS_KEY",  # the links topic's encryption keys
        "LINKS_KEY_FILE",
        "LINK_USERNAME",  # links add --username
        "LINK_PASSWORD",  # links add / set-password
        "CACHE",  # the local broker's jar cache and the demo's files
        "DATA",  # the data of the broker `nightstream run` starts itself
        "MAVEN_REPOSITORY",  # where the local broker's jars come from
        "TEST_KAFKA",  # the test suite's broker choice
        "TEST_TIME_SCALE",  # the test suite's wall-clock scale
        "UPDATE_GOLDEN",  # the test suite: rewrite golden files
    }
)
"""Variables read outside the settings model."""


def _names(sections: Mapping[str, Collection[str]]) -> list[str]:
    names = [PREFIX + other for other in OTHER_VARIABLES]
    for section, keys in sections.items():
        names.append(PREFIX + section)
        names += [f"{PREFIX}{section}__{key.upper()}" for key in keys]
    return names


def _known(rest: str, sections: Mapping[str, Collection[str] | None]) -> bool:
    if rest in OTHER_VARIABLES:
        return True
    section, _, key = rest.partition("__")
    if section not in sections:
        return False
    keys = sections[section]
    # None: a section of named entries ([targets.<name>], links), checked when validated.
    return keys is None or not key or key.partition("__")[0].lower() in keys


def unknown_variables(
    env: Mapping[str, str], sections: Mapping[str, Collection[str] | None]
) -> list[str]:
    """One line per ``NIGHTSTREAM_*`` variable of ``env`` that nothing reads, with the closest
    known name. ``sections``: each top-level setting (upper case) and its keys, if nested."""
    known = _names({s: keys or () for s, keys in sections.items()})
    lines = []
    for name in sorted(env):
        if name.upper().startswith(PREFIX) and not _known(name.upper()[len(PREFIX) :], sections):
            close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.75)
            lines.append(name + (f" (did you mean {close[0]}?)" if close else ""))
    return lines
