"""docs/architecture.md is the design the code cites: every citation resolves, and the layers it
describes are the ones the import contracts check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
CITING = ("sdk", "exporters", "kibana", "tests", "docs", "benchmarks", ".ci")
SUFFIXES = {".py", ".md", ".json", ".toml", ".yaml", ".yml", ""}


def _sources() -> list[Path]:
    files = [ROOT / "pyproject.toml", ROOT / "README.md"]
    for top in CITING:
        files += [p for p in (ROOT / top).rglob("*") if p.is_file() and p.suffix in SUFFIXES
                  and "node_modules" not in p.parts and ".tsc-" not in str(p) and "__pycache__" not in p.parts]
    return files


def _decisions() -> set[int]:
    return {int(n) for n in re.findall(r"^### (\d+)\. ", ARCHITECTURE.read_text(), re.M)}


def test_decisions_one_to_twelve_are_written_down() -> None:
    assert _decisions() == set(range(1, 13))


def test_no_citation_of_a_design_outside_the_repository() -> None:
    outside = "design" + ".md"  # spelled apart so that this file does not cite it either
    offenders = [str(p.relative_to(ROOT)) for p in _sources() if outside in p.read_text(errors="ignore")]
    assert offenders == []


def test_every_cited_decision_exists() -> None:
    cited: dict[int, list[str]] = {}
    for path in _sources():
        text = re.sub(r"\s+", " ", path.read_text(errors="ignore"))
        for number in re.findall(r"docs/architecture\.md, decisions? (\d+)", text):
            cited.setdefault(int(number), []).append(str(path.relative_to(ROOT)))
    assert len(cited) >= 5, "the code cites the design"
    assert set(cited) <= _decisions(), {n: cited[n] for n in set(cited) - _decisions()}


def test_the_documented_layers_are_the_contracted_ones() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["id"] == "layers")
    text = ARCHITECTURE.read_text()
    for layer in contract["layers"]:
        for name in re.split(r"[|:]", layer):
            name = name.strip().strip("()")
            assert f"`modelspan.{name}`" in text, name
