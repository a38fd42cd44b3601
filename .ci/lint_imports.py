"""Check the import contracts of ``[tool.importlinter]`` in pyproject.toml with import-linter.

``modelspan`` is one package in two directories, ``sdk/modelspan`` and ``exporters/modelspan``
(docs/architecture.md, decision 8). import-linter finds a package's files through its import
spec, which names only the directory holding ``__init__.py``; ``modelspan/__init__.py`` adds the
second to ``__path__`` when it runs, not to the spec. So the spec is given both directories
here, and ``modelspan.exporters`` is checked like every other package. Arguments are
``lint-imports``'s own (``--contract ID``, ``--verbose``, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRECTORIES = [str(ROOT / "sdk" / "modelspan"), str(ROOT / "exporters" / "modelspan")]


def main() -> None:
    os.chdir(ROOT)  # lint-imports reads pyproject.toml and finds the kibana package here
    from importlinter.cli import lint_imports_command

    import modelspan

    spec = modelspan.__spec__
    if spec is None or spec.submodule_search_locations is None or not all(map(os.path.isdir, DIRECTORIES)):
        raise SystemExit(f"modelspan is not the package in {DIRECTORIES}: run pip install -e . here")
    spec.submodule_search_locations[:] = DIRECTORIES
    lint_imports_command()


if __name__ == "__main__":
    main()
