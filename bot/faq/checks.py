"""Checks on an FAQ entry before it is saved (README, "FAQ editor").

Errors block the save; warnings are returned with the saved entry:

- ``empty_answer`` (error): an answer is empty, or the entry has none;
- ``duplicate`` (error): a question/alternative equals another one of the
  same or another entry, ignoring case, punctuation and spacing;
- ``near_duplicate`` (warning): a question/alternative has a cosine of at
  least the near-duplicate threshold with a text of another entry;
- ``closer_to_other_entry`` (warning): an alternative is closer to a text of
  another entry than to every other text of its own entry;
- ``answer_too_long`` (warning): longer than a channel's message (Instagram
  1000, Messenger 2000 characters): it is sent in several parts;
- ``title_too_long`` (warning): longer than a quick reply title (20
  characters): it is cut with "…";
- ``missing_language`` (warning): no answer in one of the brand's languages
  (the default language's answer is sent);
- ``unknown_language`` (warning): an answer or title in a language the brand
  does not list.

Similarities use the live index (:class:`bot.faq.index.FaqIndex`): its
encoder, its cached vectors and its rows, so they see what the bot sees
(enabled entries only).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np

from bot.faq.editor_models import Check, CheckCode, CheckLevel
from bot.faq.index import FaqIndex
from bot.faq.models import FaqBook, FaqEntry
from bot.messages import Channel
from connectors.meta.render import TEXT_LIMIT, TITLE_LIMIT, split_text

#: cosine (primary encoder) at which two texts of different entries are flagged as near duplicates
NEAR_DUPLICATE_COSINE = 0.95


def normalise(text: str) -> str:
    """A text folded for duplicate detection: case, accents' composition, punctuation and spacing ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())


def _texts(entry: FaqEntry) -> list[tuple[str, str]]:
    return [("question", entry.question)] + [(f"alternatives[{i}]", a) for i, a in enumerate(entry.alternatives)]


def _content_checks(entry: FaqEntry, languages: list[str]) -> Iterable[Check]:
    if not entry.answers:
        yield Check(level=CheckLevel.ERROR, code=CheckCode.EMPTY_ANSWER, field="answers", message="no answer at all")
    for lang, text in entry.answers.items():
        where = f"answers.{lang}"
        if not text.strip():
            yield Check(level=CheckLevel.ERROR, code=CheckCode.EMPTY_ANSWER, field=where, message="empty answer")
        if lang not in languages:
            msg = f"{lang} is not one of the brand's languages ({', '.join(languages)})"
            yield Check(level=CheckLevel.WARNING, code=CheckCode.UNKNOWN_LANGUAGE, field=where, message=msg)
        for channel in (Channel.INSTAGRAM, Channel.MESSENGER):
            limit = TEXT_LIMIT[channel]
            if len(text) > limit:
                parts = len(split_text(text, limit))
                msg = f"{len(text)} characters: {channel.value} allows {limit}, so it is sent as {parts} messages"
                yield Check(level=CheckLevel.WARNING, code=CheckCode.ANSWER_TOO_LONG, field=where, message=msg)
    for lang in languages:
        if lang not in entry.answers:
            msg = f"no answer in {lang}: customers writing {lang} get the default language's answer"
            yield Check(level=CheckLevel.WARNING, code=CheckCode.MISSING_LANGUAGE, field=f"answers.{lang}", message=msg)
    for lang, title in entry.titles.items():
        if len(title) > TITLE_LIMIT:
            msg = f"{len(title)} characters: quick reply titles hold {TITLE_LIMIT}, it is cut with '…'"
            yield Check(level=CheckLevel.WARNING, code=CheckCode.TITLE_TOO_LONG, field=f"titles.{lang}", message=msg)
        if lang not in languages:
            msg = f"{lang} is not one of the brand's languages"
            yield Check(level=CheckLevel.WARNING, code=CheckCode.UNKNOWN_LANGUAGE, field=f"titles.{lang}", message=msg)


def _duplicate_checks(entry: FaqEntry, book: FaqBook) -> Iterable[Check]:
    elsewhere: dict[str, tuple[str, str]] = {}
    for other in book.entries:
        if other.id != entry.id:
            for text in other.texts():
                elsewhere.setdefault(normalise(text), (other.id, text))
    seen: dict[str, str] = {}
    for where, text in _texts(entry):
        key = normalise(text)
        if key in seen:
            msg = f"repeats {seen[key]} of this entry"
            yield Check(level=CheckLevel.ERROR, code=CheckCode.DUPLICATE, field=where, message=msg)
        elif key in elsewhere:
            other_id, other_text = elsewhere[key]
            yield Check(
                level=CheckLevel.ERROR,
                code=CheckCode.DUPLICATE,
                field=where,
                message=f"the same phrasing belongs to entry {other_id}",
                other_entry=other_id,
                other_text=other_text,
            )
        seen.setdefault(key, where)


def _similarity_checks(entry: FaqEntry, index: FaqIndex, near: float) -> Iterable[Check]:
    texts = _texts(entry)
    unique = list(dict.fromkeys(t for _, t in texts))
    vectors = index.embed(unique)
    own = vectors @ vectors.T
    np.fill_diagonal(own, -np.inf)
    nearest = index.nearest(vectors, exclude=entry.id)
    for where, text in texts:
        row = unique.index(text)
        found = nearest[row]
        if found is None:
            return
        other_id, other_text, sim = found
        if sim >= near and normalise(other_text) != normalise(text):
            yield Check(
                level=CheckLevel.WARNING,
                code=CheckCode.NEAR_DUPLICATE,
                field=where,
                message=f"almost the same as a phrasing of entry {other_id} (cosine {sim:.2f})",
                other_entry=other_id,
                other_text=other_text,
                similarity=round(sim, 4),
            )
        best_own = float(own[row].max()) if len(unique) > 1 else None
        if where != "question" and best_own is not None and sim > best_own:
            yield Check(
                level=CheckLevel.WARNING,
                code=CheckCode.CLOSER_TO_OTHER,
                field=where,
                message=(
                    f"closer to entry {other_id} (cosine {sim:.2f}) than to the rest of this entry "
                    f"({best_own:.2f}): the bot may answer it with {other_id}"
                ),
                other_entry=other_id,
                other_text=other_text,
                similarity=round(sim, 4),
            )


def check_entry(
    entry: FaqEntry, book: FaqBook, index: FaqIndex, near_duplicate: float = NEAR_DUPLICATE_COSINE
) -> list[Check]:
    """Every finding about ``entry`` as it would be saved into ``book``, errors first.

    Args:
        entry: The entry as it would be saved.
        book: The FAQ it goes into (its other entries are compared).
        index: The live index (enabled entries) for similarities.
        near_duplicate: Cosine from which a text of another entry is a near duplicate.
    """
    found = [
        *_content_checks(entry, book.languages),
        *_duplicate_checks(entry, book),
        *_similarity_checks(entry, index, near_duplicate),
    ]
    return sorted(found, key=lambda c: c.level is not CheckLevel.ERROR)
