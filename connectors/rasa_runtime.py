"""Costs of Rasa 3.6's message loop removed (graph runs, featurisation, debug logging): same results.

Installed by ``connectors.rasa_speedups.install`` (so only in the Rasa server that runs dmdesk's
channel). Found by profiling the Rasa server under ``bench.cpu`` (README, "Performance"). Each
patch replaces one Rasa function whose source is pinned by ``RASA_SOURCES`` (a digest of the
replaced function's source): ``tests/rasa_env/check_runtime.py`` fails when Rasa's code changes
under a patch, and checks the results against Rasa's own code.

* ``DaskGraphRunner.run``: every graph run (the NLU pass and each action prediction, about three a
  message) went through dask's local scheduler (ordering, task states, a thread-pool-style executor,
  callbacks): about 10 % of the server's CPU. Graphs here are small DAGs of Rasa's own nodes, run
  one after the other; the first run of each (targets, inputs) signature still runs under dask and
  records the order dask called the nodes in; later runs call the nodes in that order, each with
  its needs resolved as dask resolves them (a computed key's value, else the name itself). Same
  calls, same order, same outputs, same errors.
* ``Domain.states_for_tracker_history``: each prediction featurised the tracker two to three times
  (the rule policy with and without rule-only turns, the memoization policy), each time replaying
  every event into fresh trackers (``generate_all_prior_trackers``) to read the state before each
  action. The per-step states are now read once per tracker content (its events: length, first and
  last object) and domain, and when events were only appended since (the next prediction of the
  turn, the next message), only those are replayed onto the kept replay (``applied_events`` is then
  the earlier list plus them: no revert, restart or loop); each call then runs Rasa's loop over fresh
  copies of the states. A prediction in a conversation of 200 events: 6.3 -> 3.3 ms without the
  replay kept; with it, the cost no longer grows with the conversation.
* ``MessageProcessor._log_action_on_tracker``: deep-copied the prediction's and the action's events
  for two structlog debug calls even when debug logging is off; now copied only when it is on.
* ``Event.resolve_by_type``: walked every subclass of ``Event`` (``all_subclasses``, with an
  ``inspect.isabstract`` per class) to find each event's class: about 70 us per event, so about
  20 ms per message for a conversation whose window of 300 events the tracker store loads. The
  name -> class table (Rasa's first match for each name) is now built from that same list and
  rebuilt whenever the set of subclasses differs (a cheap walk of ``__subclasses__``); names it
  lacks go to Rasa's code (its default and its error).
* ``Domain.is_empty``: built a new empty domain (from a dict, with all its default intents,
  actions and slots) per message to compare with; the empty domain's dict is now built once.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import logging
from collections.abc import Callable, Iterable
from typing import Any, Optional

import structlog
from rasa.core.processor import MessageProcessor
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core import constants as core_constants
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses

log = logging.getLogger(__name__)
runner_log = logging.getLogger("rasa.engine.runner.dask")
structlogger = structlog.get_logger("rasa.core.processor")

ORIGINAL: dict[str, Callable[..., Any]] = {
    "DaskGraphRunner.run": DaskGraphRunner.run,
    "Domain.states_for_tracker_history": Domain.states_for_tracker_history,
    "MessageProcessor._log_action_on_tracker": MessageProcessor._log_action_on_tracker,
    "Domain.is_empty": Domain.is_empty,
    "Event.resolve_by_type": Event.resolve_by_type,
}

#: sha256 of the source of each replaced function (and of those whose behaviour a patch relies on)
RASA_SOURCES: dict[str, str] = {
    "DaskGraphRunner.run": "45f0f52f574f3aa9546a552bf671183e171092c18b66e97f5771a7fa295de37e",
    "Domain.states_for_tracker_history": "035111ce73ac90ba50e143abf556f924af07d9f452893f5a96a62895d44df8b7",
    "MessageProcessor._log_action_on_tracker": "d973d12a6d0a3623a8b0c9c2274c5b3008f5eaa3f19aa73311845702e4ed16f9",
    "Domain.is_empty": "884be90ef485f1d2c0f140657a47f106a7d2785b63b03e46cd699b4072e95369",
    "DaskGraphRunner._build_dask_graph": "5bb99f974d512a36acb61caaf77aafc851b90c04ce4d02c262f230c75086cbee",
    "DaskGraphRunner._add_inputs_to_graph": "d04a0ca2df6241c16997b89d63e2ca89cd1d43bd5f9920843a2a86cb4286ac73",
    "DialogueStateTracker.generate_all_prior_trackers": (
        "a1f6954347b52649a7b1054741338997d2369197d91acb2eab7f6b11d3855ed1"
    ),
    "Domain.get_active_state": "5a4a505743120441541f40f1fdf65ea109983e3f7274610e47ca340167309418",
    "DialogueStateTracker.applied_events": "764d5065ea9997d613c1984d9357370f9ae32d31ca21346086f16c54f0487aae",
    "DialogueStateTracker.init_copy": "429fcd2243b9e0e1a6e8ffc3057a4f2fb4ecbb677055c644129bc65b6cd32b75",
    "Event.resolve_by_type": "b5cf570fa7f286c7059ec73d8880528d03a78b28cf4e80285a46079c0fa65968",
    "Event.from_parameters": "0cd3c87e5812d7aee22d889bdce3b7850f37b4cc21bb4e9ac7aba09e81cb4839",
    "all_subclasses": "28c2e6df9c15daea296f630b83d0b2391636581164056082458a32647d6761d1",
}


def current_sources() -> dict[str, Callable[..., Any]]:
    """The Rasa functions ``RASA_SOURCES`` pins, as installed now (Rasa's, not the patches)."""
    return {
        **ORIGINAL,
        "DaskGraphRunner._build_dask_graph": DaskGraphRunner._build_dask_graph,
        "DaskGraphRunner._add_inputs_to_graph": DaskGraphRunner._add_inputs_to_graph,
        "DialogueStateTracker.generate_all_prior_trackers": DialogueStateTracker.generate_all_prior_trackers,
        "DialogueStateTracker.applied_events": DialogueStateTracker.applied_events,
        "DialogueStateTracker.init_copy": DialogueStateTracker.init_copy,
        "Domain.get_active_state": Domain.get_active_state,
        "Event.from_parameters": Event.from_parameters,
        "all_subclasses": all_subclasses,
    }


def source_digest(fn: Callable[..., Any]) -> str:
    """sha256 of a function's source text."""
    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()


# --- graph runs without dask's scheduler
_PLANS = "_dmdesk_plans"


def _graph_for(runner: DaskGraphRunner, targets: list[str]) -> dict[str, Any]:
    """Rasa's dask graph of the targets (node -> (GraphNode, *needs)), built once per target list."""
    plans: dict[Any, Any] = runner.__dict__.setdefault(_PLANS, {})
    key = ("graph", tuple(targets))
    if key not in plans:
        plans[key] = runner._build_dask_graph(runner._graph_schema.minimal_graph_schema(targets))
    return plans[key]


def _record(runner: DaskGraphRunner, graph: dict[str, Any], targets: list[str], key: Any) -> dict[str, Any]:
    """Run under dask (as Rasa), recording the order it calls the nodes in, kept for ``key``."""
    import dask

    called: list[str] = []

    def recorded(name: str, node: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            called.append(name)
            return node(*args)

        return call

    traced = {
        name: (recorded(name, task[0]), *task[1:]) if name in runner._instantiated_nodes else task
        for name, task in graph.items()
    }
    try:
        result = dict(dask.get(traced, targets))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    if len(called) == len(set(called)) and set(called) == {n for n in graph if n in runner._instantiated_nodes}:
        runner.__dict__[_PLANS][key] = tuple(called)
    return result


def sequential_run(
    self: DaskGraphRunner, inputs: Optional[dict[str, Any]] = None, targets: Optional[list[str]] = None
) -> dict[str, Any]:
    """``DaskGraphRunner.run``: the nodes called in the order dask called them, without the scheduler."""
    run_targets = targets if targets else self._graph_schema.target_names
    graph = dict(_graph_for(self, run_targets))
    if inputs:
        self._add_inputs_to_graph(inputs, graph)
    if runner_log.isEnabledFor(logging.DEBUG):
        runner_log.debug(f"Running graph with inputs: {inputs}, targets: {targets} and {self._execution_context}.")
    key = ("order", tuple(run_targets), tuple(inputs or ()))
    order = self.__dict__[_PLANS].get(key)
    if order is None or any(t not in graph for t in run_targets):
        return _record(self, graph, run_targets, key)
    # data entries (the inputs) are their own values; a node's needs: computed values, else the name
    values: dict[str, Any] = {name: task for name, task in graph.items() if name not in self._instantiated_nodes}
    try:
        for name in order:
            node, *needs = graph[name]
            values[name] = node(*[values.get(n, n) if isinstance(n, str) else n for n in needs])
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(values[t] for t in run_targets)


# --- featurisation: the states before each action, read once per tracker content
_STEPS = "_dmdesk_prior_steps"
_IMMUTABLE = (str, int, float, bool, tuple, frozenset, type(None))


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in state.items()}


def _is_plain(state: dict[str, Any]) -> bool:
    """True if two levels of dicts copy the state (what the featurisers mutate is a copy then)."""
    return all(
        isinstance(v, _IMMUTABLE) or (isinstance(v, dict) and all(isinstance(x, _IMMUTABLE) for x in v.values()))
        for v in state.values()
    )


#: events after which the applied events are not the earlier ones plus these (``applied_events``)
_NOT_APPENDED = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted, ActiveLoop)


def _step(domain: Domain, tr: DialogueStateTracker, hide: bool, omit_unset_slots: bool) -> Optional[tuple]:
    """What Rasa's loop reads of one prior tracker; None if its states are not plain data."""
    state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
    prev = domain._get_prev_action_sub_state(tr)
    if not _is_plain(state) or not _is_plain({"p": prev}):
        return None
    return state, hide, prev, tr.followup_action, tr.latest_action_name, tr.active_loop_name


def _replay(
    domain: Domain, replay: DialogueStateTracker, events: Iterable[Any], omit_unset_slots: bool
) -> Optional[list[tuple]]:
    """``generate_all_prior_trackers`` over ``events`` from ``replay`` (updated in place), as steps."""
    steps: list[tuple] = []
    for event in events:
        if isinstance(event, ActionExecuted):
            step = _step(domain, replay, event.hide_rule_turn, omit_unset_slots)
            if step is None:
                return None
            steps.append(step)
        replay.update(event)
    return steps


def _prior_steps(domain: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool) -> Optional[list[tuple]]:
    """Per prior tracker: (active state, hide flag, previous action sub-state, followup, latest, loop).

    Kept on the tracker with what identifies its content: the events deque, its length and its first
    and last event objects (held, so their identity stays meaningful), and the replayed tracker.
    Events appended since (none that reverts, restarts or starts a loop, in a conversation without
    loops) are replayed onto it; anything else is read again from the start. None: Rasa's code reads it.
    """
    events = tracker.events
    n = len(events)
    first, last = (events[0], events[-1]) if n else (None, None)
    kept: dict[tuple[int, bool], tuple] = tracker.__dict__.setdefault(_STEPS, {})
    slot = (id(domain), omit_unset_slots)  # the domain is held in the entry: its id stays its own
    held = kept.get(slot)
    if held is not None and held[0] is domain and held[1] == omit_unset_slots and held[2] is events:
        _, _, _, held_n, held_first, held_last, steps, replay = held
        if held_n == n and held_first is first and held_last is last:
            return steps
        if (
            replay is not None
            and steps is not None
            and held_n > 0
            and n > held_n
            and events[0] is held_first
            and events[held_n - 1] is held_last
        ):
            added = list(itertools.islice(events, held_n, None))
            if not any(isinstance(e, _NOT_APPENDED) for e in added):
                more = _replay(domain, replay, added, omit_unset_slots)
                final = _step(domain, replay, False, omit_unset_slots)
                if more is not None and final is not None:
                    steps = steps[:-1] + more + [final]
                    kept[slot] = (domain, omit_unset_slots, events, n, first, last, steps, replay)
                    return steps
    replay = tracker.init_copy()
    steps = _replay(domain, replay, tracker.applied_events(), omit_unset_slots)
    final = _step(domain, replay, False, omit_unset_slots) if steps is not None else None
    steps = None if steps is None or final is None else [*steps, final]
    loops = any(isinstance(e, ActiveLoop) and e.name for e in events)
    kept[slot] = (domain, omit_unset_slots, events, n, first, last, steps, None if loops else replay)
    return steps


def states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[dict[str, Any]] = None,
) -> list[dict[str, Any]]:
    """``Domain.states_for_tracker_history``: Rasa's loop, over the prior states read once."""
    steps = _prior_steps(self, tracker, omit_unset_slots)
    if steps is None:
        return ORIGINAL["Domain.states_for_tracker_history"](
            self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
    states: list[dict[str, Any]] = []
    last_ml_action_sub_state = None
    turn_was_hidden = False
    for cached, hide_rule_turn, prev, followup_action, latest_action_name, active_loop_name in steps:
        if ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = dict(prev) if prev is not None else None
            if not followup_action and latest_action_name != active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                continue
        state = _copy_state(cached)
        if ignore_rule_only_turns:
            self._remove_rule_only_features(state, rule_only_data)
            if states:
                self._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[core_constants.PREVIOUS_ACTION] = last_ml_action_sub_state
        states.append(self._clean_state(state))
    return states


# --- debug logging
def _structlog_debug_on() -> bool:
    """False only when structlog's filtering logger drops debug calls (then their arguments are unused)."""
    wrapper = structlog.get_config().get("wrapper_class")
    from structlog import _native

    return getattr(wrapper, "debug", None) is not _native._nop


def log_action_on_tracker(
    self: MessageProcessor, tracker: DialogueStateTracker, action: Any, events: Optional[list[Any]], prediction: Any
) -> None:
    """``MessageProcessor._log_action_on_tracker``, copying events for the debug log only if it is on."""
    if events is None:
        events = []
    debug = _structlog_debug_on()
    action_was_rejected_manually = any(isinstance(event, ActionExecutionRejected) for event in events)
    if not action_was_rejected_manually:
        if debug:
            structlogger.debug(
                "processor.actions.policy_prediction", prediction_events=copy.deepcopy(prediction.events)
            )
        tracker.update_with_events(prediction.events, self.domain)
        tracker.update(action.event_for_successful_execution(prediction))
    if debug:
        structlogger.debug("processor.actions.log", action_name=action.name(), rasa_events=copy.deepcopy(events))
    tracker.update_with_events(events, self.domain)


# --- the empty domain
_EMPTY: list[dict[str, Any]] = []


def is_empty(self: Domain) -> bool:
    """``Domain.is_empty``: compared with the empty domain's dict, built once."""
    if not _EMPTY:
        _EMPTY.append(Domain.empty().as_dict())
    return self.as_dict() == _EMPTY[0]


# --- event classes by name
_EVENT_TYPES: list[Any] = [None, {}]  # the subclasses walked, name -> Rasa's first class of that name


def _event_fingerprint() -> list[type]:
    """Every subclass of ``Event``, in a walk of ``__subclasses__`` (compared by identity)."""
    found: list[type] = [Event]
    for cls in found:  # the list grows as it is walked
        found += cls.__subclasses__()
    return found


def resolve_by_type(type_name: str, default: Optional[type] = None) -> Optional[type]:
    """``Event.resolve_by_type``: Rasa's first match, looked up in a table of ``all_subclasses(Event)``."""
    fingerprint = _event_fingerprint()
    if _EVENT_TYPES[0] != fingerprint:
        classes = all_subclasses(Event)
        table: dict[str, Any] = {}
        for cls in classes:
            table.setdefault(cls.type_name, cls)
        _EVENT_TYPES[:] = [fingerprint, table]
    found = _EVENT_TYPES[1].get(type_name)
    if found is not None:
        return found
    return ORIGINAL["Event.resolve_by_type"](type_name, default)


PATCHES: dict[str, tuple[Any, str, Callable[..., Any]]] = {
    "DaskGraphRunner.run": (DaskGraphRunner, "run", sequential_run),
    "Domain.states_for_tracker_history": (Domain, "states_for_tracker_history", states_for_tracker_history),
    "MessageProcessor._log_action_on_tracker": (MessageProcessor, "_log_action_on_tracker", log_action_on_tracker),
    "Domain.is_empty": (Domain, "is_empty", is_empty),
    "Event.resolve_by_type": (Event, "resolve_by_type", staticmethod(resolve_by_type)),
}


def install() -> None:
    """Replace the functions of ``PATCHES`` (idempotent)."""
    for owner, attr, replacement in PATCHES.values():
        setattr(owner, attr, replacement)


def uninstall() -> None:
    """Put Rasa's functions back (for comparisons in tests)."""
    for name, (owner, attr, _) in PATCHES.items():
        setattr(owner, attr, ORIGINAL[name])
