"""The prediction id(s) of a call, for joining ground-truth labels later.

After a decorated call returns (or raises), ``modelspan.last_prediction()`` gives its
:class:`Prediction` in the same thread or asyncio task (a ``ContextVar``, so concurrent callers
never see each other's ids). Inside the call, ``modelspan.current_prediction()`` gives it too.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from typing import NamedTuple


class Prediction(NamedTuple):
    """Identity of one monitored call; row ``i`` of a batch has id ``f"{id}:{i}"``.

    (A named tuple because one is made on every call: it is the cheapest immutable record.)

    >>> p = Prediction("ab12", "churn", "3", batch_size=2)
    >>> p.ids
    ['ab12:0', 'ab12:1']
    """

    id: str
    model: str
    version: str
    batch_size: int = 1
    batch: bool = False
    sampled: bool = True  # False: sampled out, no span carries this id (its label joins nothing)

    @property
    def ids(self) -> list[str]:
        """One id per row: the call's id for a single-row call, ``id:i`` for batch rows."""
        if not self.batch:
            return [self.id]
        return [f"{self.id}:{i}" for i in range(self.batch_size)]


# The fields of the last Prediction as a plain tuple: every call stores one, few ever read it, so
# the named tuple is only built by last_prediction() (benchmarks/overhead.py).
_last: ContextVar[tuple[str, str, str] | tuple[str, str, str, int, bool, bool] | None] = ContextVar(
    "modelspan_last_prediction", default=None
)


def set_last(prediction: Prediction | None) -> None:
    _last.set(prediction)


set_last_fields = _last.set
"""Store a prediction as its fields: ``(id, model, version)`` or all six (batch, sampled)."""

clear_last = functools.partial(_last.set, None)
"""Forget the last prediction (monitoring disabled): a stale id would join labels to the wrong call."""


def last_prediction() -> Prediction | None:
    """The prediction of the most recent monitored call made in this thread / asyncio task.

    ``None`` before any call and after a call made while monitoring is disabled. A call that was
    sampled out still gets an id, with ``sampled=False``.

    >>> import modelspan
    >>> @modelspan.monitor(model="demo", version="1")
    ... def predict(row):
    ...     return 0.5
    >>> _ = predict({"x": 1.0})
    >>> modelspan.last_prediction().model
    'demo'
    """
    fields = _last.get()
    return None if fields is None else Prediction(*fields)


def current_prediction() -> Prediction | None:
    """The prediction of the monitored call that is running now (``None`` outside one)."""
    from modelspan.instrumentation._module import current_call

    record = current_call.get()
    if record is None:
        return None
    return Prediction(record.prediction_id, record.model, record.version)
