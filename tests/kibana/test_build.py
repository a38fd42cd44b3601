"""The committed kibana/ files are exactly what kibana/build.py generates from the constant modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kibana import _alerts, _dashboards, build


def test_committed_files_equal_the_generator_output() -> None:
    assert build.stale() == [], "kibana/ is out of date: run `.venv/bin/python -m kibana.build` and commit"


def test_stale_notices_an_edited_a_missing_and_a_leftover_file(tmp_path: Path) -> None:
    for path, text in build.render().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    assert build.stale(tmp_path) == []
    (tmp_path / "watches" / "modelspan-drift.json").write_text("{}", encoding="utf-8")
    (tmp_path / "rules" / "modelspan-qps-drop.json").unlink()
    (tmp_path / "watches" / "old.json").write_text("{}", encoding="utf-8")
    assert sorted(build.stale(tmp_path)) == ["rules/modelspan-qps-drop.json", "watches/modelspan-drift.json",
                                             "watches/old.json"]


def _render_in_a_new_process(hash_seed: str) -> dict[str, str]:
    """``build.render()`` in a fresh interpreter: another string-hash seed, so another set order."""
    code = "import json, sys; from kibana import build; json.dump(build.render(), sys.stdout)"
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=build.HERE.parent, env=environment)
    return dict(json.loads(result.stdout))


def test_generation_is_deterministic_across_processes() -> None:
    here = build.render()
    assert _render_in_a_new_process("1") == here == _render_in_a_new_process("2024")


def test_readme_documents_every_dashboard_and_alert() -> None:
    readme = (build.HERE / "README.md").read_text(encoding="utf-8")
    for dashboard_id in _dashboards.DASHBOARDS.values():
        assert f"(`{dashboard_id}`)" in readme, dashboard_id
    for alert_id in _alerts.watches():
        assert f"| `{alert_id}` |" in readme, alert_id


def test_generator_spells_no_ml_attribute_or_findings_field_itself() -> None:
    """Names come from modelspan.semconv / modelspan.findings, so a rename there reaches every asset."""
    from modelspan import findings

    shared = {findings.TIMESTAMP, findings.ROUTE}  # OpenTelemetry's own names, spans have them too
    quoted = {f'"{name}"' for name in findings.field_names() - shared} | {'"ml.', "'ml."}
    for source in sorted(build.HERE.glob("*.py")):
        text = source.read_text(encoding="utf-8")
        assert not [q for q in quoted if q in text], source.name
