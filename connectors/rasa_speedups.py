"""Fixes for costs profiling found inside Rasa 3.6's server (bench/, README "Performance").

Installed by ``connectors.rasa_channel`` (so only in the Rasa server that runs
dmdesk's channel). Behaviour is unchanged; only repeated work is removed.

* ``RemoteAction._validate_action_result`` called ``jsonschema.validate`` on
  every action server response, which first validates the (constant) events
  schema against the JSON Schema meta-schema: 35 % of the Rasa server's CPU
  under load (py-spy). The validator is now built and checked once. Each event
  is then checked against the one ``oneOf`` branch its ``event`` name selects
  (the branches are told apart by a ``const`` event name, so the other 22 can
  only fail); anything that does not pass that way is validated in full as
  before, so a bad response gets the same error.
* ``EndpointConfig.request`` opened a new aiohttp session, so a new TCP
  connection, for every action call; it now keeps one session (and its
  kept-alive connections) per endpoint and event loop. Same requests, headers
  and timeouts.
* ``LogisticRegressionClassifier._create_X`` deep-copied the message's sparse
  features (and its sequence features, unused) and stacked a one-row matrix
  again: it now reads the single sentence feature of each kind without a copy
  and skips the stacking of a single row. The matrix is the same (data,
  indices, order), so are the probabilities.
* ``LogisticRegression.predict_proba`` (scikit-learn) multiplied the input by
  a transposed view of the coefficients that scipy copied (2.2 MB) on every
  call; the product now uses a C-ordered copy made once: the same kernel, the
  same numbers (``predict_proba`` below).
* ``connectors.rasa_runtime``: graph runs without dask's scheduler, the tracker's prior states
  read once per prediction, no event copies for a debug log that is off (its docstring).
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any, Optional, cast

import aiohttp
import numpy as np
from aiohttp import ContentTypeError
from jsonschema import ValidationError, validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.endpoints import ClientResponseError, EndpointConfig, concat_url
from scipy.sparse import coo_matrix, csr_matrix, hstack, vstack
from scipy.sparse._sputils import get_index_dtype
from sklearn.linear_model import LogisticRegression
from sklearn.utils.extmath import softmax

from connectors import rasa_runtime

_INSTALLED = False
_ORIGINAL_CREATE_X = LogisticRegressionClassifier._create_X


# --- action server responses
@functools.lru_cache(maxsize=1)
def action_result_validator() -> Any:
    """The validator of action server responses, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@functools.lru_cache(maxsize=1)
def _event_validators() -> Optional[tuple[Any, dict[str, Any]]]:
    """(validator of the response without its event items, event name -> validator of such an event).

    None when the schema is not shaped as expected (every ``oneOf`` branch naming one distinct
    ``event`` const, ``event`` required): then every response is validated in full.
    """
    schema = RemoteAction.action_response_format_spec()
    events = schema.get("properties", {}).get("events", {})
    item = events.get("items") if isinstance(events, dict) else None
    if not isinstance(item, dict) or "event" not in item.get("required", []):
        return None
    branches = item.get("oneOf") or []
    names = [b.get("properties", {}).get("event", {}).get("const") for b in branches]
    if not branches or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return None
    cls = validators.validator_for(schema)
    outer = {k: v for k, v in item.items() if k != "oneOf"}
    top = {
        **schema,
        "properties": {**schema["properties"], "events": {k: v for k, v in events.items() if k != "items"}},
    }
    return cls(top), {name: cls({"allOf": [outer, branch]}) for name, branch in zip(names, branches, strict=True)}


def _surely_valid(result: Any) -> bool:
    """True if ``result`` is valid by the per-event check; False means: validate in full."""
    fast = _event_validators()
    if fast is None:
        return False
    top, by_name = fast
    if not top.is_valid(result):
        return False
    for event in result.get("events") or []:
        name = event.get("event") if isinstance(event, dict) else None
        check = by_name.get(name) if isinstance(name, str) else None
        if check is None or not check.is_valid(event):
            return False
    return True


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result``, faster (same checks, same error)."""
    return True if _surely_valid(result) else validate_action_result_full(self, result)


def validate_action_result_full(self: Optional[RemoteAction], result: dict[str, Any]) -> bool:
    """Every response against the whole schema (the validator built once)."""
    error = best_match(action_result_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        "Action endpoint is valid. For more information about the format visit "
        "https://rasa.com/docs/rasa/custom-actions"
    )
    raise error


# --- HTTP calls to the action server
def _shared_session(config: EndpointConfig) -> aiohttp.ClientSession:
    """The endpoint's session for the running loop (created by Rasa's own ``session()``), kept open."""
    loop = asyncio.get_running_loop()
    held = getattr(config, "_dmdesk_session", None)
    if held is None or held[0] is not loop or held[1].closed:
        held = (loop, config.session())
        config._dmdesk_session = held  # type: ignore[attr-defined]
    return held[1]


async def endpoint_request(
    self: EndpointConfig,
    method: str = "post",
    subpath: Optional[str] = None,
    content_type: Optional[str] = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Optional[Any]:
    """``EndpointConfig.request`` over a kept session: same headers, parameters and errors."""
    headers: dict[str, Any] = {"Content-Type": content_type} if content_type else {}
    headers.update(kwargs.pop("headers", None) or {})
    headers.update(self.headers or {})
    if self.cafile:  # rare: a private CA; Rasa's own implementation handles it
        return await _ORIGINAL_REQUEST(self, method, subpath, content_type, compress, headers=headers, **kwargs)
    url = concat_url(self.url, subpath)
    params = self.combine_parameters(kwargs)
    session = _shared_session(self)
    async with session.request(method, url, headers=headers, params=params, compress=compress, **kwargs) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason, await response.content.read())
        try:
            return await response.json()
        except ContentTypeError:
            return None


_ORIGINAL_REQUEST = EndpointConfig.request


# --- the intent classifier's input
def _single_sentence_features(message: Message, sparse: bool) -> tuple[bool, Any]:
    """(True, the matrix) if the message has at most one sentence feature of the kind for TEXT."""
    found = [
        f
        for f in message.features
        if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse() == sparse
    ]
    if len(found) > 1:
        return False, None
    return True, (found[0].features if found else None)


def _one_row(sparse_feats: Any, dense_feats: Any) -> csr_matrix | None:
    """The classifier's row for one message, built from the two sentence features' arrays; None if unusual.

    What Rasa's ``hstack`` of ``csr_matrix(sparse)`` and ``csr_matrix(dense)`` gives: the sparse feature's
    entries (one row, columns sorted and unique, as the count-vector featurizer stores them), then the dense
    vector's non-zero values at their columns after the sparse ones, in the dtype both upcast to; the scipy
    constructors, format checks and the stacking (about a third of building the row) are skipped.
    """
    if not isinstance(sparse_feats, coo_matrix) or not isinstance(dense_feats, np.ndarray):
        return None
    if sparse_feats.shape[0] != 1 or dense_feats.ndim != 2 or dense_feats.shape[0] != 1:
        return None
    cols = sparse_feats.col
    if cols.size > 1 and not bool(np.all(cols[1:] > cols[:-1])):  # unsorted or repeated: let scipy sum them
        return None
    width = sparse_feats.shape[1]
    dense = dense_feats[0]
    nonzero = np.flatnonzero(dense)
    dtype = np.result_type(sparse_feats.dtype, dense.dtype)
    index = get_index_dtype(maxval=width + dense.shape[0])
    data = np.concatenate([sparse_feats.data.astype(dtype, copy=False), dense[nonzero].astype(dtype, copy=False)])
    indices = np.concatenate([cols.astype(index, copy=False), (nonzero + width).astype(index, copy=False)])
    indptr = np.array([0, data.size], dtype=index)
    return csr_matrix((data, indices, indptr), shape=(1, width + dense.shape[0]), copy=False)


def create_x(self: LogisticRegressionClassifier, messages: list[Message]) -> csr_matrix:
    """``LogisticRegressionClassifier._create_X`` without copies: the same matrix."""
    rows = []
    for message in messages:
        ok_sparse, sparse_feats = _single_sentence_features(message, sparse=True)
        ok_dense, dense_feats = _single_sentence_features(message, sparse=False)
        if not (ok_sparse and ok_dense):  # several featurizers: Rasa combines them
            return _ORIGINAL_CREATE_X(self, messages)
        if len(messages) == 1 and (row := _one_row(sparse_feats, dense_feats)) is not None:
            return row
        rows.append(
            hstack(
                [
                    csr_matrix(sparse_feats if sparse_feats is not None else []),
                    csr_matrix(dense_feats if dense_feats is not None else []),
                ]
            )
        )
    # vstack of one csr row copies its arrays unchanged
    return rows[0] if len(rows) == 1 and isinstance(rows[0], csr_matrix) else vstack(rows)


def _coef_t(clf: LogisticRegression) -> np.ndarray:
    """``clf.coef_.T`` in C order, made once per fitted coefficient array (kept on the estimator)."""
    cached = getattr(clf, "_dmdesk_coef_t", None)
    if cached is None or cached[0] is not clf.coef_:
        cached = (clf.coef_, np.ascontiguousarray(clf.coef_.T))
        clf._dmdesk_coef_t = cached  # type: ignore[attr-defined]
    return cast(np.ndarray, cached[1])


def predict_proba(self: LogisticRegression, X: Any) -> np.ndarray:
    """``LogisticRegression.predict_proba`` for a multinomial model and a CSR float input: the same numbers.

    scikit-learn multiplies the sparse input by ``coef_.T``, a Fortran-ordered view that scipy copies into
    C order on every call (2.2 MB here: 23,474 features x 12 intents): 347 -> 32 us a message. The product
    with a C-ordered copy made once runs the same kernel on the same values in the same order; the
    softmax is scikit-learn's own. Anything else (one-vs-rest, another input) goes to scikit-learn.
    """
    multinomial = not (
        self.multi_class in ("ovr", "warn")
        or (self.multi_class == "auto" and (self.classes_.size <= 2 or self.solver == "liblinear"))
    )
    if not (multinomial and isinstance(X, csr_matrix) and X.dtype == np.float64 and X.ndim == 2):
        return cast(np.ndarray, _ORIGINAL_PREDICT_PROBA(self, X))
    if X.shape[1] != self.coef_.shape[1]:
        return cast(np.ndarray, _ORIGINAL_PREDICT_PROBA(self, X))  # its error
    scores = X @ _coef_t(self)
    scores += self.intercept_
    return cast(np.ndarray, softmax(scores, copy=False))


_ORIGINAL_PREDICT_PROBA = LogisticRegression.predict_proba


def install() -> None:
    """Patch Rasa once per process (``DMDESK_RASA_SPEEDUPS=false``: only the validator built once, for A/B runs)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    if os.environ.get("DMDESK_RASA_SPEEDUPS", "true").lower() in ("0", "false", "no"):
        RemoteAction._validate_action_result = validate_action_result_full  # type: ignore[method-assign]
        return
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    EndpointConfig.request = endpoint_request  # type: ignore[method-assign]
    LogisticRegressionClassifier._create_X = create_x  # type: ignore[method-assign]
    LogisticRegression.predict_proba = predict_proba  # type: ignore[method-assign]
    rasa_runtime.install()


__all__ = [
    "ValidationError",
    "create_x",
    "endpoint_request",
    "install",
    "predict_proba",
    "validate_action_result",
    "validate_action_result_full",
]
