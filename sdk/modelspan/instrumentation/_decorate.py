"""The ``@modelspan.monitor(...)`` decorator for functions, methods, async functions, generators."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from contextvars import Token
from typing import Any, TypeVar, cast

from modelspan import semconv
from modelspan.baseline import Baseline
from modelspan.instrumentation import _call_profile, _config, _monitor, _outputs
from modelspan.instrumentation._health import record_error
from modelspan.instrumentation._module import CallRecord, current_call
from modelspan.instrumentation._prediction import clear_last

F = TypeVar("F", bound=Callable[..., Any])
_TASKS = ("classification", "regression", "ranking")


def monitor(
    *,
    model: str,
    version: str = "unversioned",
    task: str | None = None,
    classes: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    baseline: Baseline | str | None = None,
    input: str | int | None = None,
    sample_rate: float | None = None,
) -> Callable[[F], F]:
    """Monitor a model's predict function: one ``predict <model>`` span per call.

    ``input`` names (or gives the position of) the argument holding the model input; by default
    the first argument after ``self``/``cls``. ``features`` names positional features (numpy
    rows), ``classes`` names the columns of a probability output (a list, an array such as
    ``model.classes_``, or the fitted model itself; a decorated method of a model with ``classes_``
    needs none), ``task`` is
    ``"classification"``, ``"regression"`` or ``"ranking"``, ``baseline`` a :class:`Baseline` or
    its JSON path (else the one ``configure(baselines=...)`` registered for this model version).

    >>> import modelspan
    >>> @modelspan.monitor(model="churn", version="3")
    ... def predict(row: dict) -> float:
    ...     return 0.25
    >>> predict({"age": 41, "plan": "pro"})
    0.25
    >>> len(modelspan.last_prediction().id)
    32
    """
    if not model or not isinstance(model, str):
        raise ValueError("monitor(model=...) needs the model's name")
    if task is not None and task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
    if sample_rate is not None and not 0.0 < sample_rate <= 1.0:
        raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate!r}")
    _config.privacy_from_env()  # a bad redaction setting fails here, never in an inference call
    loaded = Baseline.load(baseline) if isinstance(baseline, str) else baseline
    if loaded is not None:
        _config.STATE.decorator_baselines[loaded.id] = loaded

    def decorate(func: F) -> F:
        if isinstance(func, (staticmethod, classmethod)):
            return cast(F, type(func)(decorate(func.__func__)))
        index, name = _input_position(func, input)
        spec = _monitor.Spec(
            model=model[: semconv.MAX_STRING_LENGTH],
            version=str(version)[: semconv.MAX_STRING_LENGTH],
            task=task,
            classes=None if _outputs.is_model(classes) else _outputs.class_names(classes),
            class_source=classes if _outputs.is_model(classes) else None,
            method=_is_method(func),
            features=list(features) if features is not None else None,
            baseline=loaded,
            input_index=index,
            input_name=name,
            sample_rate=sample_rate,
            span_name=f"predict {model}",
        )
        return cast(F, _wrap(func, spec))

    return decorate


def _input_position(func: Callable[..., Any], input_arg: str | int | None) -> tuple[int | None, str | None]:
    """Position and name of the input argument, found once at decoration time."""
    try:
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
    except (TypeError, ValueError):  # builtins without a signature
        params = []
    if isinstance(input_arg, int):
        name = params[input_arg].name if input_arg < len(params) else None
        return input_arg, name
    if isinstance(input_arg, str):
        for i, p in enumerate(params):
            if p.name == input_arg:
                return (i if p.kind != p.KEYWORD_ONLY else None), p.name
        raise ValueError(f"input={input_arg!r} is not a parameter of {func!r}")
    skip = 1 if params and params[0].name in ("self", "cls") else 0
    if len(params) > skip:
        return skip, params[skip].name
    return skip, None


def _is_method(func: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] in ("self", "cls")


def _wrap(func: Any, spec: _monitor.Spec) -> Any:
    if inspect.isasyncgenfunction(func):
        return _wrap_async_generator(func, spec)
    if inspect.iscoroutinefunction(func):
        return _wrap_async(func, spec)
    if inspect.isgeneratorfunction(func):
        return _wrap_generator(func, spec)
    state = _config.STATE
    begin, finish, clock = _monitor.begin, _monitor.finish, time.time_ns

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not state.enabled:
            clear_last()
            return func(*args, **kwargs)
        call = begin(spec, args, kwargs)
        if call is None:  # no span: the call still counts, in its profile
            record = CallRecord(spec.model, spec.version, "", False)
            token = current_call.set(record)
            start = clock()
            try:
                result = func(*args, **kwargs)
            except BaseException:
                _unsampled(spec, args, kwargs, start, True, record, token)
                raise
            _unsampled(spec, args, kwargs, start, False, record, token, result)
            return result
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            finish(call, None, exc, clock())
            raise
        finish(call, result, None, clock())
        return result

    return wrapper


def _unsampled(spec: _monitor.Spec, args: tuple[Any, ...], kwargs: dict[str, Any], start: int, error: bool,
               record: CallRecord | None = None, token: Token[CallRecord | None] | None = None,
               result: Any = None) -> None:
    """Profile a call that has no span (sampled out): exact statistics cost no span.

    ``token`` restores the call context set for the call's sub-modules (profiled, without spans);
    ``record`` holds the path they took.
    """
    end = time.time_ns()
    if token is not None:
        _reset(token)
    record = record if record is not None else CallRecord(spec.model, spec.version, "", False)
    _call_profile.profile_unsampled(spec, args, kwargs, start, end, result, error, record)


def _unsampled_generator(func: Any, spec: _monitor.Spec, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> Generator[Any, Any, Any]:
    """A sampled-out generator call, profiled like a plain one: from the first step to the last,
    an error when it raised, and its sub-modules profiled (no spans) while its body runs, never while
    the consumer runs between items. A consumer that stops early ends the call normally."""
    record = CallRecord(spec.model, spec.version, "", False)
    start, error = time.time_ns(), True
    generator = func(*args, **kwargs)
    step, value = generator.send, None
    try:
        while True:
            token = current_call.set(record)
            try:
                item = step(value)
            except StopIteration as stop:
                error = False
                return stop.value
            finally:
                _reset(token)
            try:
                value = yield item
                step = generator.send
            except GeneratorExit:
                error = False
                _in_call(record, generator.close)
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it on
                step, value = generator.throw, exc
    finally:
        _unsampled(spec, args, kwargs, start, error, record)


async def _anext_in_call(iterator: Any, record: CallRecord) -> tuple[bool, Any]:
    """The next item of a sampled-out async generator, its body running inside its call (sub-modules profiled)."""
    token = current_call.set(record)
    try:
        return True, await iterator.__anext__()
    except StopAsyncIteration:
        return False, None
    finally:
        _reset(token)


async def _aclose_in_call(iterator: Any, record: CallRecord) -> None:
    token = current_call.set(record)
    try:
        await iterator.aclose()  # else its cleanup would wait for garbage collection
    finally:
        _reset(token)


def _in_call(record: CallRecord, action: Callable[[], Any]) -> None:
    token = current_call.set(record)
    try:
        action()
    finally:
        _reset(token)


def _reset(token: Token[CallRecord | None]) -> None:
    try:
        current_call.reset(token)
    except ValueError:  # finished in another context: restore by value
        current_call.set(None)


def _wrap_async(func: Any, spec: _monitor.Spec) -> Any:
    state = _config.STATE

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not state.enabled:
            clear_last()
            return await func(*args, **kwargs)
        call = _monitor.begin(spec, args, kwargs)
        if call is None:
            record = CallRecord(spec.model, spec.version, "", False)
            token = current_call.set(record)
            start = time.time_ns()
            try:
                result = await func(*args, **kwargs)
            except BaseException:
                _unsampled(spec, args, kwargs, start, True, record, token)
                raise
            _unsampled(spec, args, kwargs, start, False, record, token, result)
            return result
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            _monitor.finish(call, None, exc, time.time_ns())
            raise
        _monitor.finish(call, result, None, time.time_ns())
        return result

    return wrapper


class _Collected:
    """Yielded items of a generator call, bounded, treated as the call's batch output."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, item: Any) -> None:
        if len(self.items) < semconv.MAX_ROW_OUTPUTS:
            self.items.append(item)


def _suspend(call: _monitor.Call) -> None:
    try:
        call.detach()  # the consumer runs between items: our span must not be its parent
    except Exception as exc:
        record_error("monitor.generator", exc)


def _resume(call: _monitor.Call) -> None:
    try:
        call.attach()
    except Exception as exc:
        record_error("monitor.generator", exc)


def _wrap_generator(func: Any, spec: _monitor.Spec) -> Any:
    state = _config.STATE

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        if not state.enabled:
            clear_last()
            return (yield from func(*args, **kwargs))
        call = _monitor.begin(spec, args, kwargs)
        if call is None:
            return (yield from _unsampled_generator(func, spec, args, kwargs))
        call.streamed = True
        collected = _Collected()
        generator = func(*args, **kwargs)
        step, value = generator.send, None
        while True:
            try:
                item = step(value)
            except StopIteration as stop:
                _monitor.finish(call, collected.items, None, time.time_ns())
                return stop.value
            except BaseException as exc:
                _monitor.finish(call, None, exc, time.time_ns())
                raise
            collected.add(item)
            _suspend(call)
            try:
                value = yield item
                step = generator.send
            except GeneratorExit:  # the consumer stopped early: a normal end of the call
                _monitor.finish(call, collected.items, None, time.time_ns())
                generator.close()
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it on
                step, value = generator.throw, exc
            _resume(call)

    return wrapper


def _wrap_async_generator(func: Any, spec: _monitor.Spec) -> Any:
    state = _config.STATE

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        if not state.enabled:
            clear_last()
            plain = func(*args, **kwargs)
            try:
                async for item in plain:
                    yield item
            finally:
                await plain.aclose()  # else its cleanup would wait for garbage collection
            return
        call = _monitor.begin(spec, args, kwargs)
        if call is None:  # sampled out: profiled as in _unsampled_generator; the user's generator closed at the end
            record, start, error = CallRecord(spec.model, spec.version, "", False), time.time_ns(), True
            iterator = func(*args, **kwargs)
            try:
                while True:
                    more, item = await _anext_in_call(iterator, record)
                    if not more:
                        error = False
                        return
                    try:
                        yield item
                    except GeneratorExit:  # the consumer stopped early (an athrow() ends it as an error)
                        error = False
                        raise
            finally:
                await _aclose_in_call(iterator, record)
                _unsampled(spec, args, kwargs, start, error, record)
        call.streamed = True
        collected = _Collected()
        iterator = func(*args, **kwargs).__aiter__()
        while True:
            try:
                item = await iterator.__anext__()
            except StopAsyncIteration:
                _monitor.finish(call, collected.items, None, time.time_ns())
                return
            except BaseException as exc:
                _monitor.finish(call, None, exc, time.time_ns())
                raise
            collected.add(item)
            _suspend(call)
            try:
                yield item
            except GeneratorExit:
                _monitor.finish(call, collected.items, None, time.time_ns())
                await iterator.aclose()
                raise
            except BaseException as exc:  # athrow() by the consumer ends the call
                _monitor.finish(call, None, exc, time.time_ns())
                raise
            _resume(call)

    return wrapper
