"""The profile side of a monitored call (docs/profiles.md): its input shaped, its output read, sampled or not.

``_monitor`` builds spans and calls these for what both paths share (the input as a row or batch,
redacted; the output read once); a call sampled out is profiled here without any span.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from modelspan import semconv
from modelspan.instrumentation import _config, _outputs, _profiles, _redaction
from modelspan.instrumentation._feature_profiles import CallSummary, summarise_input, summarise_output
from modelspan.instrumentation._health import record_error
from modelspan.instrumentation._module import CallRecord
from modelspan.instrumentation._row_fold import summarise_row
from modelspan.profiling import _inputs

if TYPE_CHECKING:
    from modelspan.baseline import Baseline

Spec = Any
"""``_monitor.Spec`` (named, not imported: ``_monitor`` imports this module)."""

MISSING = object()
begin_failed: ContextVar[bool] = ContextVar("modelspan_begin_failed", default=False)


def shape(spec: Spec, value: Any, baseline: Baseline | None, record: CallRecord) -> _inputs.Row | _inputs.Batch | None:
    """The call's input as a row or a batch, redacted as configured (before anything is built from it)."""
    if type(value) is dict and len(value) <= semconv.MAX_FEATURES:  # normalise's commonest case
        shaped: _inputs.Row | _inputs.Batch | None = _inputs.Row(value)
    else:
        names = spec.features or (list(baseline.features) if baseline else None)
        shaped = _inputs.normalise(value, names, spec.input_name or "input")
    redaction = _config.STATE.redaction
    if redaction:  # docs/privacy.md
        record.secrets = secrets = _redaction.Secrets()
        shaped = _redaction.redact_shaped(shaped, redaction, secrets)
    return shaped


def profile_unsampled(spec: Spec, args: tuple[Any, ...], kwargs: dict[str, Any], start_ns: int, end_ns: int,
                      result: Any, error: bool, record: CallRecord) -> None:
    """Profile a call that has no span (sampled out): its counts, features, outputs and path. Never raises."""
    if begin_failed.get():  # its span failed to start (counted, logged): counts only
        begin_failed.set(False)
        _profiles.record(spec.model, spec.version, "", start_ns, end_ns, error, 1.0, False)
        return
    try:
        value = input_value(spec, args, kwargs)
        state = _config.STATE
        baseline = spec.baseline or state.baselines.get((spec.model, spec.version))
        summary = CallSummary()
        shaped: _inputs.Row | _inputs.Batch | None = None
        if type(value) is dict and not state.redaction and len(value) <= semconv.MAX_FEATURES and summarise_row(
                value, baseline, state.redaction, summary):
            rows, single = 1.0, True  # the lean way (_row_fold): the row as it is, nothing redacted
        else:
            rows = _profiles.rows_of(value)
            shaped = shape(spec, value, baseline, record) if value is not MISSING else None
            summarise_input(shaped, baseline, state.redaction, summary)
            single = type(shaped) is not _inputs.Batch
        outputs = None if error else plain_or_read(spec, result, single, shaped, None)
        if not error:
            summarise_output(result, outputs, single, baseline, summary, record.path, state.redaction, record.secrets)
        else:
            summary.path = tuple(record.path)
    except Exception as exc:
        record_error("monitor.profile", exc)
        summary, rows = None, 1.0
    _profiles.record(spec.model, spec.version, "", start_ns, end_ns, error, rows, False, summary)


def plain_or_read(spec: Spec, result: Any, single: bool, shaped: Any, owner: Any) -> _outputs.Outputs | None:
    """``None`` for a plain single-row float or label (summarised as is), else the output read."""
    if single and spec.task is None and type(result) in (float, str):
        return None
    batch = shaped.size if type(shaped) is _inputs.Batch else None
    classes = spec.classes
    if classes is None:
        source = spec.class_source if spec.class_source is not None else owner
        classes = _outputs.class_names(source) if _outputs.is_model(source) else None
    try:
        return _outputs.interpret(result, batch, spec.task, classes)
    except _outputs.UnreadableOutput as exc:  # counted and logged once per kind, as on the span path
        record_error(f"monitor.output ({exc.kind})", exc)
        return None


def input_value(spec: Spec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if spec.input_name is not None and spec.input_name in kwargs:
        return kwargs[spec.input_name]
    if spec.input_index is not None and spec.input_index < len(args):
        return args[spec.input_index]
    return MISSING
