"""Mutation testing of the core modules: does the suite notice a small deliberate mistake?

Each mutant changes one operator or constant in one module (``<`` to ``<=``, ``+`` to ``-``, ``and``
to ``or``, ``n`` to ``n + 1``, ``True`` to ``False``, dropping a ``not`` or a unary minus). The tests
that cover the module run against it; a failing test *kills* the mutant, a green run means the suite
would not have caught that mistake. ``docs/testing.md`` describes the report and the known
equivalent mutants.

Why a small AST mutator and not mutmut or cosmic-ray: the ``modelspan`` package is split over two
source trees (``sdk/`` and ``exporters/``, merged by ``pkgutil.extend_path`` in an editable install),
which mutmut 3 does not copy into its ``mutants/`` tree, and both tools start a fresh interpreter (or
a copy of the tree) per mutant, which costs seconds of numpy/scipy/OpenTelemetry imports on a shared
2-core machine. Here the parent imports everything once and forks one child per mutant; the child
swaps the mutated code objects into the already-imported module (so ``from x import f`` elsewhere
sees the mutant too) and runs pytest in process. No file in the tree is ever modified.

    python tools/mutation.py                 # fast: at most 25 mutants per module, evenly spread
    python tools/mutation.py --since main    # only mutants on lines changed since a git ref
    python tools/mutation.py --module drift --sample 100 --seed 1   # a random sample, reproducible
    python tools/mutation.py --full          # every mutant of every core module
    python tools/mutation.py --full --module multiple_testing --verbose
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib
import inspect
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# module label -> [(source file, tests that cover it: fastest and most direct first)]
_DRIFT = "sdk/modelspan/analyzer/drift"
_DRIFT_TESTS = "tests/sdk/analyzer/drift"
_BOUNDARIES = "tests/sdk/analyzer/test_boundaries.py"
TARGETS: dict[str, list[tuple[str, list[str]]]] = {
    "drift": [
        (f"{_DRIFT}/_core.py", [_BOUNDARIES, _DRIFT_TESTS]),
        (f"{_DRIFT}/__init__.py", [_BOUNDARIES, _DRIFT_TESTS]),
        *((f"{_DRIFT}/{name}.py", [_BOUNDARIES, f"{_DRIFT_TESTS}/test_{name}.py", f"{_DRIFT_TESTS}/test_registry.py"])
          for name in ("chi_square", "hellinger", "jensen_shannon", "ks", "new_category", "oov", "psi",
                       "wasserstein")),
    ],
    "multiple_testing": [
        ("sdk/modelspan/analyzer/multiple_testing.py", [_BOUNDARIES, "tests/sdk/analyzer/test_multiple_testing.py"]),
    ],
    "quality": [
        ("sdk/modelspan/analyzer/performance.py",
         ["tests/sdk/analyzer/test_quality_positive_label.py", "tests/sdk/analyzer/test_performance.py"]),
    ],
    "document": [
        ("exporters/modelspan/exporters/_document.py",
         ["tests/exporters/test_document_timestamps.py", "tests/exporters/test_document.py"]),
    ],
    "bulk": [
        ("exporters/modelspan/exporters/_bulk.py",
         ["tests/exporters/test_delivery.py", "tests/exporters/test_document_timestamps.py",
          "tests/exporters/test_document.py", "tests/exporters/test_encoding_isolation.py",
          "tests/exporters/test_document_ids.py", "tests/exporters/test_collector_cases.py",
          "tests/exporters/test_elasticsearch.py"]),
    ],
    "delivery": [
        ("exporters/modelspan/exporters/_delivery.py",
         ["tests/exporters/test_delivery.py", "tests/exporters/test_elasticsearch.py"]),
    ],
    "inputs": [
        ("sdk/modelspan/profiling/_inputs.py",
         ["tests/sdk/test_input_shapes.py", "tests/sdk/test_inputs_outputs.py", "tests/sdk/test_summaries.py",
          "tests/sdk/test_monitor.py"]),
    ],
    "outputs": [
        ("sdk/modelspan/instrumentation/_outputs.py",
         ["tests/sdk/test_output_shapes.py", "tests/sdk/test_inputs_outputs.py", "tests/sdk/test_monitor.py"]),
    ],
}

# Mutants that cannot change any result, keyed by (file, source line stripped, mutation); each with
# its reason. They are reported apart and left out of the kill rate (docs/testing.md lists them).
_NEGATIVE_SIZE = "numpy reads any negative size in reshape() as 'infer this dimension'"
_CACHE = "the size of a memo cache: results are the same, only how often they are recomputed changes"
_DOC = "exporters/modelspan/exporters/_document.py"
_QUALITY = "sdk/modelspan/analyzer/performance.py"
_INPUTS = "sdk/modelspan/profiling/_inputs.py"
_CORE = f"{_DRIFT}/_core.py"
_NARROWING = ("a type-narrowing assert: run() has already checked that both samples are of one type the test "
              "takes, so 'or' only weakens an assert that cannot fail")
_MIXED = ("differs only for a Raw beside another type, which run() refuses before calling the test (called "
          "directly, both raise: an AssertionError or an AttributeError)")
_EMPTY_OUTER = ("the edge matters only when the samples' extreme lies inside the edges, and then the open-ended bin "
                "is empty in both samples: its width multiplies a zero gap, a zero bound term and a zero share")
_SAME_LENGTH = "both sides are cut to the same ``count``, so strict= never has anything to catch"
EQUIVALENT: dict[tuple[str, str, str], str] = {
    ("sdk/modelspan/analyzer/multiple_testing.py",
     "q = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)", "1.0 -> 2.0"):
        "the running minimum from the largest p down never exceeds p_(m) * m / m <= 1: the cap never binds",
    ("sdk/modelspan/analyzer/multiple_testing.py",
     "raw = np.asarray([np.nan if p is None else p for p in np.asarray(p_values, dtype=object).reshape(-1)],",
     "1 -> 2"): _NEGATIVE_SIZE,
    (_QUALITY, "return array.reshape(-1)", "1 -> 2"): _NEGATIVE_SIZE,
    (_QUALITY, "a = np.asarray(actual, dtype=np.float64).reshape(-1)", "1 -> 2"): _NEGATIVE_SIZE,
    (_QUALITY, "p = np.asarray(predicted, dtype=np.float64).reshape(-1)", "1 -> 2"): _NEGATIVE_SIZE,
    (_QUALITY, "codes = remap[codes.reshape(-1)] if remap.size else codes.reshape(-1).astype(np.intp)", "1 -> 2"):
        _NEGATIVE_SIZE,
    (_DOC, "_CACHE_LIMIT: Final = 256", "256 -> 257"): _CACHE,
    (_DOC, "if len(self.streams) >= _CACHE_LIMIT:", "compare[0] GtE -> Gt"): _CACHE,
    (_DOC, "if len(_contexts) >= _CACHE_LIMIT:", "compare[0] GtE -> Gt"): _CACHE,
    (_DOC, "if len(_sanitised) >= _CACHE_LIMIT:", "compare[0] GtE -> Gt"): _CACHE,
    (_DOC, "found = _sanitised.get((True, value)) if type(value) is str else None", "compare[0] Is -> IsNot"):
        "only strings are ever remembered, so a non-string never finds an entry: the lookup is skipped or misses",
    (_DOC, "found = _sanitised.get((False, value)) if type(value) is str else None", "compare[0] Is -> IsNot"):
        "only strings are ever remembered, so a non-string never finds an entry: the lookup is skipped or misses",
    (_DOC, "if type(key[1]) is not str:  # True and 1 hash alike but route differently (\"true\" / \"1\")",
     "compare[0] IsNot -> Is"): "non-strings are never looked up, so remembering them instead of strings only "
                                "turns the cache off",
    (_DOC, 'if len(encoded) > room:', "compare[0] Gt -> GtE"): "cutting a text of exactly ``room`` bytes to "
                                                                "``room`` bytes leaves it unchanged",
    (_DOC, '_put_count(document, "dropped_attributes_count", getattr(event, "dropped_attributes", 0))', "0 -> 1"):
        "the SDK's Event always has dropped_attributes; the default is for other implementations",
    (_DOC, '_put_count(out, "dropped_attributes_count", getattr(link, "dropped_attributes", 0))', "0 -> 1"):
        "the SDK's Link always has dropped_attributes; the default is for other implementations",
    ("exporters/modelspan/exporters/_bulk.py", "@dataclass(frozen=True)", "True -> False"):
        "frozen only forbids assigning to an Item or Outcome, which no code does, and neither is hashed",
    ("exporters/modelspan/exporters/_bulk.py", "routed = route_span(span, normalise=False)", "False -> True"):
        "normalising first only does up front what the fallback does for NaN/inf: the JSON written is the same",
    ("exporters/modelspan/exporters/_bulk.py", "separators=(\",\", \":\"), allow_nan=False, check_circular=False  # "
     "ensure_ascii: faster here, measured", "False -> True #2"):
        "check_circular only makes the encoder look for reference cycles; documents are trees built afresh from "
        "span attributes, which cannot hold a cycle, so the output is the same",
    ("exporters/modelspan/exporters/_bulk.py",
     "source = json.dumps(document, default=repr, ensure_ascii=True, check_circular=True)", "True -> False #2"):
        "without the check a cycle raises RecursionError instead of ValueError; both are caught the same way and "
        "the letter falls back to the document's repr",
    ("exporters/modelspan/exporters/_bulk.py", "for item, answer in zip(items, answers, strict=True):",
     "True -> False"): "the lengths were compared just before, so strict= never has anything to catch",
    (_INPUTS, "@dataclass(slots=True)", "True -> False"): "__slots__ saves memory; no code sets other attributes",
    (_INPUTS, "if type(value) is dict and len(value) <= semconv.MAX_FEATURES:", "compare[0] LtE -> Lt"):
        "a dict of exactly MAX_FEATURES keys is then copied by _bounded_row, which keeps all of them",
    (_INPUTS, "return Row(dict(zip(default_names(len(items), names, count), items[:count], strict=True)))",
     "True -> False"): _SAME_LENGTH,
    (_INPUTS, "return Row(dict(zip(default_names(array.shape[0], names, count), array[:count].tolist(), "
              "strict=True)))", "True -> False"): _SAME_LENGTH,
    ("exporters/modelspan/exporters/_delivery.py", "if start < len(items):", "compare[0] Lt -> LtE"):
        "_bounds() is only called with items to send, so start == len(items) only after the loop appended them all",
    (_CORE, "counts = np.asarray(self.counts, dtype=np.float64).reshape(-1)", "1 -> 2"): _NEGATIVE_SIZE,
    (_CORE, "edges = np.asarray(self.edges, dtype=np.float64).reshape(-1)", "1 -> 2"): _NEGATIVE_SIZE,
    (_CORE, "data = np.asarray(self.values, dtype=np.float64).reshape(-1)", "1 -> 2"): _NEGATIVE_SIZE,
    (_CORE, "data = np.asarray(values, dtype=np.float64).reshape(-1)", "1 -> 2"): _NEGATIVE_SIZE,
    (f"{_DRIFT}/ks.py", "assert isinstance(reference, Binned) and isinstance(current, Binned)", "And -> Or"):
        _NARROWING,
    (f"{_DRIFT}/wasserstein.py", "assert isinstance(reference, Binned) and isinstance(current, Binned)",
     "And -> Or"): _NARROWING,
    (f"{_DRIFT}/new_category.py", "assert isinstance(reference, Categories) and isinstance(current, Categories)",
     "And -> Or"): _NARROWING,
    (f"{_DRIFT}/oov.py", "assert isinstance(reference, Rate) and isinstance(current, Rate)", "And -> Or"): _NARROWING,
    (f"{_DRIFT}/ks.py", "if isinstance(reference, Raw) and isinstance(current, Raw):", "And -> Or"): _MIXED,
    (f"{_DRIFT}/wasserstein.py", "if isinstance(reference, Raw) and isinstance(current, Raw):", "And -> Or"): _MIXED,
    (f"{_DRIFT}/wasserstein.py", "same_sign = a * b >= 0", "compare[0] GtE -> Gt"):
        "at a * b == 0 one end is 0, and the crossing formula b²/(2|b|) is then |b|/2, the same-sign one",
    (f"{_DRIFT}/wasserstein.py",
     "outer = [min(g, t) if lows and highs else g for g, t in zip(guess, true_outer, strict=True)]", "True -> False"):
        "both sides are tuples of two, so strict= never has anything to catch",
    (f"{_DRIFT}/wasserstein.py", "low = min([*lows, float(edges[0])])", "0 -> 1"): _EMPTY_OUTER,
    (f"{_DRIFT}/wasserstein.py", "high = max([*highs, float(edges[-1])])", "drop USub"): _EMPTY_OUTER,
}

_COMPARE_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                 ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
               ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}


@dataclass(frozen=True)
class Mutant:
    """One mutation: the ``index``-th mutable node of ``path`` in walk order, changed as ``what``."""

    path: str
    index: int
    line: int
    what: str

    def key(self) -> tuple[str, str, str]:
        source = (ROOT / self.path).read_text().splitlines()[self.line - 1].strip()
        return (self.path, source, self.what)


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Ids of nodes never mutated: docstrings, annotations, ``__all__`` and ``TYPE_CHECKING`` blocks."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            mark(body[0])
        if isinstance(node, ast.arg | ast.AnnAssign):
            mark(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mark(node.returns)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            mark(node)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            mark(node)
    return skip


def _mutations(node: ast.AST) -> Iterator[str]:
    """What can be done to ``node`` (several for a comparison chain)."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _COMPARE_SWAP:
                yield f"compare[{i}] {type(op).__name__} -> {_COMPARE_SWAP[type(op)].__name__}"
    elif isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _BINOP_SWAP:
        yield f"{type(node.op).__name__} -> {_BINOP_SWAP[type(node.op)].__name__}"
    elif isinstance(node, ast.BoolOp):
        yield "And -> Or" if isinstance(node.op, ast.And) else "Or -> And"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
        yield f"drop {type(node.op).__name__}"
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            yield f"{node.value} -> {not node.value}"
        elif isinstance(node.value, int | float) and not isinstance(node.value, complex):
            yield f"{node.value!r} -> {node.value + 1!r}"


def enumerate_mutants(path: str) -> list[Mutant]:
    tree = ast.parse((ROOT / path).read_text())
    skip = _skipped_nodes(tree)
    mutants: list[Mutant] = []
    seen: dict[tuple[int, str], int] = {}
    for index, node in enumerate(ast.walk(tree)):
        if id(node) not in skip:
            line = getattr(node, "lineno", 0)
            for what in _mutations(node):
                # the same change twice on one line (``allow_nan=False, check_circular=False``): the second
                # is told apart as ``#2`` so each can be listed in EQUIVALENT on its own
                seen[line, what] = seen.get((line, what), 0) + 1
                count = seen[line, what]
                mutants.append(Mutant(path, index, line, what if count == 1 else f"{what} #{count}"))
    return mutants


def mutated_tree(mutant: Mutant) -> tuple[ast.Module, int]:
    """The module's AST with ``mutant`` applied, and the index of the top-level statement it is in."""
    tree = ast.parse((ROOT / mutant.path).read_text())
    node = list(ast.walk(tree))[mutant.index]
    what = mutant.what.split(" #")[0]
    statement = next(i for i, stmt in enumerate(tree.body) if any(n is node for n in ast.walk(stmt)))
    if what.startswith("compare["):
        i = int(what[len("compare["):what.index("]")])
        node.ops[i] = _COMPARE_SWAP[type(node.ops[i])]()  # type: ignore[attr-defined]
    elif what.startswith("drop "):
        parent = next(p for p in ast.walk(tree) for c in ast.iter_child_nodes(p) if c is node)
        _replace_child(parent, node, node.operand)  # type: ignore[attr-defined]
    elif what in ("And -> Or", "Or -> And"):
        node.op = ast.Or() if what == "And -> Or" else ast.And()  # type: ignore[attr-defined]
    elif isinstance(node, ast.BinOp | ast.AugAssign):
        node.op = _BINOP_SWAP[type(node.op)]()
    elif isinstance(node, ast.Constant):
        value = node.value
        node.value = (not value) if isinstance(value, bool) else value + 1 if isinstance(value, int | float) else value
    return ast.fix_missing_locations(tree), statement


def _replace_child(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = new
                    return
    raise LookupError("node not found under its parent")


def module_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts[1:]  # drop sdk/ or exporters/
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# --- applying a mutant inside an already-imported module (runs in the forked child) -------------

def _functions(obj: Any) -> list[FunctionType]:
    if isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    if isinstance(obj, property):
        return [f for f in (obj.fget, obj.fset, obj.fdel) if isinstance(f, FunctionType)]
    while hasattr(obj, "__wrapped__") and not isinstance(obj, FunctionType):
        obj = obj.__wrapped__
    return [obj] if isinstance(obj, FunctionType) else []


def _swap(old: Any, new: Any) -> None:
    """Give the old function objects the new code, so every reference to them runs the mutant."""
    for f_old, f_new in zip(_functions(old), _functions(new), strict=False):
        if f_old.__code__.co_freevars != f_new.__code__.co_freevars:
            continue  # generated methods (dataclass __init__ ...) closing over other cells: unchanged anyway
        f_old.__code__ = f_new.__code__
        f_old.__defaults__ = f_new.__defaults__
        f_old.__kwdefaults__ = f_new.__kwdefaults__
    if inspect.isclass(old) and inspect.isclass(new):
        for name, value in vars(new).items():  # dunders too: __post_init__ is ours
            if name in vars(old) and name != "__class__":
                _swap(vars(old)[name], value)
        for name in ("__setattr__", "__delattr__"):  # a dataclass's frozen= comes and goes with these two
            if name in vars(old) and name not in vars(new):
                delattr(old, name)
            elif name in vars(new) and name not in vars(old):
                setattr(old, name, vars(new)[name])


def apply_in_place(mutant: Mutant) -> None:
    module: ModuleType = importlib.import_module(module_name(mutant.path))
    tree, statement = mutated_tree(mutant)
    assigned = {n.id for n in ast.walk(tree.body[statement])
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    before = dict(vars(module))
    exec(compile(tree, str(ROOT / mutant.path), "exec"), vars(module))
    for name, new in list(vars(module).items()):
        if name not in before or before[name] is new:
            continue
        old = before[name]
        if inspect.isfunction(old) or inspect.isclass(old) or _functions(old):
            _swap(old, new)
            vars(module)[name] = old
        elif name not in assigned or isinstance(old, ModuleType):
            vars(module)[name] = old  # a rebuilt object the mutation did not touch: keep identity


# --- running ----------------------------------------------------------------------------------

@dataclass
class Tally:
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    timeout: int = 0
    error: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)

    def rate(self) -> float:
        tested = self.killed + self.timeout + len(self.survived)
        return 1.0 if tested == 0 else (self.killed + self.timeout) / tested


def _run_child(mutant: Mutant | None, tests: list[str], timeout: float, verbose: bool,
               coverage_of: tuple[str, Path] | None = None) -> str:
    """Fork, apply ``mutant``, run pytest; ``killed``, ``survived``, ``timeout`` or ``error``.

    With ``coverage_of=(source, out)`` the (unmutated) run also writes, for each line of ``source``,
    the tests that ran it, as JSON to ``out``.
    """
    pid = os.fork()
    if pid == 0:  # child
        code = 3
        try:
            if not verbose:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
            if mutant is not None:
                apply_in_place(mutant)
            code = _pytest_in_child(tests, coverage_of)
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.02)
    code = os.waitstatus_to_exitcode(status)
    return {0: "survived", 1: "killed", 2: "killed"}.get(code, "error")


def _pytest_in_child(tests: list[str], coverage_of: tuple[str, Path] | None) -> int:
    import pytest

    argv = [*tests, "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts="]
    if coverage_of is None:
        return int(pytest.main(argv))
    import coverage

    source, out = coverage_of
    measure = coverage.Coverage(data_file=None, include=[str(ROOT / source)], config_file=False)
    measure.set_option("run:dynamic_context", "test_function")
    measure.start()
    try:
        code = int(pytest.main(argv))
    finally:
        measure.stop()
    data = measure.get_data()
    by_line = data.contexts_by_lineno(str(ROOT / source))
    out.write_text(json.dumps({str(line): sorted(c for c in found if c) for line, found in by_line.items()}))
    return code


def _node_id(context: str) -> str:
    """``tests.sdk.test_x.TestA.test_b`` (a test_function context) -> ``tests/sdk/test_x.py::TestA::test_b``."""
    parts = context.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if (ROOT / path).exists():
            return "::".join([str(path), *parts[cut:]])
    return context


def tests_by_line(path: str, tests: list[str], verbose: bool) -> dict[int, list[str]]:
    """Run ``tests`` once, unmutated, recording which test functions execute each line of ``path``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lines.json"
        if _run_child(None, tests, 1800, verbose, coverage_of=(path, out)) != "survived":
            raise SystemExit(f"{path}: its tests fail without any mutation; fix them first")
        found = json.loads(out.read_text())
    # only contexts that are tests of ours: hypothesis runs examples in a method named test_function,
    # which coverage records as a context of its own (and pytest cannot select)
    return {int(line): [n for n in map(_node_id, contexts) if ".py" in n] for line, contexts in found.items()}


def changed_lines(ref: str, path: str) -> set[int]:
    diff = subprocess.run(["git", "diff", "-U0", ref, "--", path], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout
    lines: set[int] = set()
    for match in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, re.M):
        start, count = int(match[1]), int(match[2] or 1)
        lines.update(range(start, start + count))
    return lines


def select(mutants: list[Mutant], args: argparse.Namespace) -> list[Mutant]:
    if args.since:
        mutants = [m for m in mutants if m.line in changed_lines(args.since, m.path)]
    if args.at:  # FILE:LINE, the file named by its path's end (``_core.py:35``)
        places = [where.rpartition(":") for where in args.at]
        return [m for m in mutants if any(m.path.endswith(f) and str(m.line) == n for f, _, n in places)]
    if not args.full and not args.since and len(mutants) > args.sample:
        if args.seed is not None:  # a random sample, the same for the same seed
            chosen = set(random.Random(args.seed).sample(range(len(mutants)), args.sample))
            return [m for i, m in enumerate(mutants) if i in chosen]
        step = len(mutants) / args.sample
        mutants = [mutants[int(i * step)] for i in range(args.sample)]
    return mutants


def run_target(label: str, args: argparse.Namespace) -> Tally:
    tally = Tally()
    chosen = select([m for path, _tests in TARGETS[label] for m in enumerate_mutants(path)], args)
    for path, wanted in TARGETS[label]:
        tests = [t for t in wanted if (ROOT / t).exists()]
        mutants = [m for m in chosen if m.path == path]
        if not mutants:
            continue
        _collect(tests)
        started = time.monotonic()
        covering = tests_by_line(path, tests, args.verbose)
        timeout = 10 + 3 * (time.monotonic() - started)
        for mutant in mutants:
            # only the tests that run the mutated line; a line run at import time (module constants,
            # decorator arguments) has no test context, so every test of the module runs
            selected = covering.get(mutant.line) or tests
            _record(tally, mutant, _outcome(mutant, selected, timeout, args), args.progress)
    return tally


def _outcome(mutant: Mutant, tests: list[str], timeout: float, args: argparse.Namespace) -> str:
    return "equivalent" if mutant.key() in EQUIVALENT else _run_child(mutant, tests, timeout, args.verbose)


def _record(tally: Tally, mutant: Mutant, outcome: str, progress: bool) -> None:
    where = f"{mutant.path}:{mutant.line} {mutant.what}"
    if outcome == "killed":
        tally.killed += 1
    elif outcome == "timeout":
        tally.timeout += 1
    elif outcome == "survived":
        tally.survived.append(where)
    elif outcome == "equivalent":
        tally.equivalent.append(where)
    else:
        tally.error.append(where)
    if progress:
        print(f"  {outcome:10} {where}", flush=True)


def _preload() -> None:
    """Import what every child needs once, in the parent, so forking is all a mutant costs."""
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import scipy.stats  # noqa: F401

    for pairs in TARGETS.values():
        for path, _tests in pairs:
            importlib.import_module(module_name(path))


def _collect(tests: list[str]) -> None:
    """Import the test modules in the parent too (pytest reuses them from ``sys.modules``)."""
    import pytest

    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1), os.dup(2)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        pytest.main([*tests, "--collect-only", "-q", "-p", "no:cacheprovider", "-o", "addopts="])
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)


def _warn_stale_equivalents() -> None:
    """An EQUIVALENT entry whose line was rewritten matches nothing any more: say so, to be re-judged."""
    keys = {m.key() for pairs in TARGETS.values() for path, _tests in pairs for m in enumerate_mutants(path)}
    for stale in sorted(set(EQUIVALENT) - keys):
        print(f"warning: EQUIVALENT entry matches no mutant (its line changed?): {stale}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="every mutant (default: a sample per module)")
    parser.add_argument("--sample", type=int, default=25, help="mutants per module in the fast mode (evenly spread)")
    parser.add_argument("--seed", type=int, help="sample at random with this seed instead of evenly spread")
    parser.add_argument("--at", action="append", help="only the mutants of FILE:LINE (repeatable)")
    parser.add_argument("--since", help="only mutants on lines changed since this git ref")
    parser.add_argument("--module", action="append", choices=sorted(TARGETS), help="repeatable; default all")
    parser.add_argument("--json", type=Path, help="write the report here as JSON")
    parser.add_argument("--progress", action="store_true", help="print each mutant's outcome")
    parser.add_argument("--verbose", action="store_true", help="show pytest's output")
    parser.add_argument("--min-rate", type=float, default=0.9, help="exit 1 when a module kills fewer")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    _warn_stale_equivalents()
    _preload()
    report: dict[str, Any] = {}
    ok = True
    for label in args.module or list(TARGETS):
        started = time.monotonic()
        tally = run_target(label, args)
        seconds = time.monotonic() - started
        total = tally.killed + tally.timeout + len(tally.survived)
        print(f"{label:18} {tally.rate():6.1%} killed  ({tally.killed + tally.timeout}/{total}, "
              f"{len(tally.equivalent)} equivalent, {len(tally.error)} not applicable)  {seconds:6.0f} s", flush=True)
        for where in tally.survived:
            print(f"    survived: {where}")
        report[label] = {"killed": tally.killed, "timeout": tally.timeout, "survived": tally.survived,
                         "equivalent": tally.equivalent, "error": tally.error, "rate": tally.rate(),
                         "seconds": round(seconds)}
        ok = ok and tally.rate() >= args.min_rate
    if args.json:
        args.json.write_text(json.dumps(copy.deepcopy(report), indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
