"""Checks of connectors/rasa_runtime.py in Rasa's environment: run by tests/unit/test_rasa_speedups.py.

    .venv-rasa/bin/python -m tests.rasa_env.check_runtime MODEL QUERIES...

1. The Rasa functions the patches replace (or rely on) have the source they were written against.
2. Conversations made of the queries (turns of 12 messages, the tracker growing): at every step
   the NLU parse and each action prediction are the same with the patches as with Rasa's code
   (every field, exact floats), and so are the tracker's states for every argument combination
   (asked twice: the second answer comes from the per-tracker cache; most are replayed from the
   kept replay, events appended only); the graph runs after the first took the sequential path.
3. ``_log_action_on_tracker`` leaves the same events; ``is_empty`` gives the same answers; every
   event name resolves to the class Rasa's lookup gives (a subclass defined late included).

Prints ``ok`` and exits 0, or raises AssertionError.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from pathlib import Path
from typing import Any

import yaml


def check_sources() -> None:
    """Rasa's replaced functions are the ones the patches were written against."""
    from connectors import rasa_runtime

    current = {name: rasa_runtime.source_digest(fn) for name, fn in rasa_runtime.current_sources().items()}
    changed = [name for name, digest in rasa_runtime.RASA_SOURCES.items() if current.get(name) != digest]
    assert not changed, f"Rasa's code changed under a patch: {changed}"


def _fields(prediction: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(prediction).items()}


def _states_all_ways(domain: Any, tracker: Any) -> list[Any]:
    rule_only = {"slots": ["faq_tried"], "loops": []}
    return [
        tracker.past_states(domain, omit_unset_slots=o, ignore_rule_only_turns=i, rule_only_data=r)
        for o in (False, True)
        for i in (False, True)
        for r in (None, rule_only)
    ]


def check_conversations(model: str, texts: list[str]) -> int:
    """Parses, predictions and states with and without the patches, step by step; the steps compared."""
    from rasa.core.agent import Agent
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from connectors import rasa_runtime

    agent = Agent.load(model)
    processor = agent.processor
    domain = processor.domain
    runner = processor.graph_runner
    steps = 0

    async def parse(text: str) -> dict[str, Any]:
        return await processor.parse_message(agent_message(text))

    def agent_message(text: str) -> Any:
        from rasa.core.channels.channel import UserMessage

        return UserMessage(text, sender_id="check")

    replays = {"full": 0, "appended": 0}
    replay = rasa_runtime._replay

    def counted(domain: Any, onto: Any, events: Any, omit: bool) -> Any:
        replays["appended" if onto.events else "full"] += 1
        return replay(domain, onto, events, omit)

    rasa_runtime._replay = counted
    tracker = None
    for i, text in enumerate(texts):
        if i % 12 == 0:
            tracker = DialogueStateTracker.from_events(f"check-{i}", [ActionExecuted(ACTION_LISTEN_NAME)], domain.slots)
        rasa_runtime.uninstall()
        theirs = asyncio.run(parse(text))
        rasa_runtime.install()
        ours = asyncio.run(parse(text))
        assert ours == theirs, (text, ours, theirs)
        tracker.update(UserUttered(text, ours["intent"], ours["entities"], ours))
        for _ in range(3):
            rasa_runtime.uninstall()
            states_theirs = _states_all_ways(domain, tracker)
            expected = processor._predict_next_with_tracker(tracker)
            rasa_runtime.install()
            for _ in range(2):
                assert _states_all_ways(domain, tracker) == states_theirs, (text, tracker.events[-1])
                got = processor._predict_next_with_tracker(tracker)
                assert _fields(got) == _fields(expected), (text, _fields(got), _fields(expected))
            steps += 1
            action = domain.action_names_or_texts[max(range(len(got.probabilities)), key=got.probabilities.__getitem__)]
            tracker.update(ActionExecuted(action, got.policy_name, max(got.probabilities)))
            if action == ACTION_LISTEN_NAME:
                break
            tracker.update(BotUttered(f"reply of {action}"))
    rasa_runtime._replay = replay
    assert replays["appended"] > replays["full"] > 0, replays  # most states came from the kept replay
    plans = runner.__dict__.get(rasa_runtime._PLANS, {})
    assert any(k[0] == "order" for k in plans), "no graph run took the sequential path"
    return steps


def check_log_and_empty() -> None:
    """The same tracker events from ``_log_action_on_tracker``; the same ``is_empty``."""
    from rasa.core.actions.action import ActionListen
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecutionRejected, SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker

    from connectors import rasa_runtime

    domain = Domain.from_path("domain.yml")

    class Host:
        def __init__(self) -> None:
            self.domain = domain

    for events in (None, [SlotSet("language", "fr")], [ActionExecutionRejected("action_listen")]):
        prediction = PolicyPrediction([1.0], "RulePolicy", events=[SlotSet("faq_tried", None)])
        results = []
        for fn in (
            rasa_runtime.ORIGINAL["MessageProcessor._log_action_on_tracker"],
            rasa_runtime.log_action_on_tracker,
        ):
            tracker = DialogueStateTracker("s", domain.slots)
            fn(Host(), tracker, ActionListen(), copy.deepcopy(events), prediction)
            results.append([e.as_dict() | {"timestamp": None} for e in tracker.events])
        assert results[0] == results[1], results
    original = rasa_runtime.ORIGINAL["Domain.is_empty"]
    for d in (domain, Domain.empty()):
        assert rasa_runtime.is_empty(d) == original(d), d
    assert rasa_runtime.is_empty(Domain.empty()) and not rasa_runtime.is_empty(domain)


def check_event_types() -> None:
    """Every event name resolves to Rasa's class; unknown names, ``topic`` and defaults as Rasa's."""
    from rasa.shared.core.events import Event, SlotSet
    from rasa.shared.utils.common import all_subclasses

    from connectors import rasa_runtime

    original = rasa_runtime.ORIGINAL["Event.resolve_by_type"]
    names = {cls.type_name for cls in all_subclasses(Event)} | {"topic", "no_such_event"}
    for name in sorted(names):
        for default in (None, SlotSet):
            try:
                expected: Any = original(name, default)
            except ValueError as exc:
                expected = str(exc)
            try:
                got: Any = rasa_runtime.resolve_by_type(name, default)
            except ValueError as exc:
                got = str(exc)
            assert got == expected, (name, got, expected)

    class LateEvent(SlotSet):  # a subclass defined later is seen, Rasa's first match still wins
        type_name = "late_event_for_check"

    assert rasa_runtime.resolve_by_type("late_event_for_check") is LateEvent
    assert rasa_runtime.resolve_by_type("slot") is original("slot")


def main(argv: list[str]) -> int:
    """Run the checks on ``MODEL`` with the texts of the query files."""
    model, files = argv[0], argv[1:]
    texts = [q["text"] for f in files for q in yaml.safe_load(Path(f).read_text(encoding="utf-8"))["queries"]]
    check_sources()
    check_log_and_empty()
    check_event_types()
    steps = check_conversations(model, texts)
    print(f"{len(texts)} messages, {steps} predictions compared")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
