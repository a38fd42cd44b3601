"""Generate kibana/saved_objects, kibana/watches and kibana/rules from the constant modules.

Run from the repository root after changing a dashboard, an alert or a field name::

    .venv/bin/python -m kibana.build

The output is committed (users import it by hand or with ``modelspan elastic setup``);
``tests/kibana/test_build.py`` fails when the committed files differ from what this script writes,
so a renamed attribute in ``modelspan.semconv`` or ``modelspan.findings`` cannot leave a dashboard
reading a field that no longer exists.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kibana import _alerts, _dashboards, _views

HERE = Path(__file__).resolve().parent
SAVED_OBJECTS = "saved_objects/modelspan.ndjson"


def _json(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Relative path under ``kibana/`` -> file content, for every generated file."""
    objects = [*_views.data_views(), *_dashboards.saved_objects()]
    files = {SAVED_OBJECTS: "".join(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n" for obj in objects)}
    files.update({f"watches/{watch_id}.json": _json(body) for watch_id, body in _alerts.watches().items()})
    files.update({f"rules/{rule_id}.json": _json(body) for rule_id, body in _alerts.rules().items()})
    return files


def stale(root: Path = HERE) -> list[str]:
    """Generated files that are missing, differ, or are left over from an older generation."""
    files = render()
    wrong = [path for path, text in files.items()
             if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text]
    for folder, pattern in (("saved_objects", "*.ndjson"), ("watches", "*.json"), ("rules", "*.json")):
        wrong.extend(str(p.relative_to(root)) for p in sorted((root / folder).glob(pattern))
                     if str(p.relative_to(root)) not in files)
    return wrong


def main() -> int:
    files = render()
    for folder in ("saved_objects", "watches", "rules"):
        for old in (HERE / folder).glob("*.*json"):
            if str(old.relative_to(HERE)) not in files:
                old.unlink()
    for path, text in files.items():
        target = HERE / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
