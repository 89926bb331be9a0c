"""FAQ import and export: ``data/faq.yml`` (exact round trip) and CSV for spreadsheets.

CSV layout: one row per entry; header row first. Columns ``id``, ``topic``,
``enabled`` (``true``/``false``, also ``yes``/``no``/``1``/``0``; empty:
true), ``question``, ``alternatives``, then ``answer_<lang>`` and
``title_<lang>`` per language (an empty cell: no answer / no title in that
language). ``alternatives`` holds one phrasing per line (line breaks inside
the cell); a cell without a line break is split at ``|`` instead, so
``Shipping time? | brp lama kirim?`` works when typing. Export writes one
phrasing per line (and a trailing line break when a single phrasing contains
``|``).

Errors are reported by row (the header is row 1, so the first entry is row
2, as a spreadsheet numbers them; YAML: the entry's position, from 1) and
column; nothing is applied when any row is invalid.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from enum import Enum
from typing import Any

import yaml
from pydantic import ValidationError

from bot.errors import FaqImportError
from bot.faq import store
from bot.faq.checks import normalise
from bot.faq.editor import FaqEditor
from bot.faq.editor_models import EntryCreate, ImportReport, RowError
from bot.faq.models import FaqBook, FaqEntry


class ImportFormat(str, Enum):
    """What an import's content is."""

    YAML = "yaml"
    CSV = "csv"


FIXED_COLUMNS = ("id", "topic", "enabled", "question", "alternatives")
_LANG_COLUMN = re.compile(r"(answer|title)_[a-z]{2}")
_TRUE = {"", "true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


def export_yaml(book: FaqBook) -> str:
    """The FAQ file text (canonical layout: an unedited import exports byte for byte)."""
    return store.dumps(book)


def _languages(book: FaqBook) -> list[str]:
    extra = sorted({lang for e in book.entries for lang in (*e.answers, *e.titles)} - set(book.languages))
    return [*book.languages, *extra]


def export_csv(book: FaqBook) -> str:
    """One row per entry, header first (module docstring)."""
    langs = _languages(book)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*FIXED_COLUMNS, *(f"answer_{lang}" for lang in langs), *(f"title_{lang}" for lang in langs)])
    for e in book.entries:
        alternatives = "\n".join(e.alternatives)
        if len(e.alternatives) == 1 and "|" in alternatives:
            alternatives += "\n"
        writer.writerow(
            [
                e.id,
                e.topic,
                "true" if e.enabled else "false",
                e.question,
                alternatives,
                *(e.answers.get(lang, "") for lang in langs),
                *(e.titles.get(lang, "") for lang in langs),
            ]
        )
    return out.getvalue()


def split_alternatives(cell: str) -> list[str]:
    """Phrasings of an ``alternatives`` cell: one per line, else ``|``-separated."""
    parts = cell.splitlines() if "\n" in cell or "\r" in cell else cell.split("|")
    return [" ".join(p.split()) for p in parts if p.strip()]


def _column(loc: tuple[Any, ...], langs_hint: dict[str, str]) -> str:
    field = str(loc[0]) if loc else ""
    if field in ("answers", "titles") and len(loc) > 1:
        return f"{langs_hint[field]}{loc[1]}"
    if field == "alternatives" and len(loc) > 1:
        return f"alternatives[{loc[1]}]"
    return {"answers": "answer_*", "titles": "title_*"}.get(field, field)


def duplicate_errors(entries: Iterable[tuple[int, FaqEntry]], text_column: str = "alternatives") -> list[RowError]:
    """The same question/alternative (ignoring case, punctuation, spacing) twice, within or across entries."""
    seen: dict[str, tuple[int, str]] = {}
    errors = []
    for row, entry in entries:
        for i, text in enumerate(entry.texts()):
            key = normalise(text)
            column = "question" if i == 0 else f"{text_column}[{i - 1}]"
            if key in seen:
                other_row, other_id = seen[key]
                where = "this entry" if other_id == entry.id else f"entry {other_id}"
                where += f" (row {other_row})" if other_row and other_id != entry.id else ""
                errors.append(RowError(row=row, column=column, message=f"{text!r} repeats a phrasing of {where}"))
            else:
                seen[key] = (row, entry.id)
    return errors


def parse_csv(text: str) -> tuple[list[tuple[int, FaqEntry]], list[RowError]]:
    """``(row, entry)`` of the valid rows of a CSV (module docstring) and every problem of the others.

    Duplicate phrasings are not looked for here (:func:`duplicate_errors`).
    """
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    if not rows:
        return [], [RowError(row=1, column=None, message="empty file: expected a header row")]
    header = [h.strip() for h in rows[0]]
    errors = []
    for col in header:
        if col not in FIXED_COLUMNS and not _LANG_COLUMN.fullmatch(col):
            errors.append(RowError(row=1, column=col, message="unknown column"))
    for col in ("id", "topic", "question"):
        if col not in header:
            errors.append(RowError(row=1, column=col, message="required column missing"))
    if not any(c.startswith("answer_") for c in header):
        errors.append(RowError(row=1, column="answer_<lang>", message="at least one answer column is required"))
    if len(set(header)) != len(header):
        errors.append(RowError(row=1, column=None, message="a column appears twice"))
    if errors:
        return [], errors
    entries: list[tuple[int, FaqEntry]] = []
    ids: dict[str, int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(
                RowError(row=number, column=None, message=f"{len(cells)} cells, the header has {len(header)}")
            )
            continue
        row = dict(zip(header, cells, strict=True))
        enabled = row.get("enabled", "").strip().lower()
        if enabled not in _TRUE | _FALSE:
            errors.append(RowError(row=number, column="enabled", message="use true or false"))
            continue
        data = {
            "id": row["id"].strip(),
            "topic": row["topic"].strip(),
            "question": " ".join(row["question"].split()),
            "alternatives": split_alternatives(row.get("alternatives", "")),
            "answers": {c[7:]: v.strip() for c, v in row.items() if c.startswith("answer_") and v.strip()},
            "titles": {c[6:]: v.strip() for c, v in row.items() if c.startswith("title_") and v.strip()},
            "enabled": enabled not in _FALSE,
        }
        try:
            entry = FaqEntry.model_validate(EntryCreate.model_validate(data).model_dump())
        except ValidationError as exc:
            for err in exc.errors():
                column = _column(tuple(err["loc"]), {"answers": "answer_", "titles": "title_"})
                errors.append(RowError(row=number, column=column, message=err["msg"]))
            continue
        if entry.id in ids:
            errors.append(RowError(row=number, column="id", message=f"id {entry.id} is also on row {ids[entry.id]}"))
            continue
        ids[entry.id] = number
        entries.append((number, entry))
    return entries, errors


def parse_yaml(text: str) -> tuple[FaqBook | None, list[RowError]]:
    """A whole FAQ file and every problem found (row: the entry's position from 1; 0: the file itself)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [RowError(row=0, column=None, message=f"not valid YAML: {exc}")]
    if not isinstance(raw, dict):
        return None, [RowError(row=0, column=None, message="expected a mapping with brand, languages and entries")]
    try:
        book = FaqBook.model_validate(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int):
                column = ".".join(str(p) for p in loc[2:]) or None
                errors.append(RowError(row=loc[1] + 1, column=column, message=err["msg"]))
            else:
                errors.append(RowError(row=0, column=".".join(str(p) for p in loc) or None, message=err["msg"]))
        return None, errors
    errors = duplicate_errors(enumerate(book.entries, start=1))
    return (None, errors) if errors else (book, [])


def import_faq(
    editor: FaqEditor,
    brand: str,
    actor: str,
    fmt: ImportFormat,
    content: str,
    dry_run: bool = False,
    delete_missing: bool = False,
) -> ImportReport:
    """Validate every row, then apply all of it in one transaction (or, as a dry run, report only).

    A YAML file is the whole FAQ (entries it lacks are deleted; brand,
    languages and default language come from it; its brand must be this
    FAQ's). A CSV upserts its rows; ``delete_missing`` deletes the entries it
    lacks. Blocking checks (duplicate phrasings, empty answers) run over the
    result; similarity warnings do not (open the entry to see them).

    Raises:
        FaqImportError: Invalid rows, by row and column; nothing was applied.
    """
    current = editor.book(brand)
    meta = None
    if fmt is ImportFormat.YAML:
        book, errors = parse_yaml(content)
        if book is not None and current.brand and book.brand.casefold() != current.brand.casefold():
            errors = [RowError(row=0, column="brand", message=f"the file is for {book.brand}, not {current.brand}")]
        entries = book.entries if book is not None else []
        if book is not None:
            fields = ["brand", "default_language", "languages", "version"]
            fields += ["not_covered"] if "not_covered" in book.model_fields_set else []  # else the list is kept
            meta = {k: getattr(book, k) for k in fields}
        delete_missing = True
    else:
        rows, errors = parse_csv(content)
        entries = [e for _, e in rows]
        incoming = {e.id for e in entries}
        kept = [] if delete_missing else [(0, e) for e in current.entries if e.id not in incoming]
        errors = sorted(errors + [x for x in duplicate_errors(kept + rows) if x.row], key=lambda e: e.row)
    if errors:
        report = ImportReport(applied=False, errors=errors, created=[], updated=[], deleted=[], unchanged=0)
        raise FaqImportError(f"{len(errors)} error(s); nothing was applied", report)
    return editor.apply_import(brand, actor, entries, delete_missing, dry_run, meta)
