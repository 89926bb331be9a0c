"""The inbox: open messages re-checked against the current FAQ, grouped by meaning, and the actions on them.

Grouping: messages of one language, newest first, join the group whose
centroid (mean of the members' sentence vectors from the FAQ's primary
encoder, cached in Redis like the FAQ's) is closest, when its cosine is at
least the threshold; else they start a group (greedy single pass, so a group
never changes because an older message arrived later).

Re-check: whenever the FAQ version moved since a message was last checked,
it is asked again through ``KnowledgeBase.ask`` (the bot's own decision, strict
when the bot searched strictly); a message the bot now answers leaves the
inbox as ``answered``, with the entry. Actions add a message as an
alternative of an entry, or start an entry from it, through the FAQ editing
service, then re-check the group at once.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from bot.faq.editor import FaqEditor
from bot.faq.editor_models import EntryCreate, NotCoveredChange
from bot.faq.kb import DecisionKind, KnowledgeBase
from bot.unanswered.models import (
    ActionResult,
    AddAlternative,
    Group,
    Inbox,
    ItemStatus,
    MemberPublic,
    UnansweredItem,
)
from bot.unanswered.store import UnansweredStore

MAX_ITEMS = 2000


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\+?\d(?:[\d\s().-]*\d){3,}")


def scrubbed(text: str) -> str:
    """A customer's message without its e-mail addresses and long numbers (order and phone numbers,
    4 digits or more): what may join the FAQ's not-covered questions, which end up in exports and in git."""
    return _NUMBER.sub("[number]", _EMAIL.sub("[email]", text))


def group_items(items: Sequence[UnansweredItem], vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Greedy grouping of ``items`` (newest first) by cosine to group centroids, per language.

    Returns the groups as lists of indices into ``items``, in order of their newest member.
    """
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1, norms)
    groups: list[list[int]] = []
    sums: list[np.ndarray] = []
    langs: list[str | None] = []
    for i, item in enumerate(items):
        best, best_sim = -1, threshold
        for g, total in enumerate(sums):
            if langs[g] != item.language:
                continue
            centroid = total / (np.linalg.norm(total) or 1.0)
            sim = float(centroid @ unit[i])
            if sim >= best_sim:
                best, best_sim = g, sim
        if best < 0:
            groups.append([i])
            sums.append(unit[i].copy())
            langs.append(item.language)
        else:
            groups[best].append(i)
            sums[best] = sums[best] + unit[i]
    return groups


class UnansweredInbox:
    """Grouped, re-checked view of a brand's unanswered messages, and the actions on it."""

    def __init__(
        self,
        store: UnansweredStore,
        knowledge_base: Callable[[], KnowledgeBase],
        editor: Callable[[], FaqEditor],
        threshold: float = 0.5,
    ) -> None:
        self.store = store
        self._kb = knowledge_base
        self._editor = editor
        self.threshold = threshold

    def recheck(self, items: list[UnansweredItem], force: bool = False) -> list[UnansweredItem]:
        """Ask the bot again for items checked against an older FAQ; returns those still open."""
        kb = self._kb()
        kb.refresh()
        version = kb.current_version()
        changed, still = [], []
        for item in items:
            if item.status is not ItemStatus.OPEN:
                continue
            if force or item.checked_faq_version != version:
                decision = kb.ask(item.text, strict=item.strict)
                updates: dict[str, object] = {"checked_faq_version": version, "reason": decision.reason.value}
                if decision.kind is DecisionKind.ANSWER and decision.best is not None:
                    updates.update(
                        status=ItemStatus.ANSWERED, answered_by=decision.best.entry_id, closed_at=time.time()
                    )
                item = item.model_copy(update=updates)
                changed.append(item)
            if item.status is ItemStatus.OPEN:
                still.append(item)
        if changed:
            self.store.save(changed)
        return still

    def inbox(self, brand: str, language: str | None = None) -> Inbox:
        """Open groups, newest first (of one language if given)."""
        items = self.recheck(self.store.items(brand, ItemStatus.OPEN, MAX_ITEMS))
        if language is not None:
            items = [i for i in items if (i.language or "none") == language]
        kb = self._kb()
        vectors = kb.index.embed([i.text for i in items]) if items else np.zeros((0, 1), dtype=np.float32)
        groups = []
        for members in group_items(items, vectors, self.threshold):
            group = [items[i] for i in members]
            newest = group[0]
            candidates = Counter(c for it in group for c in it.candidates[:1])
            groups.append(
                Group(
                    id=newest.id,
                    language=newest.language,
                    count=len(group),
                    newest_at=newest.at,
                    text=newest.text,
                    kinds=dict(Counter(it.kind.value for it in group)),
                    reasons=dict(Counter(it.reason for it in group if it.reason)),
                    candidates=[c for c, _ in candidates.most_common(3)],
                    members=[
                        MemberPublic(
                            id=it.id,
                            text=it.text,
                            kind=it.kind,
                            reason=it.reason,
                            at=it.at,
                            conversation_id=it.conversation_id,
                        )
                        for it in group
                    ],
                )
            )
        return Inbox(faq_version=kb.current_version(), open_messages=len(items), groups=groups)

    def _group_of(self, brand: str, item: UnansweredItem) -> list[UnansweredItem]:
        """The open messages grouped with ``item`` now (itself first)."""
        inbox = self.inbox(brand, item.language or "none")
        for group in inbox.groups:
            ids = [m.id for m in group.members]
            if item.id in ids:
                others = [self.store.get(brand, i) for i in ids if i != item.id]
                return [item, *others]
        return [item]

    def _after_change(self, brand: str, group: list[UnansweredItem], entry_id: str, version: int) -> ActionResult:
        fresh = [self.store.get(brand, it.id) for it in group]
        still = self.recheck(fresh, force=True)
        open_ids = {it.id for it in still}
        return ActionResult(
            entry_id=entry_id,
            entry_version=version,
            resolved=[it.id for it in group if it.id not in open_ids],
            still_open=[it.id for it in group if it.id in open_ids],
        )

    def add_alternative(self, brand: str, item_id: str, body: AddAlternative, actor: str) -> ActionResult:
        """Add the message (or an edited text) to an entry's alternatives, then re-check its group.

        Raises:
            NotFoundError: No such message or entry.
            FaqConflictError: ``expected_version`` is stale.
            FaqCheckError: The FAQ editor's checks refused the phrasing.
        """
        item = self.store.get(brand, item_id)
        group = self._group_of(brand, item)
        saved = self._editor().add_alternative(
            brand, actor, body.entry_id, body.text or item.text, body.expected_version
        )
        self._kb().refresh()
        return self._after_change(brand, group, saved.entry.id, saved.entry.version)

    def new_entry(self, brand: str, item_id: str, body: EntryCreate, actor: str) -> ActionResult:
        """Create an FAQ entry started from a message, then re-check its group.

        Raises:
            NotFoundError: No such message.
            ConflictError: The entry id exists.
            FaqCheckError: The FAQ editor's checks refused the entry.
        """
        item = self.store.get(brand, item_id)
        group = self._group_of(brand, item)
        saved = self._editor().create(brand, actor, body)
        self._kb().refresh()
        return self._after_change(brand, group, saved.entry.id, saved.entry.version)

    def dismiss(self, brand: str, ids: list[str], actor: str, not_covered: bool = False) -> int:
        """Take messages out of the inbox; returns how many were open.

        With ``not_covered``, their texts (:func:`scrubbed`) also join the FAQ's not-covered questions first.

        Raises:
            NotFoundError: An id is not in the brand's inbox.
        """
        items = [self.store.get(brand, i) for i in ids]
        if not_covered:
            texts = [scrubbed(i.text)[:500] for i in items if i.text.strip()]
            self._editor().change_not_covered(brand, actor, NotCoveredChange(add=texts))
            self._kb().refresh()
        now = time.time()
        closed = [
            i.model_copy(update={"status": ItemStatus.DISMISSED, "closed_at": now, "closed_by": actor})
            for i in items
            if i.status is ItemStatus.OPEN
        ]
        self.store.save(closed)
        return len(closed)
