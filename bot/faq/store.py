"""Reading and writing the FAQ file (``data/faq.yml``).

The writer is deterministic, so ``dump(load(text)) == text`` for any file it
wrote: edits made in the product can be exported back to the repository
and reviewed as a small diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.errors import FaqFileError
from bot.faq.models import FaqBook

HEADER = (
    "# dmdesk FAQ knowledge base. Format: README.md, section 'The FAQ file'.\n"
    "# Edit here or in the FAQ editor; export from the editor to update this file.\n"
)


class _Dumper(yaml.SafeDumper):
    """Block style, long lines kept whole, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def parse(text: str) -> FaqBook:
    """Parse FAQ YAML text.

    Raises:
        FaqFileError: Not YAML, or not a valid FAQ book (the message names the field).
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FaqFileError(f"FAQ file is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise FaqFileError("FAQ file must be a mapping with brand, languages and entries")
    try:
        return FaqBook.model_validate(raw)
    except ValidationError as exc:
        raise FaqFileError(f"FAQ file is invalid: {exc}") from exc


def dumps(book: FaqBook) -> str:
    """Serialise a FAQ book in the canonical file layout."""
    data = book.model_dump(mode="json")
    for entry in data["entries"]:
        if entry.get("enabled", True):
            entry.pop("enabled", None)
        if not entry.get("titles"):
            entry.pop("titles", None)
    if not data["not_covered"]:
        data.pop("not_covered")
    body = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000)
    return HEADER + body


def load(path: Path) -> FaqBook:
    """Load and validate the FAQ file at ``path``."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FaqFileError(f"cannot read FAQ file {path}: {exc}") from exc


def save(book: FaqBook, path: Path) -> None:
    """Write ``book`` to ``path`` atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dumps(book), encoding="utf-8")
    tmp.replace(path)
