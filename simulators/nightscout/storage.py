"""In-memory stand-in for the MongoDB collections, with the lookups the API layers need.

Documents are kept as MongoDB would hold them: the client's fields plus server fields, each with
an ObjectId (``_id``) kept beside the fields. Like the real server there is no unique index on
``identifier``; the API layers are what prevent duplicates.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from nightstream.simulators.nightscout import js_semantics as js
from nightstream.simulators.nightscout.collection_specs import COLLECTIONS
from nightstream.simulators.nightscout.identifiers import is_object_id_hex
from nightstream.simulators.nightscout.matching import bson_equal, bson_sort_key


@dataclass(eq=False)
class StoredDocument:
    object_id: str
    fields: dict[str, Any]
    # Insertion order, MongoDB's "natural order" for ties.
    sequence: int

    @property
    def has_identifier_field(self) -> bool:
        return "identifier" in self.fields

    @property
    def is_soft_deleted(self) -> bool:
        return self.fields.get("isValid") is False

    def as_mongo_document(self) -> dict[str, Any]:
        return {"_id": self.object_id, **copy.deepcopy(self.fields)}

    def normalized(self) -> dict[str, Any]:
        """`normalizeDoc`: what v3 shows: no ``_id``, identifier falls back to the ``_id`` hex."""
        fields = copy.deepcopy(self.fields)
        if not js.is_truthy(fields.get("identifier")):
            fields["identifier"] = self.object_id
        return fields


def _identifier_sort_key(document: StoredDocument) -> tuple[int, Any]:
    return bson_sort_key(document.fields.get("identifier"))


class CollectionStore:
    def __init__(self, name: str) -> None:
        self.name = name
        self._documents: list[StoredDocument] = []
        self._by_object_id: dict[str, StoredDocument] = {}
        self._by_identifier: dict[str, list[StoredDocument]] = {}
        self._without_identifier = 0
        self._next_sequence = 0

    def __iter__(self) -> Iterator[StoredDocument]:
        return iter(list(self._documents))

    def __len__(self) -> int:
        return len(self._documents)

    def insert(self, fields: dict[str, Any], object_id: str) -> StoredDocument:
        if object_id in self._by_object_id:
            raise DuplicateKeyError(f"E11000 duplicate key error collection: {self.name} _id")
        document = StoredDocument(object_id, copy.deepcopy(fields), self._next_sequence)
        self._next_sequence += 1
        self._documents.append(document)
        self._by_object_id[object_id] = document
        self._index(document)
        return document

    def replace(self, document: StoredDocument, fields: dict[str, Any]) -> None:
        self._unindex(document)
        document.fields = copy.deepcopy(fields)
        self._index(document)

    def remove(self, document: StoredDocument) -> None:
        self._unindex(document)
        self._documents.remove(document)
        del self._by_object_id[document.object_id]

    def by_object_id(self, object_id: str) -> StoredDocument | None:
        return self._by_object_id.get(object_id.lower())

    def find_for_one(self, identifier: str) -> list[StoredDocument]:
        """`filterForOne`: ``{identifier}`` or ``{_id}`` for 24-hex, documents with an
        identifier first."""
        found = list(self._by_identifier.get(identifier, ()))
        if is_object_id_hex(identifier):
            by_id = self.by_object_id(identifier)
            if by_id is not None and by_id not in found:
                found.append(by_id)
        return self._identifier_descending(found)

    def find_identifying(
        self, identifier: Any, candidate: dict[str, Any], fallback_fields: Sequence[str]
    ) -> list[StoredDocument]:
        """`identifyingFilter`: same identifier; or the v1 document whose ``_id`` is that
        24-hex identifier; or a v1 document (no identifier) equal on every fallback field."""
        found: list[StoredDocument] = []
        if js.is_truthy(identifier):
            if isinstance(identifier, str):
                found.extend(self._by_identifier.get(identifier, ()))
            if is_object_id_hex(identifier):
                by_id = self.by_object_id(identifier)
                if by_id is not None and not by_id.has_identifier_field and by_id not in found:
                    found.append(by_id)
        present = [field for field in fallback_fields if field in candidate]
        if fallback_fields and len(present) == len(fallback_fields) and self._without_identifier:
            found.extend(
                document
                for document in self._documents
                if not document.has_identifier_field
                and document not in found
                and all(
                    field in document.fields
                    and bson_equal(document.fields[field], candidate[field])
                    for field in fallback_fields
                )
            )
        return self._identifier_descending(found)

    @staticmethod
    def _identifier_descending(documents: list[StoredDocument]) -> list[StoredDocument]:
        by_natural = sorted(documents, key=lambda document: document.sequence)
        return sorted(by_natural, key=_identifier_sort_key, reverse=True)

    def _index(self, document: StoredDocument) -> None:
        identifier = document.fields.get("identifier", js.UNDEFINED)
        if identifier is js.UNDEFINED:
            self._without_identifier += 1
        elif isinstance(identifier, str):
            self._by_identifier.setdefault(identifier, []).append(document)

    def _unindex(self, document: StoredDocument) -> None:
        identifier = document.fields.get("identifier", js.UNDEFINED)
        if identifier is js.UNDEFINED:
            self._without_identifier -= 1
        elif isinstance(identifier, str):
            bucket = self._by_identifier[identifier]
            bucket.remove(document)
            if not bucket:
                del self._by_identifier[identifier]


class DuplicateKeyError(Exception):
    pass


class DocumentStore:
    """All collections; ``documents()`` is the view tests use to check what was stored."""

    def __init__(self) -> None:
        self._collections: dict[str, CollectionStore] = {
            name: CollectionStore(name) for name in COLLECTIONS
        }

    def collection(self, name: str) -> CollectionStore:
        if name not in self._collections:
            raise KeyError(f"unknown collection {name!r}; known: {sorted(self._collections)}")
        return self._collections[name]

    def documents(self, collection: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Stored documents in insertion order, each with its ``_id``; soft-deleted ones
        (``isValid: false``) only when asked for."""
        return [
            document.as_mongo_document()
            for document in self.collection(collection)
            if include_deleted or not document.is_soft_deleted
        ]

    def count(self, collection: str, include_deleted: bool = False) -> int:
        return len(self.documents(collection, include_deleted=include_deleted))

    def clear(self) -> None:
        for name in self._collections:
            self._collections[name] = CollectionStore(name)
