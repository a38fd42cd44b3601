"""The instrumentation imports and works with only opentelemetry-api and numpy installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

BLOCKED = ("opentelemetry.sdk", "scipy", "pandas", "elasticsearch", "pyarrow", "urllib3")
# What `import modelspan` may load: the instrumentation and the layers below it
# (docs/architecture.md, the layers); never an exporter, the store or the analyzer.
LIGHT = ("instrumentation", "profiling", "baseline", "elasticsearch", "sqlite",
         "semconv", "findings", "_time", "_version", "_sketch")

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys

    BLOCKED = %r

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"blocked for this test: {name}")
            return None

    sys.meta_path.insert(0, Blocker())

    import numpy as np
    import modelspan
    from modelspan import semconv
    at_import = sorted(m for m in sys.modules if m.startswith("modelspan."))

    @modelspan.monitor(model="m", version="1")
    def predict(row):
        with modelspan.module("step"):
            return [0.5] * len(row) if isinstance(row, np.ndarray) else 0.5  # one output per row of a batch

    assert predict({"x": 1.0, "c": "a"}) == 0.5
    assert predict(np.ones((4, 3))) == [0.5] * 4
    baseline = modelspan.Baseline.from_data({"x": [1.0, 2.0, 3.0]}, model="m", version="1")
    with modelspan.Baseline.capture(model="m", version="1") as cap:
        predict({"x": 2.0})
    modelspan.configure(exporter="none")
    predict({"x": 2.0})
    last = modelspan.last_prediction() is not None
    try:
        modelspan.configure(exporter="console")
        needs_sdk = "no error"
    except ImportError as exc:
        needs_sdk = str(exc)
    try:
        modelspan.configure(service_name="checkout")  # the README's first example: the SQLite store
        default_needs_sdk = "no error"
    except ImportError as exc:
        default_needs_sdk = str(exc)
    modelspan.configure(enabled=False)
    assert predict({"x": 2.0}) == 0.5
    print(json.dumps({
        "loaded": sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED)),
        "paths": cap.baseline.module_paths,
        "last": last,
        "errors": modelspan.monitoring_errors(),
        "needs_sdk": needs_sdk,
        "at_import": at_import,
        "default_needs_sdk": default_needs_sdk,
    }))
    """
)


def test_instrumentation_needs_only_api_and_numpy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT % (BLOCKED,)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["paths"] == {"*": {"step": 1}}
    assert result["last"] is True and result["errors"] == 0
    assert "opentelemetry-sdk" in result["needs_sdk"] and "modelspan[sdk]" in result["needs_sdk"]
    assert "modelspan.instrumentation._monitor" in result["at_import"]
    assert [m for m in result["at_import"] if m.split(".")[1] not in LIGHT] == []
    assert "modelspan[sdk]" in result["default_needs_sdk"]


def test_blocker_really_blocks() -> None:
    probe = "import sys\n" + SCRIPT.split("import numpy")[0] + "\nimport scipy\n"
    done = subprocess.run([sys.executable, "-c", probe % (BLOCKED,)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode != 0 and "blocked for this test: scipy" in done.stderr
