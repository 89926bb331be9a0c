"""Reading the FAQ as stored in Redis, with entry versions and history (the editor's read side).

:class:`FaqRecords` is the base of :class:`bot.faq.editor.FaqEditor`: brand
scope, the stored book, entries with versions, search, completeness, history.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.client import Pipeline

from bot.errors import NotFoundError
from bot.faq.checks import NEAR_DUPLICATE_COSINE
from bot.faq.editor_models import Completeness, EntryList, EntryPublic, HistoryRecord, LanguageGap
from bot.faq.kb import KnowledgeBase, book_of
from bot.faq.models import FaqBook, FaqEntry
from bot.keys import Keys


def text_of(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def queue_change(pipe: Pipeline, keys: Keys, record: HistoryRecord) -> None:
    """Queue in ``pipe``'s transaction one recorded entry change: the entry, its version and stamp, its history."""
    if record.after is None:
        pipe.hdel(keys.faq_entries, record.entry_id)
    else:
        pipe.hset(keys.faq_entries, record.entry_id, record.after.model_dump_json())
    pipe.hset(keys.faq_entry_versions, record.entry_id, str(record.version))
    pipe.hset(keys.faq_entry_stamps, record.entry_id, json.dumps({"by": record.by, "at": record.at}))
    pipe.rpush(keys.faq_history(record.entry_id), record.model_dump_json())


def entry_from(fields: dict[str, Any]) -> FaqEntry:
    """An entry from editable fields, unvalidated, so that checks can report what validation would refuse."""
    return FaqEntry.model_construct(**{"alternatives": [], "titles": {}, "enabled": True, **fields})


class FaqRecords:
    """The FAQ of one brand's deployment as stored: entries, versions, history."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        brand: str,
        knowledge_base: Callable[[], KnowledgeBase],
        near_duplicate: float = NEAR_DUPLICATE_COSINE,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.brand = brand
        self._kb = knowledge_base
        self.near_duplicate = near_duplicate

    def scope(self, brand: str) -> None:
        """Check that ``brand`` is this deployment's.

        Raises:
            NotFoundError: Another brand (its FAQ is not here).
        """
        if brand != self.brand:
            raise NotFoundError("no FAQ for this brand", brand=brand)

    def meta(self) -> dict[str, Any]:
        """The FAQ meta (brand, default_language, languages, version, order); imports the FAQ file if Redis has none."""
        raw = self._redis.get(self._keys.faq_meta)
        if raw is None:
            self._kb()  # a deployment's first knowledge base imports the FAQ file
            raw = self._redis.get(self._keys.faq_meta)
        if raw is None:
            raise NotFoundError("the FAQ is empty: nothing was imported yet")
        meta: dict[str, Any] = json.loads(raw)  # type: ignore[arg-type]
        return meta

    def book(self, brand: str) -> FaqBook:
        """The whole FAQ as stored now (Redis, not a process's index), in file order."""
        self.scope(brand)
        meta = self.meta()
        raw = self._redis.hgetall(self._keys.faq_entries)
        return book_of(meta, {text_of(k): FaqEntry.model_validate_json(v) for k, v in raw.items()})  # type: ignore[union-attr]

    def _public(self, entry: FaqEntry, version: int, stamp: bytes | str | None, languages: list[str]) -> EntryPublic:
        who = json.loads(stamp) if stamp else {"by": None, "at": None}
        return EntryPublic(
            **entry.model_dump(),
            version=version,
            updated_by=who["by"],
            updated_at=who["at"],
            missing_languages=[lang for lang in languages if lang not in entry.answers],
        )

    def publics(self, brand: str) -> list[EntryPublic]:
        """Every entry with its version, in file order."""
        book = self.book(brand)
        ids = [e.id for e in book.entries]
        versions = self._redis.hmget(self._keys.faq_entry_versions, ids) if ids else []
        stamps = self._redis.hmget(self._keys.faq_entry_stamps, ids) if ids else []
        return [
            self._public(e, int(v or 1), s, book.languages)
            for e, v, s in zip(book.entries, versions, stamps, strict=True)  # type: ignore[arg-type]
        ]

    def get(self, brand: str, entry_id: str) -> EntryPublic:
        """One entry.

        Raises:
            NotFoundError: No such entry (or another brand).
        """
        self.scope(brand)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hget(self._keys.faq_entries, entry_id)
        pipe.hget(self._keys.faq_entry_versions, entry_id)
        pipe.hget(self._keys.faq_entry_stamps, entry_id)
        raw, version, stamp = pipe.execute()
        if raw is None:
            raise NotFoundError("FAQ entry not found", entry_id=entry_id)
        return self._public(FaqEntry.model_validate_json(raw), int(version or 1), stamp, self.meta()["languages"])

    def list_entries(
        self,
        brand: str,
        query: str | None = None,
        topic: str | None = None,
        enabled: bool | None = None,
        missing_language: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> EntryList:
        """Entries matching every filter, in file order.

        Args:
            brand: The account's brand.
            query: Words that must all occur (case-insensitive) in the id, question, alternatives or answers.
            topic: Exact topic.
            enabled: Only enabled (True) or disabled (False) entries.
            missing_language: Only entries without an answer in this language.
            offset: Skip this many matches.
            limit: At most this many.
        """
        words = (query or "").casefold().split()
        matches = []
        for entry in self.publics(brand):
            if topic is not None and entry.topic != topic:
                continue
            if enabled is not None and entry.enabled is not enabled:
                continue
            if missing_language is not None and missing_language in entry.answers:
                continue
            if words:
                haystack = " ".join([entry.id, *entry.texts(), *entry.answers.values()]).casefold()
                if not all(w in haystack for w in words):
                    continue
            matches.append(entry)
        return EntryList(total=len(matches), entries=matches[offset : offset + limit])

    def completeness(self, brand: str) -> Completeness:
        """Per brand language, the entries without an answer in it."""
        book = self.book(brand)
        gaps = []
        for lang in book.languages:
            missing = [e.id for e in book.entries if lang not in e.answers]
            gaps.append(LanguageGap(language=lang, answered=len(book.entries) - len(missing), missing=missing))
        return Completeness(
            languages=book.languages,
            default_language=book.default_language,
            entries=len(book.entries),
            by_language=gaps,
        )

    def history(self, brand: str, entry_id: str) -> list[HistoryRecord]:
        """Every recorded change of an entry, newest first (deleted entries keep theirs).

        Raises:
            NotFoundError: The entry never existed.
        """
        self.scope(brand)
        raw = self._redis.lrange(self._keys.faq_history(entry_id), 0, -1)
        records = [HistoryRecord.model_validate_json(r) for r in raw]  # type: ignore[union-attr]
        if not records and not self._redis.hexists(self._keys.faq_entries, entry_id):
            raise NotFoundError("FAQ entry not found", entry_id=entry_id)
        return records[::-1]

    def version_content(self, brand: str, entry_id: str, version: int) -> FaqEntry | None:
        """The entry as it was at ``version`` (None: deleted then).

        Raises:
            NotFoundError: No record of that version.
        """
        for record in self.history(brand, entry_id):
            if record.version == version:
                return record.after
            if record.version == version + 1 and record.before is not None:
                return record.before  # the version before the first recorded change (imported from the file)
        if version == 1 and not self._redis.llen(self._keys.faq_history(entry_id)):
            return FaqEntry.model_validate(self.get(brand, entry_id).model_dump(include=set(FaqEntry.model_fields)))
        raise NotFoundError("no such version of the entry", entry_id=entry_id, version=version)
