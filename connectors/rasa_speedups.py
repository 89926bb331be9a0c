"""Fixes for costs profiling found inside Rasa 3.6's server (bench/, README "Performance").

Installed by ``connectors.rasa_channel`` (so only in the Rasa server that runs
dmdesk's channel). Behaviour is unchanged; only repeated work is removed.

* ``RemoteAction._validate_action_result`` called ``jsonschema.validate`` on
  every action server response, which first validates the (constant) events
  schema against the JSON Schema meta-schema: 35 % of the Rasa server's CPU
  under load (py-spy). The validator is now built and checked once; every
  response is still validated against the same schema, with the same error.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import ValidationError, validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction

_INSTALLED = False


@functools.lru_cache(maxsize=1)
def action_result_validator() -> Any:
    """The validator of action server responses, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with a validator built once (same checks, same error)."""
    error = best_match(action_result_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        "Action endpoint is valid. For more information about the format visit "
        "https://rasa.com/docs/rasa/custom-actions"
    )
    raise error


def install() -> None:
    """Patch Rasa once per process."""
    global _INSTALLED
    if _INSTALLED:
        return
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    _INSTALLED = True


__all__ = ["ValidationError", "install", "validate_action_result"]
