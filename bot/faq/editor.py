"""The FAQ editing service: versioned, checked, recorded changes of FAQ entries.

Every write is one WATCH/MULTI transaction over the entries hash, the entry
versions and the FAQ meta: it checks the version the editor started from
(a stale one raises :class:`bot.errors.FaqConflictError` with the current
entry), writes the entry, its new version and stamp, appends a history
record (who, when, before, after) and increments the FAQ version with the
changed id (:func:`bot.faq.kb.bump_version`), which every process's
knowledge base applies within moments. Callers: the staff API
(``bot/api/routers/staff_faq*.py``) and the unanswered-questions inbox.

Brand scoping: a deployment's FAQ belongs to its brand (``DMDESK_BRAND``);
any other brand finds nothing (:class:`bot.errors.NotFoundError`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from redis.client import Pipeline
from redis.exceptions import WatchError

from bot.agents.errors import ConflictError
from bot.errors import FaqCheckError, FaqConflictError, InvalidInputError, NotFoundError
from bot.faq.checks import check_entry
from bot.faq.editor_models import (
    ChangeAction,
    Check,
    CheckLevel,
    EntryCreate,
    EntryPatch,
    HistoryRecord,
    ImportReport,
    NotCoveredChange,
    NotCoveredList,
    SaveResult,
)
from bot.faq.kb import ALL_ENTRIES, NOT_COVERED_CHANGE, bump_version
from bot.faq.models import FaqEntry, tidy_not_covered
from bot.faq.records import FaqRecords, entry_from, queue_change, text_of

log = logging.getLogger(__name__)

MAX_RETRIES = 50
#: an import changing more entries than this makes every process rebuild its index at once
IMPORT_ALL_FROM = 200

Mutation = Callable[[FaqEntry | None], tuple[FaqEntry | None, ChangeAction, int | None]]


class FaqEditor(FaqRecords):
    """Create, edit, enable/disable, delete and roll back FAQ entries of one brand's deployment.

    Construct with ``(redis, keys, brand, knowledge_base, near_duplicate)`` (see :class:`FaqRecords`).
    """

    # ------------------------------------------------------------------- checks
    def check(self, brand: str, entry: FaqEntry) -> list[Check]:
        """Checks of ``entry`` as it would be saved (README, "FAQ editor"); errors first."""
        book = self.book(brand)
        kb = self._kb()
        with kb.lock:
            kb.refresh()
            return check_entry(entry, book, kb.index, self.near_duplicate)

    def _checked(self, brand: str, entry: FaqEntry) -> tuple[FaqEntry, list[Check]]:
        checks = self.check(brand, entry)
        errors = [c for c in checks if c.level is CheckLevel.ERROR]
        if errors:
            raise FaqCheckError(f"the entry has {len(errors)} error(s): {errors[0].message}", checks)
        try:
            valid = FaqEntry.model_validate(entry.model_dump())
        except ValidationError as exc:
            raise InvalidInputError(f"invalid entry: {exc.errors()[0]['msg']}") from exc
        return valid, checks

    # ------------------------------------------------------------------ writing
    def _commit(
        self,
        brand: str,
        actor: str,
        entry_id: str,
        expected_version: int | None,
        mutate: Mutation,
        must_exist: bool = True,
    ) -> tuple[FaqEntry | None, int, list[Check]]:
        self.scope(brand)
        self.meta()
        k = self._keys
        checked: dict[str, tuple[FaqEntry, list[Check]]] = {}
        for _ in range(MAX_RETRIES):
            with self._redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(k.faq_entries, k.faq_entry_versions, k.faq_meta)
                    raw = pipe.hget(k.faq_entries, entry_id)
                    stored = pipe.hget(k.faq_entry_versions, entry_id)
                    before = FaqEntry.model_validate_json(raw) if raw is not None else None  # type: ignore[arg-type]
                    version = int(stored or (1 if before is not None else 0))  # type: ignore[arg-type]
                    if before is None and must_exist:
                        raise NotFoundError("FAQ entry not found", entry_id=entry_id)
                    if expected_version is not None and version != expected_version:
                        current = self.get(brand, entry_id) if before is not None else None
                        raise FaqConflictError(
                            f"the entry changed: you edited version {expected_version}, it is now version {version}",
                            current,
                            entry_id=entry_id,
                        )
                    after, action, rollback_of = mutate(before)
                    warnings: list[Check] = []
                    if after is not None:
                        key = after.model_dump_json()
                        if key not in checked:
                            checked[key] = self._checked(brand, after)
                        after, warnings = checked[key]
                    if after is not None and after == before:
                        return after, version, warnings  # nothing changed: no new version
                    self._write(pipe, actor, entry_id, before, after, version + 1, action, rollback_of)
                    return after, version + 1, warnings
                except WatchError:
                    continue
        raise ConflictError("the FAQ is changing too fast; try again", entry_id=entry_id)

    # -------------------------------------------------------------- not covered
    def not_covered(self, brand: str) -> NotCoveredList:
        """The questions no entry answers, as stored now."""
        self.scope(brand)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._keys.faq_meta)
            pipe.get(self._keys.faq_version)
            raw, version = pipe.execute()
        meta = json.loads(raw) if raw else self.meta()
        return NotCoveredList(questions=meta.get("not_covered", []), faq_version=int(version or 0))

    def change_not_covered(self, brand: str, actor: str, change: NotCoveredChange) -> NotCoveredList:
        """Add and remove not-covered questions in one transaction; every process applies it within moments.

        Raises:
            InvalidInputError: The list would exceed :data:`bot.faq.models.MAX_NOT_COVERED` questions.
        """
        self.scope(brand)
        self.meta()
        k = self._keys
        for _ in range(MAX_RETRIES):
            with self._redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(k.faq_meta)
                    meta = json.loads(pipe.get(k.faq_meta) or "null")  # type: ignore[arg-type]
                    if meta is None:
                        raise NotFoundError("the FAQ is empty: nothing was imported yet")
                    old = list(meta.get("not_covered", []))
                    gone = set(tidy_not_covered(change.remove))
                    try:
                        new = tidy_not_covered([t for t in old if t not in gone] + change.add)
                    except ValueError as exc:
                        raise InvalidInputError(str(exc)) from exc
                    if new == old:
                        return self.not_covered(brand)
                    meta["not_covered"] = new
                    pipe.multi()
                    pipe.set(k.faq_meta, json.dumps(meta))
                    bump_version(self._redis, pipe, k, [NOT_COVERED_CHANGE])
                    version = int(pipe.execute()[-1])
                    log.info(
                        "faq not-covered questions changed",
                        extra={"by": actor, "added": len(set(new) - set(old)), "removed": len(set(old) - set(new))},
                    )
                    return NotCoveredList(questions=new, faq_version=version)
                except WatchError:
                    continue
        raise ConflictError("the FAQ is changing too fast; try again")

    def _write(
        self,
        pipe: Pipeline,
        actor: str,
        entry_id: str,
        before: FaqEntry | None,
        after: FaqEntry | None,
        version: int,
        action: ChangeAction,
        rollback_of: int | None,
    ) -> None:
        """Queue one entry change in ``pipe`` (already watching) and execute it."""
        k = self._keys
        meta = json.loads(pipe.get(k.faq_meta) or "null")  # type: ignore[arg-type]
        if meta is None:
            raise NotFoundError("the FAQ is empty: nothing was imported yet")
        now = time.time()
        order = list(meta.get("order", []))
        if after is not None and entry_id not in order:
            order.append(entry_id)
        if after is None and entry_id in order:
            order.remove(entry_id)
        meta["order"] = order
        record = HistoryRecord(
            entry_id=entry_id,
            version=version,
            action=action,
            by=actor,
            at=now,
            before=before,
            after=after,
            rollback_of=rollback_of,
        )
        pipe.multi()
        queue_change(pipe, k, record)
        pipe.set(k.faq_meta, json.dumps(meta))
        bump_version(self._redis, pipe, k, [entry_id])
        pipe.execute()

    def _saved(self, brand: str, entry: FaqEntry | None, version: int, warnings: list[Check]) -> SaveResult:
        assert entry is not None
        stamp = self._redis.hget(self._keys.faq_entry_stamps, entry.id)
        public = self._public(entry, version, stamp, self.meta()["languages"])  # type: ignore[arg-type]
        return SaveResult(entry=public, warnings=[w for w in warnings if w.level is CheckLevel.WARNING])

    def create(self, brand: str, actor: str, data: EntryCreate) -> SaveResult:
        """Add an entry (its version continues the history of a deleted entry with that id).

        Raises:
            ConflictError: An entry with this id exists.
            FaqCheckError: A blocking check failed.
        """

        def mutate(before: FaqEntry | None) -> tuple[FaqEntry | None, ChangeAction, int | None]:
            if before is not None:
                raise ConflictError("an entry with this id exists", entry_id=data.id)
            return entry_from(data.model_dump()), ChangeAction.CREATED, None

        entry, version, warnings = self._commit(brand, actor, data.id, None, mutate, must_exist=False)
        return self._saved(brand, entry, version, warnings)

    def update(self, brand: str, actor: str, entry_id: str, changes: EntryPatch, expected_version: int) -> SaveResult:
        """Change the fields given in ``changes``.

        Raises:
            NotFoundError: No such entry.
            FaqConflictError: The entry is no longer at ``expected_version``.
            FaqCheckError: A blocking check failed.
        """
        fields = changes.model_dump(exclude_unset=True)
        if any(v is None for v in fields.values()):
            raise InvalidInputError("fields cannot be null")

        def mutate(before: FaqEntry | None) -> tuple[FaqEntry | None, ChangeAction, int | None]:
            assert before is not None
            after = entry_from({**before.model_dump(), **fields})
            if set(fields) == {"enabled"}:
                return after, ChangeAction.ENABLED if after.enabled else ChangeAction.DISABLED, None
            return after, ChangeAction.UPDATED, None

        entry, version, warnings = self._commit(brand, actor, entry_id, expected_version, mutate)
        return self._saved(brand, entry, version, warnings)

    def set_enabled(self, brand: str, actor: str, entry_id: str, enabled: bool, expected_version: int) -> SaveResult:
        """Enable or disable an entry (a disabled one is never answered)."""
        return self.update(brand, actor, entry_id, EntryPatch(enabled=enabled), expected_version)

    def add_alternative(
        self, brand: str, actor: str, entry_id: str, text: str, expected_version: int | None = None
    ) -> SaveResult:
        """Append one phrasing to an entry's alternatives (e.g. from the unanswered-questions inbox).

        ``expected_version`` None applies it to whatever version is current (an append loses nothing).

        Raises:
            NotFoundError: No such entry.
            FaqConflictError: ``expected_version`` given and stale.
            FaqCheckError: The text duplicates a phrasing (or another blocking check failed).
        """
        text = " ".join(text.split())
        if not text or len(text) > 500:
            raise InvalidInputError("an alternative has 1 to 500 characters")

        def mutate(before: FaqEntry | None) -> tuple[FaqEntry | None, ChangeAction, int | None]:
            assert before is not None
            return (
                entry_from({**before.model_dump(), "alternatives": [*before.alternatives, text]}),
                ChangeAction.UPDATED,
                None,
            )

        entry, version, warnings = self._commit(brand, actor, entry_id, expected_version, mutate)
        return self._saved(brand, entry, version, warnings)

    def delete(self, brand: str, actor: str, entry_id: str, expected_version: int) -> int:
        """Delete an entry (its history stays; a rollback restores it). Returns the deletion's version.

        Raises:
            NotFoundError: No such entry.
            FaqConflictError: The entry is no longer at ``expected_version``.
        """

        def mutate(before: FaqEntry | None) -> tuple[FaqEntry | None, ChangeAction, int | None]:
            return None, ChangeAction.DELETED, None

        return self._commit(brand, actor, entry_id, expected_version, mutate)[1]

    def rollback(self, brand: str, actor: str, entry_id: str, to_version: int, expected_version: int) -> SaveResult:
        """Restore the entry as it was at ``to_version``, as a new version (deleted entries included).

        Raises:
            NotFoundError: No such version.
            InvalidInputError: The entry was deleted at that version.
            FaqConflictError: The entry is no longer at ``expected_version``.
        """
        content = self.version_content(brand, entry_id, to_version)
        if content is None:
            raise InvalidInputError("the entry was deleted at that version; pick another")

        def mutate(before: FaqEntry | None) -> tuple[FaqEntry | None, ChangeAction, int | None]:
            return entry_from(content.model_dump()), ChangeAction.ROLLED_BACK, to_version

        entry, version, warnings = self._commit(brand, actor, entry_id, expected_version, mutate, must_exist=False)
        return self._saved(brand, entry, version, warnings)

    # ------------------------------------------------------------------- import
    def apply_import(
        self,
        brand: str,
        actor: str,
        entries: list[FaqEntry],
        delete_missing: bool,
        dry_run: bool,
        meta: dict[str, Any] | None = None,
    ) -> ImportReport:
        """Replace the given entries (and, with ``delete_missing``, delete the others) in one transaction.

        An import is authoritative: it overwrites concurrent edits; every entry
        it changes gets a new version and a history record (``imported``).

        Args:
            brand: The account's brand.
            actor: Who imports.
            entries: Valid entries (already checked by the caller).
            delete_missing: Delete stored entries that ``entries`` lacks (a whole FAQ file).
            dry_run: Report what would change; write nothing.
            meta: New brand, default_language, languages and version (a whole FAQ file), else kept.
        """
        self.scope(brand)
        self.meta()
        k = self._keys
        incoming = {e.id: e for e in entries}
        for _ in range(MAX_RETRIES):
            with self._redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(k.faq_entries, k.faq_entry_versions, k.faq_meta)
                    raw = pipe.hgetall(k.faq_entries)
                    stored = {text_of(i): FaqEntry.model_validate_json(v) for i, v in raw.items()}  # type: ignore[union-attr]
                    versions = {text_of(i): int(v) for i, v in pipe.hgetall(k.faq_entry_versions).items()}  # type: ignore[union-attr]
                    old_meta = json.loads(pipe.get(k.faq_meta) or "null")  # type: ignore[arg-type]
                    if old_meta is None:
                        raise NotFoundError("the FAQ is empty: nothing was imported yet")
                    created = [i for i in incoming if i not in stored]
                    updated = [i for i in incoming if i in stored and stored[i] != incoming[i]]
                    deleted = [i for i in stored if i not in incoming] if delete_missing else []
                    new_meta = {**old_meta, **(meta or {})}
                    order = [e.id for e in entries] if delete_missing else list(old_meta.get("order", []))
                    new_meta["order"] = order + [i for i in created if i not in order]
                    old_list, new_list = old_meta.get("not_covered", []), new_meta.get("not_covered", [])
                    old_set, new_set = set(old_list), set(new_list)
                    report = ImportReport(
                        applied=False,
                        errors=[],
                        created=created,
                        updated=updated,
                        deleted=deleted,
                        unchanged=len(incoming) - len(created) - len(updated),
                        not_covered_added=[q for q in new_list if q not in old_set],
                        not_covered_removed=[q for q in old_list if q not in new_set],
                    )
                    if dry_run:
                        return report
                    now = time.time()
                    changed = [*created, *updated, *deleted]
                    pipe.multi()
                    for entry_id in changed:
                        before, after = stored.get(entry_id), incoming.get(entry_id)
                        version = versions.get(entry_id, 1 if before is not None else 0) + 1
                        action = ChangeAction.DELETED if after is None else ChangeAction.IMPORTED
                        record = HistoryRecord(
                            entry_id=entry_id,
                            version=version,
                            action=action,
                            by=actor,
                            at=now,
                            before=before,
                            after=after,
                        )
                        queue_change(pipe, k, record)
                    pipe.set(k.faq_meta, json.dumps(new_meta))
                    whole = meta is not None or len(changed) > IMPORT_ALL_FROM
                    bump_version(self._redis, pipe, k, [ALL_ENTRIES] if whole else changed)
                    version = int(pipe.execute()[-1])
                    return report.model_copy(update={"applied": True, "faq_version": version})
                except WatchError:
                    continue
        raise ConflictError("the FAQ is changing too fast; try again")
