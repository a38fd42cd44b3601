"""The minimum-versions constraints come from pyproject.toml, and every requirement there has a bound."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tools import deps_matrix

META = {
    "name": "pkg",
    "dependencies": ["a>=1.2"],
    "optional-dependencies": {
        "one": ["pkg[two]", "b>=2,<3"],
        "two": ["c~=3.1", "Same_Name>=1.0"],
        "three": ["d>=1", "same-name>=1.5,<2"],
        "bare": ["e"],
    },
}


def names(reqs: list[Requirement]) -> list[str]:
    return sorted(deps_matrix.canonical(r.name) for r in reqs)


def test_extras_are_followed_through_self_references() -> None:
    assert names(deps_matrix.requirements(META, ["one"])) == ["a", "b", "c", "same-name"]
    assert names(deps_matrix.requirements(META, [])) == ["a"]
    assert names(deps_matrix.requirements(META, [], also=["d"])) == ["a", "d"]


def test_each_requirement_is_pinned_at_its_lower_bound() -> None:
    pins = deps_matrix.constraints(deps_matrix.requirements(META, ["one"]))
    assert pins == {"a": Version("1.2"), "b": Version("2"), "c": Version("3.1"), "same-name": Version("1.0")}


def test_a_name_in_two_extras_takes_the_higher_bound() -> None:
    pins = deps_matrix.constraints(deps_matrix.requirements(META, ["one", "three"]))
    assert pins["same-name"] == Version("1.5")


def test_bounds_that_exclude_each_other_are_an_error() -> None:
    meta = {"name": "pkg", "dependencies": ["a>=2"], "optional-dependencies": {"x": ["a>=1,<2"]}}
    with pytest.raises(SystemExit, match="excludes 2"):
        deps_matrix.constraints(deps_matrix.requirements(meta, ["x"]))


def test_a_requirement_without_a_lower_bound_is_an_error() -> None:
    with pytest.raises(SystemExit, match="e has no lower bound"):
        deps_matrix.constraints(deps_matrix.requirements(META, ["bare"]))


def test_every_requirement_in_pyproject_has_a_lower_bound() -> None:
    meta = deps_matrix.project()
    extras = list(meta["optional-dependencies"])
    pins = deps_matrix.constraints(deps_matrix.requirements(meta, extras))
    assert {"opentelemetry-api", "numpy", "opentelemetry-sdk", "pytest"} <= set(pins)


def test_the_docs_block_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    docs = tmp_path / "testing.md"
    docs.write_text("# Testing\n\n## Mutation\nkept\n")
    deps_matrix.write_docs(docs, "minimum", "first")
    deps_matrix.write_docs(docs, "newest", "other")
    deps_matrix.write_docs(docs, "minimum", "second")
    text = docs.read_text()
    assert text.startswith("# Testing\n\n## Mutation\nkept\n\n## Dependency ranges\n")
    assert "second" in text and "first" not in text and text.count("Dependency ranges") == 1
    assert text.index("second") < text.index("other")


def test_pytests_summary_is_read_and_its_progress_lines_told_apart() -> None:
    log = "$ pytest\n....F.s [ 50%]\n..E.\n= short test summary info =\nFAILED tests/x.py::t\n"
    log += "1 failed, 6 passed, 1 skipped, 1 error in 2.00s\n"
    assert deps_matrix.SUMMARY.findall(log) == ["1 failed, 6 passed, 1 skipped, 1 error in 2.00s"]
    assert deps_matrix.SUMMARY.findall("===== 2 errors in 1.00s =====") == ["2 errors in 1.00s"]
    kept = [line for line in log.splitlines() if not deps_matrix.PROGRESS.match(line)]
    assert kept == ["$ pytest", "= short test summary info =", "FAILED tests/x.py::t", log.splitlines()[-1]]
