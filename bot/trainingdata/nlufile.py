"""Rasa NLU training files (``data/nlu/<intent>.yml``): reading, writing, entity annotations.

The writer is deterministic and is the layout of the hand-written files, so
an export of unedited data reproduces them byte for byte. Language tags are
not part of Rasa's format: the ones an editor set (instead of the detected
ones) are kept beside the data in ``data/nlu_languages.yml``, outside the
directory Rasa reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import InvalidInputError

FORMAT_VERSION = "3.1"
#: Rasa's annotation syntax (rasa/shared/nlu/training_data/entities_parser.py):
#: ``[text](type)``, ``[text](type:value)``, ``[text]{"entity": ...}``, ``[text][{...}, {...}]``
ENTITY_REGEX = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
#: what is left of a broken annotation once the valid ones are removed
_BROKEN = re.compile(r"\[[^\]]*\]\s*[({\[]|\]\(|\]\{")


@dataclass(frozen=True)
class Annotation:
    """One entity annotation of an example."""

    text: str
    entity: str


def parse_annotations(example: str) -> tuple[str, list[Annotation]]:
    """The plain text of an example (what Rasa trains on) and its entity annotations.

    Raises:
        InvalidInputError: An annotation does not follow Rasa's syntax (unclosed, bad JSON, no entity).
    """
    annotations: list[Annotation] = []
    for match in ENTITY_REGEX.finditer(example):
        groups = match.groupdict()
        text = groups["entity_text"]
        if groups["entity"]:
            annotations.append(Annotation(text, groups["entity"].strip()))
            continue
        raw = groups["entity_dict"]
        items = [f"{{{raw}}}"] if raw is not None else None
        try:
            dicts = json.loads(items[0]) if items else json.loads(f"[{groups['list_entity_dicts']}]")
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"entity annotation {match.group(0)!r} is not valid JSON") from exc
        for item in dicts if isinstance(dicts, list) else [dicts]:
            if not isinstance(item, dict) or not isinstance(item.get("entity"), str) or not item["entity"]:
                raise InvalidInputError(f"entity annotation {match.group(0)!r} names no entity")
            annotations.append(Annotation(text, item["entity"]))
    plain = ENTITY_REGEX.sub(lambda m: m.group("entity_text"), example)
    rest = ENTITY_REGEX.sub("", example)
    if _BROKEN.search(rest):
        raise InvalidInputError('unbalanced entity annotation: use [text](entity) or [text]{"entity": ...}')
    return plain, annotations


def parse_file(text: str) -> list[tuple[str, list[str]]]:
    """``(intent, examples)`` blocks of an NLU file, in file order.

    Raises:
        InvalidInputError: Not YAML, or not an NLU file of intent examples.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("nlu"), list):
        raise InvalidInputError("an NLU file needs a top-level 'nlu' list")
    blocks: list[tuple[str, list[str]]] = []
    for block in raw["nlu"]:
        if not isinstance(block, dict) or not isinstance(block.get("intent"), str):
            raise InvalidInputError("only intent blocks ('- intent: name') are supported")
        examples = block.get("examples", "")
        if not isinstance(examples, str):
            raise InvalidInputError(f"intent {block['intent']}: examples must be a '|' block of '- ' lines")
        texts = []
        for line in examples.splitlines():
            item = line.strip()
            if not item:
                continue
            if not item.startswith("-"):
                raise InvalidInputError(f"intent {block['intent']}: example lines start with '- ': {item[:40]!r}")
            texts.append(item[1:].strip())
        blocks.append((block["intent"], texts))
    return blocks


def dump_file(intent: str, examples: list[str]) -> str:
    """The file of one intent, in the layout of the hand-written files."""
    lines = "".join(f"    - {text}\n" for text in examples)
    return f'version: "{FORMAT_VERSION}"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}'


def read_dir(nlu_dir: Path) -> dict[str, list[str]]:
    """Examples per intent of every ``*.yml`` file in ``nlu_dir`` (files in name order).

    Raises:
        InvalidInputError: A file cannot be parsed (the message names it).
    """
    data: dict[str, list[str]] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        try:
            blocks = parse_file(path.read_text(encoding="utf-8"))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path.name}: {exc}") from exc
        for intent, texts in blocks:
            data.setdefault(intent, []).extend(texts)
    return data


def dump_languages(tags: dict[str, dict[str, str]]) -> str:
    """The language side file: intent -> example text -> language set by an editor."""
    header = "# Language tags set in the training data editor (detected ones are not listed).\n"
    return header + yaml.safe_dump(tags, allow_unicode=True, sort_keys=True, width=10_000)


def read_languages(path: Path) -> dict[str, dict[str, str]]:
    """The language side file, or nothing when it does not exist."""
    if not path.exists():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path.name}: expected intent -> text -> language")
    return {str(i): {str(t): str(lang) for t, lang in (m or {}).items()} for i, m in raw.items()}


def read_domain(domain_file: Path) -> tuple[list[str], list[str]]:
    """Intents and entities declared in the Rasa domain."""
    raw = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}

    def names(items: object) -> list[str]:
        out = []
        for item in items if isinstance(items, list) else []:
            out.append(next(iter(item)) if isinstance(item, dict) else str(item))
        return out

    return names(raw.get("intents")), names(raw.get("entities"))
