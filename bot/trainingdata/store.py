"""The live training data of a brand in Redis: seeded from data/nlu, edited, validated, exported.

Every change runs in one optimistic transaction (WATCH on the brand's
examples and data version, then MULTI/EXEC): the checks see exactly the data
the change is applied to, and a concurrent change makes the transaction
retry. Edits and removals carry the example's version; a stale one is a
conflict and nothing is lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis import Redis
from redis.client import Pipeline

from bot.agents.errors import ConflictError
from bot.errors import InvalidInputError, NotFoundError
from bot.keys import Keys
from bot.language import detect_language
from bot.redistx import transact
from bot.trainingdata import nlufile
from bot.trainingdata.models import (
    ChangeAction,
    ChangeRecord,
    DataStatus,
    ExampleCreate,
    ExamplePublic,
    ExampleUpdate,
    IntentSummary,
    Issue,
    IssueCode,
    Severity,
    TrainingExample,
)
from bot.trainingdata.validate import Domain, check_against, check_set, check_text, clean_text

log = logging.getLogger(__name__)

HISTORY_KEPT = 1000
LANGUAGES_FILE = "nlu_languages.yml"


class TrainingDataInvalid(InvalidInputError):
    """A change or a data set breaks validation rules; ``issues`` says which (422)."""

    def __init__(self, message: str, issues: list[Issue]) -> None:
        super().__init__(message)
        self.issues = issues

    def response_fields(self) -> dict[str, Any]:
        """``issues``: every rule the change breaks."""
        return {"issues": [i.model_dump(mode="json") for i in self.issues]}


def _errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity is Severity.ERROR]


class TrainingDataStore:
    """CRUD, validation, history and export of the training examples of each brand."""

    def __init__(self, redis: Redis, keys: Keys, domain: Domain, languages: tuple[str, ...] = ("en", "id", "fr", "ru")):
        self._redis = redis
        self._keys = keys
        self.domain = domain
        self.languages = languages

    # ------------------------------------------------------------------ seeding
    def is_seeded(self, brand: str) -> bool:
        """True once the brand's data lives in Redis."""
        return bool(self._redis.exists(self._keys.nlu_data_version(brand)))

    def seed_from_dir(self, brand: str, nlu_dir: Path, timeout_s: float = 60.0) -> bool:
        """Import ``nlu_dir`` (and the language side file beside it) if Redis has none. True if imported."""
        if self.is_seeded(brand):
            return False
        lock = self._keys.nlu_seed_lock(brand)
        if not self._redis.set(lock, "1", nx=True, ex=int(timeout_s)):
            deadline = time.monotonic() + timeout_s
            while not self.is_seeded(brand) and time.monotonic() < deadline:
                time.sleep(0.05)
            return False
        try:
            if self.is_seeded(brand):
                return False
            data = nlufile.read_dir(nlu_dir)
            given = nlufile.read_languages(nlu_dir.parent / LANGUAGES_FILE)
            now = time.time()
            mapping: dict[str, str] = {}
            for intent, texts in data.items():
                for position, text in enumerate(texts):
                    lang = given.get(intent, {}).get(text)
                    ex = TrainingExample(
                        id=uuid.uuid4().hex[:12],
                        intent=intent,
                        text=text,
                        language=lang or detect_language(text, self.languages),
                        language_given=lang is not None,
                        position=position,
                        updated_by="import",
                        updated_at=now,
                    )
                    mapping[ex.id] = ex.model_dump_json()
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(self._keys.nlu_examples(brand))
            if mapping:
                pipe.hset(self._keys.nlu_examples(brand), mapping=mapping)  # type: ignore[arg-type]
            pipe.set(self._keys.nlu_data_version(brand), 1)
            pipe.execute()
            log.info("training data imported", extra={"brand": brand, "examples": len(mapping)})
            return True
        finally:
            self._redis.delete(lock)

    # ------------------------------------------------------------------ reading
    def _all(self, brand: str, client: Redis | Pipeline | None = None) -> list[TrainingExample]:
        raw = (client or self._redis).hvals(self._keys.nlu_examples(brand))
        items = [TrainingExample.model_validate_json(v) for v in raw]  # type: ignore[union-attr]
        return sorted(items, key=lambda e: (e.intent, e.position))

    def examples(self, brand: str, intent: str | None = None, language: str | None = None) -> list[TrainingExample]:
        """Examples in file order, of one intent and/or language tag if given."""
        items = self._all(brand)
        if intent is not None:
            items = [e for e in items if e.intent == intent]
        if language is not None:
            items = [e for e in items if (e.language or "none") == language]
        return items

    def get(self, brand: str, example_id: str) -> TrainingExample:
        """One example.

        Raises:
            NotFoundError: No such example in the brand.
        """
        raw = self._redis.hget(self._keys.nlu_examples(brand), example_id)
        if raw is None:
            raise NotFoundError("training example not found", example_id=example_id)
        return TrainingExample.model_validate_json(raw)  # type: ignore[arg-type]

    def data_version(self, brand: str) -> int:
        """The brand's data version (0: not imported)."""
        return int(self._redis.get(self._keys.nlu_data_version(brand)) or 0)  # type: ignore[arg-type]

    def status(self, brand: str) -> DataStatus:
        """Intents with counts per language, the data version and the whole set's issues."""
        items = self._all(brand)
        summaries: dict[str, IntentSummary] = {
            i: IntentSummary(intent=i, examples=0, languages={}) for i in self.domain.intents
        }
        for ex in items:
            s = summaries.setdefault(ex.intent, IntentSummary(intent=ex.intent, examples=0, languages={}))
            s.examples += 1
            lang = ex.language or "none"
            s.languages[lang] = s.languages.get(lang, 0) + 1
        return DataStatus(
            brand=brand,
            data_version=self.data_version(brand),
            intents=sorted(summaries.values(), key=lambda s: s.intent),
            issues=check_set(items, self.domain),
        )

    def history(self, brand: str, intent: str, limit: int = 100) -> list[ChangeRecord]:
        """Changes of an intent, newest first."""
        raw = self._redis.lrange(self._keys.nlu_history(brand, intent), 0, max(0, limit - 1))
        return [ChangeRecord.model_validate_json(r) for r in raw]  # type: ignore[union-attr]

    # ------------------------------------------------------------------ changes
    def _change(
        self, brand: str, apply: Callable[[list[TrainingExample]], tuple[ChangeRecord, TrainingExample | None]]
    ) -> ChangeRecord:
        """Run ``apply`` on the current data inside a WATCH/MULTI transaction and store its result."""
        examples_key, version_key = self._keys.nlu_examples(brand), self._keys.nlu_data_version(brand)

        def txn(pipe: Pipeline) -> ChangeRecord:
            current = self._all(brand, pipe)
            record, stored = apply(current)
            version = int(pipe.get(version_key) or 0) + 1  # type: ignore[arg-type]
            record = record.model_copy(update={"data_version": version})
            pipe.multi()
            if stored is None:
                pipe.hdel(examples_key, record.example_id)
            else:
                pipe.hset(examples_key, stored.id, stored.model_dump_json())
            pipe.set(version_key, version)
            for intent in {record.intent, *(r.intent for r in (record.before, record.after) if r is not None)}:
                history = self._keys.nlu_history(brand, intent)
                pipe.lpush(history, record.model_dump_json())
                pipe.ltrim(history, 0, HISTORY_KEPT - 1)
            return record

        record = transact(self._redis, txn, examples_key, version_key)
        log.info(
            "training data changed",
            extra={"brand": brand, "intent": record.intent, "action": record.action.value, "by": record.by},
        )
        return record

    def _checked(self, text: str, intent: str, example_id: str | None, current: list[TrainingExample]) -> None:
        issues = _errors(check_text(text, intent, self.domain)) or check_against(text, intent, example_id, current)
        if issues:
            raise TrainingDataInvalid(issues[0].message, issues)

    def _min_kept(self, intent: str, current: list[TrainingExample]) -> None:
        left = sum(1 for e in current if e.intent == intent) - 1
        if left < self.domain.min_examples:
            issue = Issue(
                code=IssueCode.TOO_FEW,
                intent=intent,
                message=f"{intent!r} would keep {left} examples; at least {self.domain.min_examples} are needed",
            )
            raise TrainingDataInvalid(issue.message, [issue])

    def add(self, brand: str, intent: str, data: ExampleCreate, author: str) -> ChangeRecord:
        """Add an example at the end of an intent.

        Raises:
            TrainingDataInvalid: A validation rule is broken (nothing is saved).
        """
        text = clean_text(data.text)

        def apply(current: list[TrainingExample]) -> tuple[ChangeRecord, TrainingExample | None]:
            self._checked(text, intent, None, current)
            position = max((e.position for e in current if e.intent == intent), default=-1) + 1
            ex = TrainingExample(
                id=uuid.uuid4().hex[:12],
                intent=intent,
                text=text,
                language=data.language or detect_language(text, self.languages),
                language_given=data.language is not None,
                position=position,
                updated_by=author,
                updated_at=time.time(),
            )
            record = ChangeRecord(
                data_version=0,
                intent=intent,
                example_id=ex.id,
                action=ChangeAction.ADD,
                by=author,
                at=ex.updated_at,
                after=ExamplePublic.of(ex),
            )
            return record, ex

        return self._change(brand, apply)

    def _current(self, current: list[TrainingExample], example_id: str, version: int) -> TrainingExample:
        old = next((e for e in current if e.id == example_id), None)
        if old is None:
            raise NotFoundError("training example not found", example_id=example_id)
        if old.version != version:
            raise ConflictError(
                f"the example changed since you loaded it (version {old.version}, yours {version}): reload it",
                current=old.version,
            )
        return old

    def update(self, brand: str, example_id: str, data: ExampleUpdate, author: str) -> ChangeRecord:
        """Change an example's text, intent or language.

        Raises:
            NotFoundError: No such example.
            ConflictError: ``data.version`` is not the stored version (someone saved first).
            TrainingDataInvalid: A validation rule is broken (nothing is saved).
        """

        def apply(current: list[TrainingExample]) -> tuple[ChangeRecord, TrainingExample | None]:
            old = self._current(current, example_id, data.version)
            text = clean_text(data.text) if data.text is not None else old.text
            intent = data.intent or old.intent
            self._checked(text, intent, old.id, current)
            if intent != old.intent:
                self._min_kept(old.intent, current)
            changes: dict[str, Any] = {"text": text, "intent": intent, "version": old.version + 1}
            if data.language is not None:
                changes.update(language=data.language, language_given=True)
            elif text != old.text and not old.language_given:
                changes["language"] = detect_language(text, self.languages)
            if intent != old.intent:
                changes["position"] = max((e.position for e in current if e.intent == intent), default=-1) + 1
            new = old.model_copy(update={**changes, "updated_by": author, "updated_at": time.time()})
            record = ChangeRecord(
                data_version=0,
                intent=old.intent,
                example_id=old.id,
                action=ChangeAction.EDIT,
                by=author,
                at=new.updated_at,
                before=ExamplePublic.of(old),
                after=ExamplePublic.of(new),
            )
            return record, new

        return self._change(brand, apply)

    def remove(self, brand: str, example_id: str, version: int, author: str) -> ChangeRecord:
        """Remove an example.

        Raises:
            NotFoundError: No such example.
            ConflictError: ``version`` is stale.
            TrainingDataInvalid: The intent would keep fewer than the minimum of examples.
        """

        def apply(current: list[TrainingExample]) -> tuple[ChangeRecord, TrainingExample | None]:
            old = self._current(current, example_id, version)
            self._min_kept(old.intent, current)
            record = ChangeRecord(
                data_version=0,
                intent=old.intent,
                example_id=old.id,
                action=ChangeAction.REMOVE,
                by=author,
                at=time.time(),
                before=ExamplePublic.of(old),
            )
            return record, None

        return self._change(brand, apply)

    # ------------------------------------------------------------------- export
    def export(self, brand: str) -> dict[str, str]:
        """Files to write: ``nlu/<intent>.yml`` per intent and, when an editor set language tags, the side file."""
        by_intent: dict[str, list[TrainingExample]] = {}
        for ex in self._all(brand):
            by_intent.setdefault(ex.intent, []).append(ex)
        files = {f"nlu/{i}.yml": nlufile.dump_file(i, [e.text for e in exs]) for i, exs in by_intent.items()}
        tags = {
            intent: {e.text: e.language for e in exs if e.language_given and e.language}
            for intent, exs in by_intent.items()
        }
        tags = {i: t for i, t in tags.items() if t}
        if tags:
            files[LANGUAGES_FILE] = nlufile.dump_languages(tags)  # type: ignore[arg-type]
        return files

    def validate_all(self, brand: str) -> list[Issue]:
        """Errors of the whole set (a training is refused when there are any)."""
        return _errors(check_set(self._all(brand), self.domain))


def write_export(files: dict[str, str], data_dir: Path, clean: bool = True) -> list[Path]:
    """Write an export under ``data_dir`` (``nlu/`` files replaced when ``clean``); returns the paths."""
    nlu = data_dir / "nlu"
    nlu.mkdir(parents=True, exist_ok=True)
    if clean:
        keep = {Path(name).name for name in files if name.startswith("nlu/")}
        for old in nlu.glob("*.yml"):
            if old.name not in keep:
                old.unlink()
        if LANGUAGES_FILE not in files:
            (data_dir / LANGUAGES_FILE).unlink(missing_ok=True)
    written = []
    for name, text in files.items():
        path = data_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
