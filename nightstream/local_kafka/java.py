"""Finding a Java runtime good enough for the broker, or saying what to install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

MIN_MAJOR = 11
INSTALL_HINT = (
    "install Java 11 or newer, e.g. 'apt-get install openjdk-17-jre-headless' (Debian/Ubuntu), "
    "'dnf install java-17-openjdk-headless' (Fedora) or 'brew install openjdk@17' (macOS), "
    "or set JAVA_HOME"
)


class JavaMissing(Exception):
    """No usable Java: the message says what is wrong and what to install."""


def java_command() -> str:
    """The ``java`` to run: ``$JAVA_HOME/bin/java`` when set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME", "").strip()
    if home:
        candidate = os.path.join(home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("java")
    if found is None:
        raise JavaMissing(f"the local Kafka broker needs Java, and none was found: {INSTALL_HINT}")
    return found


def major_version(version_output: str) -> int | None:
    """The major version in ``java -version``'s output ("1.8.0_392" is 8, "17.0.15" is 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java() -> str:
    """The java command, checked to be Java 11+; raises JavaMissing otherwise."""
    java = java_command()
    try:
        shown = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaMissing(f"{java} -version failed ({exc}): {INSTALL_HINT}") from None
    major = major_version(shown.stderr + shown.stdout)
    if major is None:
        raise JavaMissing(f"cannot tell the Java version of {java}: {INSTALL_HINT}")
    if major < MIN_MAJOR:
        raise JavaMissing(f"{java} is Java {major}, too old for Kafka: {INSTALL_HINT}")
    return java
