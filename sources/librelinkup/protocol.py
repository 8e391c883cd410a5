"""LibreLinkUp API constants shared by the client and the simulator: paths, headers, codes."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

LOGIN_PATH = "/llu/auth/login"
CONNECTIONS_PATH = "/llu/connections"
GRAPH_ENDPOINT = "graph"

# Abbott refuses clients below a minimum app version and raises it every year or so (4.7.0 in
# 2023, 4.12.0 in 2024, 4.16.0 in 2025): the version is a setting, this is only its default.
DEFAULT_VERSION = "4.16.0"
DEFAULT_PRODUCT = "llu.ios"
VERSION_SETTING = "llu_version"
VERSION_ENVIRONMENT = "CONNECT_LINK_UP_VERSION"

ACCOUNT_ID_HEADER = "Account-Id"
PRODUCT_HEADER = "product"
VERSION_HEADER = "version"

STATUS_OK = 0
STATUS_BAD_CREDENTIALS = 2
STATUS_STEP_REQUIRED = 4
STATUS_LOCKED = 429
STATUS_VERSION_TOO_OLD = 920

REQUIRED_HEADER_MISSING = "RequiredHeaderMissing"
COULD_NOT_LOAD_PATIENT = "couldNotLoadPatient"
MISSING_CACHED_USER = "MissingCachedUser"


def graph_path(patient_id: str) -> str:
    return f"{CONNECTIONS_PATH}/{quote(patient_id, safe='')}/{GRAPH_ENDPOINT}"


def account_id_header(user_id: str) -> str:
    """What ``Account-Id`` carries: the lower-case hex SHA-256 of the login's ``user.id``."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def version_tuple(version: str) -> tuple[int, ...] | None:
    """``"4.16.0"`` -> ``(4, 16, 0)``; None when it is not dotted numbers."""
    parts = version.strip().split(".")
    if not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)
