"""Request counters for tests: per API, method, collection and answered status."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

# Handlers record here which collection a request addressed.
COLLECTION_LABEL: Final = web.RequestKey("nightscout_collection", str)


@dataclass(frozen=True)
class RequestKey:
    api: str  # "v1", "v2", "v3" or "other"
    method: str
    collection: str | None
    status: int  # 0 when the client went away before any answer


class RequestStats:
    def __init__(self) -> None:
        self._requests: Counter[RequestKey] = Counter()
        self._faults: Counter[str] = Counter()

    def record(self, api: str, method: str, collection: str | None, status: int) -> None:
        self._requests[RequestKey(api, method, collection, status)] += 1

    def record_fault(self, label: str) -> None:
        self._faults[label] += 1

    def count(
        self,
        *,
        api: str | None = None,
        method: str | None = None,
        collection: str | None = None,
        status: int | None = None,
    ) -> int:
        """Requests matching every given criterion, e.g. ``count(method="PUT", status=201)``."""
        return sum(
            number
            for key, number in self._requests.items()
            if (api is None or key.api == api)
            and (method is None or key.method == method)
            and (collection is None or key.collection == collection)
            and (status is None or key.status == status)
        )

    @property
    def requests(self) -> Counter[RequestKey]:
        return Counter(self._requests)

    @property
    def faults_injected(self) -> Counter[str]:
        """Injected faults by ``kind:before`` / ``kind:after``."""
        return Counter(self._faults)

    def reset(self) -> None:
        self._requests.clear()
        self._faults.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": [
                {
                    "api": key.api,
                    "method": key.method,
                    "collection": key.collection,
                    "status": key.status,
                    "count": number,
                }
                for key, number in sorted(
                    self._requests.items(),
                    key=lambda item: (
                        item[0].api,
                        item[0].method,
                        item[0].collection or "",
                        item[0].status,
                    ),
                )
            ],
            "faults": dict(self._faults),
        }
